// Package report builds the page an SRE lead reads at the incident review
// and a release manager at the CAB: one release (or a range of them) as a
// self-contained document, from what the real system says afterwards — the
// release's status as Temporal answers it and the hash-chained audit log —
// never from what a workflow meant to do. It renders HTML (inline CSS and
// SVG, no script, no external URL) and Markdown; the CLI turns the HTML
// into PDF with a headless Chromium.
package report

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// Report is everything one release's page shows.
type Report struct {
	Status workflows.ReleaseStatus
	// Timeline is the release's audit entries in log order: steps,
	// decisions (who, when, through which channel) and notes.
	Timeline []audit.Entry
	// Notes are the retrospective notes attached with `runbook note`.
	Notes []Note
	// Environments holds what each environment's section shows.
	Environments []EnvReport
	// Evidence is the digest, the trust result and the audit hashes.
	Evidence Evidence
	// Generated is when the report was made.
	Generated time.Time
	// Warnings say what could not be read back (e.g. a broken chain), so
	// the page never looks complete when it is not.
	Warnings []string
}

// EnvReport is one environment of the release.
type EnvReport struct {
	Status workflows.EnvironmentStatus
	// Charts are the analysis charts of its traffic step, one per SLO.
	Charts []Chart
	// Decisive is the round that failed or held the analysis, if any.
	Decisive string
	// Rollback is the rollback timeline: the compensations with the times
	// the audit log recorded them.
	Rollback []RollbackEvent
}

// RollbackEvent is one compensation as the audit log recorded it.
type RollbackEvent struct {
	Time    time.Time
	Step    string
	Outcome string
	Detail  string
}

// Evidence is what an auditor checks the release against.
type Evidence struct {
	Digest string
	// Trust is the artifact's signature check as recorded
	// (artifact.signature-verified), empty when there was none.
	Trust []string
	// Hashes are the hashes of the release's audit entries, by seq.
	Hashes []EntryHash
	// Chain is the verification of the whole log and its head hash.
	Chain audit.VerifyResult
	// ChainError is set when the log did not verify.
	ChainError string
}

// EntryHash is one audit entry's place in the chain.
type EntryHash struct {
	Seq    int64
	Action string
	Hash   string
	Signed bool
}

// Build assembles the report of st from the release's audit entries (in
// log order) and the log's verification.
func Build(st workflows.ReleaseStatus, entries []audit.Entry, chain audit.VerifyResult, chainErr error, now time.Time) Report {
	r := Report{Status: st, Timeline: entries, Generated: now.UTC()}
	r.Evidence = Evidence{Digest: st.Digest, Chain: chain}
	if chainErr != nil {
		r.Evidence.ChainError = chainErr.Error()
		r.Warnings = append(r.Warnings, "the audit log did not verify: "+chainErr.Error())
	}
	for _, e := range entries {
		r.Evidence.Hashes = append(r.Evidence.Hashes, EntryHash{Seq: e.Seq, Action: e.Action, Hash: e.Hash, Signed: e.Sig != ""})
		switch e.Action {
		case "artifact.signature-verified":
			r.Evidence.Trust = append(r.Evidence.Trust, strings.TrimSpace(e.Environment+": "+e.Detail))
		case ActionNote:
			r.Notes = append(r.Notes, NoteOf(e))
		}
	}
	for _, env := range st.Environments {
		r.Environments = append(r.Environments, buildEnv(env, entries))
	}
	if len(entries) == 0 {
		r.Warnings = append(r.Warnings, "the audit log has no entries for this release: the timeline is empty")
	}
	return r
}

// buildEnv collects one environment's charts and rollback timeline.
func buildEnv(env workflows.EnvironmentStatus, entries []audit.Entry) EnvReport {
	var mine []audit.Entry
	for _, e := range entries {
		if e.Environment == env.Name {
			mine = append(mine, e)
		}
	}
	er := EnvReport{Status: env}
	if tr := env.Traffic; tr != nil {
		er.Charts = AnalysisCharts(tr, WeightSeries(tr, mine))
		if d := tr.Decisive; d != nil {
			er.Decisive = "round " + strconv.Itoa(d.Round) + ": " + string(d.Verdict)
			if d.Detail != "" {
				er.Decisive += " — " + d.Detail
			}
		}
	}
	for _, e := range mine {
		if e.Action == "rollback.started" || e.Action == "compensation.ran" {
			er.Rollback = append(er.Rollback, RollbackEvent{Time: e.Time, Step: e.Step, Outcome: e.Outcome, Detail: e.Detail})
		}
	}
	return er
}

// Duration is how long the release ran (until now while it runs).
func (r Report) Duration() time.Duration {
	st := r.Status
	end := st.EndedAt
	if end.IsZero() {
		end = r.Generated
	}
	if st.StartedAt.IsZero() {
		return 0
	}
	return end.Sub(st.StartedAt).Round(time.Second)
}

// Origin says who or what started the release and what it rolls back.
func (r Report) Origin() string {
	st := r.Status
	var parts []string
	if st.Trigger != nil {
		parts = append(parts, st.Trigger.Describe())
	}
	if st.Rollback != nil {
		parts = append(parts, st.Rollback.Describe(st.Version))
	}
	if st.BreakGlass != "" {
		parts = append(parts, "BREAK-GLASS: "+st.BreakGlass)
	}
	return strings.Join(parts, "; ")
}

// weightRe reads the weight from a traffic.shifted detail
// ("blue at 30% (weight 3 of 10)").
var weightRe = regexp.MustCompile(` at (\d+)%`)

// WeightSeries is the target slot's traffic weight over time, read from the
// audit log's traffic.shifted records, back to 0 when the traffic reverted.
func WeightSeries(tr *workflows.TrafficStatus, entries []audit.Entry) []Point {
	var pts []Point
	for _, e := range entries {
		if e.Action != "traffic.shifted" {
			continue
		}
		if m := weightRe.FindStringSubmatch(e.Detail); m != nil {
			w, _ := strconv.Atoi(m[1])
			pts = append(pts, Point{T: e.Time, V: float64(w)})
		}
	}
	if !tr.RevertedAt.IsZero() {
		pts = append(pts, Point{T: tr.RevertedAt, V: 0})
	}
	slices.SortStableFunc(pts, func(a, b Point) int { return a.T.Compare(b.T) })
	return pts
}

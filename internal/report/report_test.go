package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/workflows"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

const evil = `<script>alert(1)</script>"&'`

// breachedCanary is a release whose canary breached at round 3: an
// error-ratio check (threshold) and a compare check (two slots).
func breachedCanary() (workflows.ReleaseStatus, []audit.Entry) {
	var rounds []metrics.MeasureResult
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * 2 * time.Second)
		v, verdict := 0.01, metrics.Pass
		if i == 3 {
			v, verdict = 0.9, metrics.Fail
		}
		rounds = append(rounds, metrics.MeasureResult{Round: i, Verdict: verdict, Measurements: []metrics.Measurement{
			{Check: "errors" + evil, Kind: metrics.KindErrorRatio, Verdict: verdict, Value: metrics.Number(v), Limit: 0.05, At: at},
			{Check: "p99", Kind: metrics.KindCompare, Verdict: metrics.Pass, Value: 0.2, Baseline: metrics.Number(math.NaN()), Limit: 0.05, At: at},
		}})
	}
	st := workflows.ReleaseStatus{
		ReleaseID: "release/svc/3.0.0", Service: "svc", Version: "3.0.0", Digest: "sha256:abc", Requester: "alice" + evil,
		State: workflows.StateRolledBack, Reason: "SLO breach", StartedAt: t0, EndedAt: t0.Add(time.Minute),
		Environments: []workflows.EnvironmentStatus{{
			Name: "production", State: workflows.StateRolledBack,
			Steps:         []workflows.StepStatus{{Name: "canary", Kind: "canary", State: workflows.StateFailed, Detail: "SLO breach " + evil}},
			Compensations: []workflows.CompensationStatus{{Step: "canary", Action: "traffic back", State: workflows.StateDone, ReadBack: "blue 100"}},
			Traffic: &workflows.TrafficStatus{Live: "blue", Target: "green", Rounds: rounds, Decisive: &rounds[2],
				RevertedAt: t0.Add(7 * time.Second)},
		}},
	}
	e := func(seq int64, at time.Duration, action, detail string) audit.Entry {
		return audit.Entry{Seq: seq, Time: t0.Add(at), Action: action, Release: st.ReleaseID, Environment: "production",
			Step: "canary", Detail: detail, Actor: "runbook", Hash: strings.Repeat("ab", 32)}
	}
	entries := []audit.Entry{
		e(1, 0, "traffic.shifted", "green at 10% (weight 1 of 3)"),
		e(2, 3*time.Second, "traffic.shifted", "green at 50% (weight 2 of 3)"),
		e(3, 7*time.Second, "traffic.breach", "SLO breach"),
		e(4, 8*time.Second, "compensation.ran", "read back: blue 100"),
	}
	gate := e(5, 9*time.Second, "gate.approved", "")
	gate.Actor, gate.Channel = "bob"+evil, "slack"
	return st, append(entries, gate)
}

func render(t *testing.T, r Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, ReleasePage(r)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestAnalysisChartsPerCheck(t *testing.T) {
	st, entries := breachedCanary()
	r := Build(st, entries, audit.VerifyResult{}, nil, t0.Add(time.Hour))
	charts := r.Environments[0].Charts
	if len(charts) != 2 {
		t.Fatalf("%d charts, want one per check (2)", len(charts))
	}
	errs, p99 := charts[0], charts[1]
	if len(errs.Lines) != 1 || errs.Threshold == nil || *errs.Threshold != 0.05 {
		t.Errorf("error-ratio chart: %d lines, threshold %v; want 1 line (the new slot) and threshold 0.05", len(errs.Lines), errs.Threshold)
	}
	if len(p99.Lines) != 2 || p99.Threshold != nil {
		t.Errorf("compare chart: %d lines, threshold %v; want 2 (both slots) and no threshold", len(p99.Lines), p99.Threshold)
	}
	if len(errs.Marks) != 1 || len(p99.Marks) != 0 {
		t.Errorf("decisive marks: %d on errors, %d on p99; want 1 on the failing check only", len(errs.Marks), len(p99.Marks))
	}
	w := errs.Weight
	if len(w) != 3 || w[0].V != 10 || w[1].V != 50 || w[2].V != 0 {
		t.Errorf("weight series %v, want 10, 50, then 0 at the revert", w)
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	st, entries := breachedCanary()
	note, err := NoteEntry(NoteInput{Release: st.ReleaseID, Text: "incident " + evil, Links: []string{"https://tickets.example/INC-1?a=1&b=<2>"}, Actor: "carol", Time: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	note.Seq = 6
	page := render(t, Build(st, append(entries, note), audit.VerifyResult{Entries: 6, LastSeq: 6, Head: "ff00"}, nil, t0.Add(3*time.Hour)))
	if strings.Contains(page, "<script") || strings.Contains(page, "alert(1)</") {
		t.Errorf("the page has an unescaped script from a value")
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("the escaped value is missing: escaping dropped it instead of showing it")
	}
	for _, bad := range []string{" src=", "<link", "@import", "url(", "<img", "<iframe"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page loads something (%q): it must be self-contained", bad)
		}
	}
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("%d SVG charts, want 2", n)
	}
	if n := strings.Count(page, `<g class="series"`); n != 3 {
		t.Errorf("%d series, want 3 (errors: green; p99: green and blue)", n)
	}
	if n := strings.Count(page, `class="threshold"`); n != 1 {
		t.Errorf("%d threshold lines, want 1", n)
	}
	if !strings.Contains(page, `class="decisive"`) || !strings.Contains(page, "Decisive round 3: fail") {
		t.Errorf("the decisive round is not highlighted")
	}
	if !regexp.MustCompile(`<tr class="decision"><td>[^<]+</td><td>production</td><td>gate.approved</td><td>canary</td><td>bob&lt;script&gt;`).MatchString(page) {
		t.Errorf("the gate decision is not in the timeline with who and channel")
	}
	if !strings.Contains(page, `href="https://tickets.example/INC-1?a=1&amp;b=%3c2%3e"`) {
		t.Errorf("the note's link is missing or not escaped as an attribute:\n%s", page[strings.Index(page, "<h3>Notes"):])
	}
	if !strings.Contains(page, "seq 6 ff00") {
		t.Errorf("the chain head is not in the evidence")
	}
}

func TestMarkdownEscapes(t *testing.T) {
	st, entries := breachedCanary()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, ReleasePage(Build(st, entries, audit.VerifyResult{}, nil, t0))); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>") {
		t.Errorf("markdown has a raw <script>")
	}
	for _, want := range []string{"**errors&lt;script&gt;", "**Decisive round 3: fail", "| Seq | Action | Hash | Signed |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") < 3 {
			t.Errorf("broken table row %q", line)
		}
	}
}

func TestNoteLinksAndRoundTrip(t *testing.T) {
	for _, bad := range []string{"javascript:alert(1)", "data:text/html,x", "ftp://x/y", "/relative", "https://", "https://x/a b"} {
		if _, err := NoteEntry(NoteInput{Release: "r", Text: "x", Links: []string{bad}, Time: t0}); err == nil {
			t.Errorf("link %q accepted", bad)
		}
	}
	if _, err := NoteEntry(NoteInput{Release: "r", Text: "  ", Time: t0}); err == nil {
		t.Errorf("an empty note was accepted")
	}
	in := NoteInput{Release: "release/s/1", Text: "line one\nline two", Links: []string{"https://a.example/1", "http://b.example/2"}, Actor: "dan", Identity: "ssh SHA256:x", Time: t0}
	e, err := NoteEntry(in)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NoteEntry(in)
	if e.ID != again.ID || e.Action != ActionNote || e.Channel != "cli" {
		t.Errorf("entry %+v: want a stable ID, action %s, channel cli", e, ActionNote)
	}
	n := NoteOf(e)
	if n.Text != in.Text || len(n.Links) != 2 || n.Links[1] != in.Links[1] || n.Actor != "dan" || n.Identity != in.Identity {
		t.Errorf("read back %+v, want the note as written", n)
	}
}

func TestDORAWeeklyCharts(t *testing.T) {
	var sts []workflows.ReleaseStatus
	for i := range 3 {
		at := t0.AddDate(0, 0, 7*i+1)
		sts = append(sts, workflows.ReleaseStatus{ReleaseID: "release/s/" + string(rune('a'+i)), Service: "s", State: workflows.StateSucceeded,
			StartedAt: at, EndedAt: at.Add(time.Hour),
			Environments: []workflows.EnvironmentStatus{{Name: "production", State: workflows.StateSucceeded, StartedAt: at, EndedAt: at.Add(time.Hour)}}})
	}
	d := BuildDORA("s", "production", t0, t0.AddDate(0, 0, 21), sts)
	if len(d.Weeks) != 3 || len(d.Charts) != 4 {
		t.Fatalf("%d weeks, %d charts; want 3 and 4", len(d.Weeks), len(d.Charts))
	}
	for _, w := range d.Weeks {
		if w.Deployments != 1 {
			t.Errorf("week of %s: %d deployments, want 1", w.Since, w.Deployments)
		}
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, DORAReportPage(d, t0)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "<svg"); n != 4 {
		t.Errorf("%d charts on the DORA page, want 4", n)
	}
}

// Package statusview renders a release status for people: the table of
// `runbook status`, the one-line changes `runbook watch` prints, and the
// follower that polls a release until it ends.
package statusview

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// Render writes a release's status as a readable table.
func Render(w io.Writer, st workflows.ReleaseStatus) {
	fmt.Fprintf(w, "%s  %s %s  %s", st.ReleaseID, st.Service, st.Version, strings.ToUpper(st.State))
	if st.Reason != "" {
		fmt.Fprintf(w, ": %s", st.Reason)
	}
	fmt.Fprintf(w, "\n  requested by %s · owner %s · %s\n", requester(st), st.Owner, st.Digest)
	if b := st.Build.String(); b != "" {
		fmt.Fprintf(w, "  build: %s\n", b)
	}
	if st.BreakGlass != "" {
		fmt.Fprintf(w, "  BREAK-GLASS: %s\n", st.BreakGlass)
	}
	if r := st.Rollback; r != nil {
		fmt.Fprintf(w, "  %s\n", r.Describe(st.Version))
	}
	if t := st.Trigger; t != nil {
		fmt.Fprintf(w, "  %s\n", t.Describe())
	}
	for _, e := range st.Environments {
		renderEnvironment(w, e)
	}
}

// requester is who asked for the release: as an environment verified it
// (an ID token names its person only to the worker), else the name given.
func requester(st workflows.ReleaseStatus) string {
	for _, e := range st.Environments {
		if r := e.Requester; r != nil && r.Verified() {
			return r.String()
		}
	}
	return st.Requester
}

func renderEnvironment(w io.Writer, e workflows.EnvironmentStatus) {
	line := fmt.Sprintf("\n%s: %s", e.Name, e.State)
	if e.Paused {
		line += " (paused by " + e.PausedBy + ")"
	}
	if e.Reason != "" {
		line += " — " + e.Reason
	}
	fmt.Fprintln(w, line)
	if e.Risk != nil {
		fmt.Fprintf(w, "  risk %s\n", e.Risk)
	}
	if e.BreakGlass != "" {
		fmt.Fprintf(w, "  break-glass: %s\n", e.BreakGlass)
	}
	renderIdentity(w, e)
	width := 0
	for _, s := range e.Steps {
		width = max(width, len(s.Name))
	}
	for _, s := range e.Steps {
		fmt.Fprintf(w, "  %s %-*s  %-15s  %-11s  %s\n", mark(s.State), width, s.Name, s.Kind, s.State, took(s))
		if d := stepDetail(s); d != "" {
			fmt.Fprintf(w, "       %s\n", d)
		}
		renderDecisions(w, s.Gate)
	}
	for _, f := range e.Flags {
		fmt.Fprintf(w, "  flag %s (%s): %s, stage %d of %d; before: %s\n", f.Flag, f.Step, f.Rollout, f.Stage, f.Stages, f.Previous)
		if x := f.Experiment; x != nil {
			fmt.Fprintf(w, "    experiment %s: %s; %s\n", x.Metric, x.Verdict, x.Detail)
		}
	}
	if e.Traffic != nil {
		renderTraffic(w, e.Traffic)
	}
	if len(e.Compensations) > 0 && e.Compensations[0].State != workflows.StateNotNeeded {
		fmt.Fprintln(w, "  rollback plan (runs top to bottom):")
		for i, c := range e.Compensations {
			fmt.Fprintf(w, "    %d. %s: %s [%s]%s\n", i+1, c.Step, c.Action, c.State, suffix(c.Error))
			if c.ReadBack != "" {
				fmt.Fprintf(w, "       read back: %s\n", c.ReadBack)
			}
		}
	}
	renderLeftovers(w, e)
}

// renderIdentity says how decisions are checked and who asked, as verified.
func renderIdentity(w io.Writer, e workflows.EnvironmentStatus) {
	if e.Identity != "" {
		fmt.Fprintf(w, "  decisions: %s\n", e.Identity)
	}
	if r := e.Requester; r != nil && r.Verified() {
		fmt.Fprintf(w, "  requested by %s\n", r)
	}
}

// renderDecisions lists a gate's decisions with how each person was
// verified; runs from before signed decisions have nothing to add.
func renderDecisions(w io.Writer, g *workflows.GateStatus) {
	if g == nil {
		return
	}
	ds := g.Approvals
	if g.Rejection != nil {
		ds = append(ds[:len(ds):len(ds)], *g.Rejection)
	}
	for _, d := range ds {
		if d.Verified == "" {
			continue
		}
		verb := "approved"
		if g.Rejection != nil && d == *g.Rejection {
			verb = "rejected"
		}
		fmt.Fprintf(w, "       %s by %s (%s) at %s\n", verb, d.Actor, d.Verified, d.At.UTC().Format(time.RFC3339))
	}
}

// renderLeftovers lists what a rollback-incomplete environment left, each
// with the command that finishes it.
func renderLeftovers(w io.Writer, e workflows.EnvironmentStatus) {
	if len(e.Leftovers) > 0 {
		fmt.Fprintln(w, "  ROLLBACK INCOMPLETE — left to do by hand:")
		for _, l := range e.Leftovers {
			fmt.Fprintf(w, "    - %s: %s\n      fix: %s\n", l.Step, l.What, l.Fix)
		}
	}
	if e.AuditPending > 0 {
		fmt.Fprintf(w, "  %d audit record(s) not written yet: the audit store refuses them; they are retried until it takes them\n", e.AuditPending)
	}
}

func stepDetail(s workflows.StepStatus) string {
	if s.Error != "" {
		if s.State == workflows.StateWaiting && s.Detail != "" {
			// A step waiting on a failure says what to do next too.
			return "error: " + s.Error + "\n       " + s.Detail
		}
		return "error: " + s.Error
	}
	if g := s.Gate; g != nil && g.State == workflows.StateWaiting {
		who := "anyone but the requester"
		if len(g.Approvers) > 0 {
			who = strings.Join(g.Approvers, ", ")
		}
		txt := fmt.Sprintf("needs %d approval(s) from %s; has %d; deadline %s", g.MinApprovals, who,
			len(g.Approvals), g.Deadline.UTC().Format(time.RFC3339))
		if g.Instructions != "" {
			txt += "\n       " + g.Instructions
		}
		return txt
	}
	return s.Detail
}

func took(s workflows.StepStatus) string {
	if s.StartedAt.IsZero() || s.EndedAt.IsZero() {
		return ""
	}
	return s.EndedAt.Sub(s.StartedAt).Round(time.Millisecond).String()
}

func mark(state string) string {
	switch state {
	case workflows.StateSucceeded, workflows.StateApproved:
		return "[ok]"
	case workflows.StateRunning, workflows.StateWaiting:
		return "[..]"
	case workflows.StatePending, workflows.StateNotReached:
		return "[  ]"
	case workflows.StateCompensated:
		return "[<-]"
	}
	return "[!!]"
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

// Tracker prints one line per change between successive statuses, for logs
// and non-terminal output.
type Tracker struct {
	seen map[string]string
}

// Changes returns the lines describing what changed since the last call.
func (t *Tracker) Changes(st workflows.ReleaseStatus) []string {
	if t.seen == nil {
		t.seen = map[string]string{}
	}
	var out []string
	note := func(key, value, line string) {
		if t.seen[key] != value {
			t.seen[key] = value
			out = append(out, line)
		}
	}
	for _, e := range st.Environments {
		if e.State == workflows.StatePending {
			continue
		}
		if e.State == workflows.StateRunning {
			note("env/"+e.Name, e.State+fmt.Sprint(e.Paused), fmt.Sprintf("%s: %s", e.Name, pausedWord(e)))
		}
		for _, s := range e.Steps {
			if s.State == workflows.StatePending {
				continue
			}
			note("step/"+e.Name+"/"+s.Name, s.State+stepDetail(s), fmt.Sprintf("%s/%s: %s%s", e.Name, s.Name, s.State, detailSuffix(s)))
		}
		if tr := e.Traffic; tr != nil {
			for _, r := range tr.Rounds {
				note(fmt.Sprintf("round/%s/%d", e.Name, r.Round), string(r.Verdict), fmt.Sprintf("%s analysis %s", e.Name, RoundLine(r)))
			}
			if tr.Hold != "" {
				note("hold/"+e.Name, tr.Hold, fmt.Sprintf("%s: HELD — %s", e.Name, tr.Hold))
			}
			if !tr.RevertedAt.IsZero() {
				note("revert/"+e.Name, tr.RevertedAt.String(), fmt.Sprintf("%s: all traffic back on %s", e.Name, tr.Live))
			}
			note("weights/"+e.Name, weights(tr), fmt.Sprintf("%s traffic: %s", e.Name, weights(tr)))
		}
		for _, c := range e.Compensations {
			if c.State == workflows.StatePending || c.State == workflows.StateNotNeeded {
				continue // only a rollback that runs is news
			}
			line := fmt.Sprintf("%s/%s rollback: %s %s%s", e.Name, c.Step, c.Action, c.State, suffix(c.Error))
			if c.ReadBack != "" {
				line += " (read back: " + c.ReadBack + ")"
			}
			note("comp/"+e.Name+"/"+c.Step, c.State, line)
		}
		for _, l := range e.Leftovers {
			note("left/"+e.Name+"/"+l.Step, l.What, fmt.Sprintf("%s/%s LEFT: %s — fix: %s", e.Name, l.Step, l.What, l.Fix))
		}
		note("env/"+e.Name, e.State+fmt.Sprint(e.Paused), fmt.Sprintf("%s: %s%s", e.Name, pausedWord(e), reasonSuffix(e.Reason)))
	}
	note("release", st.State, fmt.Sprintf("release %s: %s%s", st.ReleaseID, st.State, reasonSuffix(st.Reason)))
	return out
}

func pausedWord(e workflows.EnvironmentStatus) string {
	if e.Paused {
		return e.State + " (paused by " + e.PausedBy + ")"
	}
	return e.State
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " — " + r
}

func detailSuffix(s workflows.StepStatus) string {
	if d := stepDetail(s); d != "" {
		return " — " + strings.ReplaceAll(d, "\n       ", " ")
	}
	return ""
}

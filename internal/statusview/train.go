package statusview

import (
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// RenderTrain is the text of `runbook train status`: the train, then each
// environment with its hold, train gates, services in dependency order
// and the rollbacks the train started.
func RenderTrain(st workflows.TrainStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s", st.TrainID, st.State)
	if st.Reason != "" {
		fmt.Fprintf(&b, ": %s", st.Reason)
	}
	fmt.Fprintf(&b, "\n  requested by %s · rollback-scope %s · started %s", st.Requester, st.Scope, st.StartedAt.UTC().Format(time.RFC3339))
	if st.Finished() {
		fmt.Fprintf(&b, " · took %s", st.EndedAt.Sub(st.StartedAt).Round(time.Second))
	}
	b.WriteString("\n")
	if st.Abort != nil {
		fmt.Fprintf(&b, "  aborted by %s: %s\n", st.Abort.Actor, st.Abort.Comment)
	}
	for _, e := range st.Environments {
		fmt.Fprintf(&b, "\n%s: %s\n", e.Name, e.State)
		if e.Hold != "" {
			fmt.Fprintf(&b, "  held: %s\n", e.Hold)
		}
		for _, g := range e.Gates {
			fmt.Fprintf(&b, "  train gate %s: %s%s\n", g.Name, g.State, gateWho(g))
		}
		width := 0
		for _, c := range e.Cells {
			width = max(width, len(c.Service))
		}
		for _, c := range e.Cells {
			after := ""
			if len(c.After) > 0 {
				after = " after " + strings.Join(c.After, ", ")
			}
			line := c.State
			if c.Reason != "" {
				line += ": " + c.Reason
			}
			fmt.Fprintf(&b, "  %s %-*s %s%s  %s\n", cellMark(c.State), width, c.Service, c.Version, after, line)
			if c.State != workflows.StatePending && c.State != workflows.StateNotReached {
				fmt.Fprintf(&b, "      %s\n", c.ReleaseID)
			}
		}
		for _, r := range e.Rollbacks {
			fmt.Fprintf(&b, "  rollback %s → %s: %s — %s %s\n", r.Service, r.To, r.State, r.Why, r.ReleaseID)
		}
	}
	return b.String()
}

// gateWho says who decided a train gate.
func gateWho(g *workflows.GateStatus) string {
	switch {
	case g.Rejection != nil:
		return " by " + g.Rejection.Actor + ": " + g.Rejection.Comment
	case len(g.Approvals) > 0:
		names := make([]string, len(g.Approvals))
		for i, d := range g.Approvals {
			names[i] = d.Actor
		}
		return fmt.Sprintf(" by %s (%d/%d)", strings.Join(names, ", "), len(g.Approvals), g.MinApprovals)
	case g.State == workflows.StateWaiting:
		return fmt.Sprintf(" (0/%d; approvers %s)", g.MinApprovals, strings.Join(g.Approvers, ", "))
	}
	return ""
}

// cellMark is one character for a service's state.
func cellMark(state string) string {
	switch state {
	case workflows.StateSucceeded:
		return "✓"
	case workflows.StateRunning, workflows.StateWaiting:
		return "▶"
	case workflows.StatePending:
		return "·"
	case workflows.StateNotReached:
		return "-"
	case workflows.StateRolledBack:
		return "↩"
	}
	return "✗"
}

package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// publish refreshes what the Web UI shows: the train's DAG per
// environment as the current details, and RunbookStatus.
func (t *train) publish(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, t.details())
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStatus.ValueSet(t.status.State)); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}

// details is the train as Markdown: one table per environment, one row
// per service with what it comes after and its release.
func (t *train) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Train %s %s** — %s", t.in.Train, t.in.Name, t.status.State)
	if t.status.Reason != "" {
		fmt.Fprintf(&b, ": %s", t.status.Reason)
	}
	fmt.Fprintf(&b, " (rollback-scope %s)\n", t.in.Scope)
	for _, te := range t.status.Environments {
		fmt.Fprintf(&b, "\n**%s** — %s", te.Name, te.State)
		if te.Hold != "" {
			fmt.Fprintf(&b, " — held: %s", te.Hold)
		}
		b.WriteString("\n")
		for _, g := range te.Gates {
			fmt.Fprintf(&b, "- train gate %s: %s (%d/%d approvals)\n", g.Name, g.State, len(g.Approvals), g.MinApprovals)
		}
		b.WriteString("\n| service | version | after | state | release |\n|---|---|---|---|---|\n")
		for _, c := range te.Cells {
			state := c.State
			if c.Reason != "" {
				state += ": " + c.Reason
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | `%s` |\n", c.Service, c.Version, strings.Join(c.After, ", "), mdCell(state), c.ReleaseID)
		}
		for _, r := range te.Rollbacks {
			fmt.Fprintf(&b, "- rollback of %s → %s: %s (%s) `%s`\n", r.Service, r.To, r.State, r.Why, r.ReleaseID)
		}
	}
	return b.String()
}

// mdCell keeps a table cell on one line.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

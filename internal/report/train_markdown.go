package report

import (
	"fmt"
	"strings"
	"time"
)

// writeTrainMarkdown writes the train: the header, each environment's
// holds, gate decisions, services (with their reports) and rollbacks, the
// services' times as a table, and the train's audit records.
func writeTrainMarkdown(b *strings.Builder, r TrainReport) {
	st := r.Status
	fmt.Fprintf(b, "## Train %s %s\n\n", md(st.Train), md(st.Name))
	envs := make([]string, len(st.Environments))
	for i, e := range st.Environments {
		envs[i] = e.Name
	}
	fmt.Fprintf(b, "- Train: %s\n- State: **%s**\n- Requester: %s\n- Rollback scope: %s\n- Environments: %s\n- Started: %s, ended: %s, duration %s\n",
		md(st.TrainID), md(outcome(st.State, st.Reason)), md(st.Requester), md(st.Scope), md(strings.Join(envs, " → ")),
		when(st.StartedAt), when(st.EndedAt), r.Duration())
	if a := st.Abort; a != nil {
		fmt.Fprintf(b, "- Aborted by %s at %s: %s\n", md(a.Actor), when(a.At), md(a.Comment))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(b, "- ⚠ %s\n", md(w))
	}
	for _, e := range r.Environments {
		writeTrainEnvMarkdown(b, r, e)
	}
	writeGanttMarkdown(b, r.Gantt)
	b.WriteString("\n### Timeline\n\n| When | Environment | Event | Gate | Who | Channel | Outcome | Detail |\n|---|---|---|---|---|---|---|---|\n")
	for _, e := range r.Timeline {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", when(e.Time), md(e.Environment), md(e.Action), md(e.Step),
			md(strings.TrimSpace(e.Actor+" "+e.Identity)), md(e.Channel), md(e.Outcome), md(e.Detail))
	}
	b.WriteString("\n### Evidence\n\n")
	if r.ChainError != "" {
		fmt.Fprintf(b, "- Audit log: **chain broken**: %s\n", md(r.ChainError))
	} else {
		fmt.Fprintf(b, "- Audit log: %s\n", md(r.Chain.Summary()))
	}
	fmt.Fprintf(b, "- Chain head: seq %d `%s`\n\n", r.Chain.LastSeq, r.Chain.Head)
}

func writeTrainEnvMarkdown(b *strings.Builder, r TrainReport, e TrainEnvReport) {
	env := e.Env
	fmt.Fprintf(b, "\n### Environment %s: %s\n\n", md(env.Name), md(env.State))
	if env.Hold != "" {
		fmt.Fprintf(b, "Held: %s\n\n", md(env.Hold))
	}
	if len(e.Holds) > 0 {
		b.WriteString("**Hold history**\n\n| When | Event | Detail |\n|---|---|---|\n")
		for _, h := range e.Holds {
			fmt.Fprintf(b, "| %s | %s | %s |\n", when(h.Time), md(h.Action), md(h.Detail))
		}
		b.WriteString("\n")
	}
	for _, g := range env.Gates {
		fmt.Fprintf(b, "**Train gate %s**: %s, %d of %d approvals (approvers %s)\n\n", md(g.Name), md(g.State), len(g.Approvals), g.MinApprovals, md(strings.Join(g.Approvers, ", ")))
	}
	if len(e.Decisions) > 0 {
		b.WriteString("| Gate | Decision | Who | When | How verified | Channel | Comment |\n|---|---|---|---|---|---|---|\n")
		for _, d := range e.Decisions {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", md(d.Gate), md(d.Decision), md(d.Actor), when(d.At), md(d.Verified), md(d.Channel), md(d.Comment))
		}
		b.WriteString("\n")
	}
	b.WriteString("| Service | Version | After | State | Started | Ended | Took | Release |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range env.Cells {
		l := cellLink(&r, c)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", md(c.Service), md(c.Version), md(strings.Join(c.After, ", ")),
			md(outcome(c.State, c.Reason)), when(c.StartedAt), when(c.EndedAt), span(c.StartedAt, c.EndedAt), mdLink(l))
	}
	if len(env.Rollbacks) > 0 {
		b.WriteString("\n**Rollbacks**\n\n| Service | To | State | Why | Release |\n|---|---|---|---|---|\n")
		for _, rb := range env.Rollbacks {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", md(rb.Service), md(rb.To), md(rb.State), md(rb.Why), mdLink(releaseLink{ID: rb.ReleaseID, Href: r.ReleaseLink(rb.ReleaseID)}))
		}
	}
}

// mdLink is a release ID linked to its report, or with the command that
// renders it.
func mdLink(l releaseLink) string {
	switch {
	case l.ID == "":
		return ""
	case l.Href != "":
		return "[" + md(l.ID) + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(l.Href) + ")"
	}
	return md(l.ID) + " (`runbook report " + strings.ReplaceAll(l.ID, "`", "") + "`)"
}

// writeGanttMarkdown writes the bars as offsets from the train's start.
func writeGanttMarkdown(b *strings.Builder, g Gantt) {
	fmt.Fprintf(b, "\n### Services over time\n\nFrom %s.\n\n| Environment | Service | From | To | State | Rolled back |\n|---|---|---|---|---|---|\n", when(g.T0))
	for _, r := range g.Rows {
		to := "+" + r.End.Sub(g.T0).Round(time.Second).String()
		if r.Open {
			to = "(running)"
		}
		var rbs []string
		for _, t := range r.Rollbacks {
			rbs = append(rbs, "+"+t.Sub(g.T0).Round(time.Second).String())
		}
		fmt.Fprintf(b, "| %s | %s | +%s | %s | %s | %s |\n", md(r.Environment), md(r.Label), r.Start.Sub(g.T0).Round(time.Second), to, md(r.State), strings.Join(rbs, ", "))
	}
}

package report

import (
	"fmt"
	"io"
	"strings"
)

// mdEscaper escapes what Markdown (and the HTML it may contain) would
// interpret: a value from a runbook or a person stays text.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`,
	"<", "&lt;", ">", "&gt;", "#", `\#`, "\r", " ", "\n", " ",
)

func md(s string) string { return mdEscaper.Replace(s) }

// WriteMarkdown renders p as Markdown for a wiki page or a ticket. The
// charts become tables of the same values.
func WriteMarkdown(w io.Writer, p Page) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# %s\n\n%s\n\n", md(p.Title), md(p.Subtitle))
	if p.Range {
		b.WriteString("| Release | Version | Requester | Started | Duration | Outcome |\n|---|---|---|---|---|---|\n")
		for _, r := range p.Releases {
			st := r.Status
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", md(st.ReleaseID), md(st.Version), md(st.Requester), when(st.StartedAt), r.Duration(), md(outcome(st.State, st.Reason)))
		}
		b.WriteString("\n")
	}
	if d := p.DORA; d != nil {
		writeDORAMarkdown(b, *d)
	}
	if p.Train != nil {
		writeTrainMarkdown(b, *p.Train)
	}
	for _, r := range p.Releases {
		writeReleaseMarkdown(b, r)
	}
	fmt.Fprintf(b, "_Generated %s by runbook from the release status in Temporal and the hash-chained audit log._\n", when(p.Generated))
	_, err := io.WriteString(w, b.String())
	return err
}

func outcome(state, reason string) string {
	if reason == "" {
		return state
	}
	return state + ": " + reason
}

func writeReleaseMarkdown(b *strings.Builder, r Report) {
	st := r.Status
	fmt.Fprintf(b, "## %s %s\n\n", md(st.Service), md(st.Version))
	fmt.Fprintf(b, "- Release: %s\n- State: **%s**\n- Digest: %s\n- Requester: %s\n- Started: %s, ended: %s, duration %s\n",
		md(st.ReleaseID), md(outcome(st.State, st.Reason)), md(st.Digest), md(st.Requester), when(st.StartedAt), when(st.EndedAt), r.Duration())
	if o := r.Origin(); o != "" {
		fmt.Fprintf(b, "- Origin: %s\n", md(o))
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(b, "- ⚠ %s\n", md(w))
	}
	b.WriteString("\n### Timeline\n\n| When | Environment | Event | Step | Who | Channel | Outcome | Detail |\n|---|---|---|---|---|---|---|---|\n")
	for _, e := range r.Timeline {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", when(e.Time), md(e.Environment), md(e.Action), md(e.Step),
			md(strings.TrimSpace(e.Actor+" "+e.Identity)), md(e.Channel), md(e.Outcome), md(e.Detail))
	}
	for _, env := range r.Environments {
		writeEnvMarkdown(b, env)
	}
	b.WriteString("\n### Notes\n\n")
	if len(r.Notes) == 0 {
		b.WriteString("No notes.\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "- **%s**, %s: %s\n", md(n.Actor), when(n.Time), md(n.Text))
		for _, l := range n.Links {
			fmt.Fprintf(b, "  - <%s>\n", strings.NewReplacer("<", "%3C", ">", "%3E").Replace(l))
		}
	}
	ev := r.Evidence
	fmt.Fprintf(b, "\n### Evidence\n\n- Artifact digest: `%s`\n", strings.ReplaceAll(ev.Digest, "`", ""))
	for _, t := range ev.Trust {
		fmt.Fprintf(b, "- Signature: %s\n", md(t))
	}
	if ev.ChainError != "" {
		fmt.Fprintf(b, "- Audit log: **chain broken**: %s\n", md(ev.ChainError))
	} else {
		fmt.Fprintf(b, "- Audit log: %s\n", md(ev.Chain.Summary()))
	}
	fmt.Fprintf(b, "- Chain head: seq %d `%s`\n\n| Seq | Action | Hash | Signed |\n|---|---|---|---|\n", ev.Chain.LastSeq, ev.Chain.Head)
	for _, h := range ev.Hashes {
		fmt.Fprintf(b, "| %d | %s | `%s` | %t |\n", h.Seq, md(h.Action), h.Hash, h.Signed)
	}
	b.WriteString("\n")
}

func writeEnvMarkdown(b *strings.Builder, env EnvReport) {
	s := env.Status
	fmt.Fprintf(b, "\n### Environment %s: %s\n\n| Step | Kind | State | Started | Ended | Detail |\n|---|---|---|---|---|---|\n", md(s.Name), md(outcome(s.State, s.Reason)))
	for _, st := range s.Steps {
		detail := st.Detail
		if st.Error != "" {
			detail += " error: " + st.Error
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", md(st.Name), md(st.Kind), md(st.State), when(st.StartedAt), when(st.EndedAt), md(detail))
	}
	if env.Decisive != "" {
		fmt.Fprintf(b, "\n**Decisive %s**\n", md(env.Decisive))
	}
	for _, c := range env.Charts {
		writeChartMarkdown(b, c)
	}
	if len(s.Compensations) > 0 {
		b.WriteString("\n**Rollback**\n\n| Step | Action | State | Read back |\n|---|---|---|---|\n")
		for _, c := range s.Compensations {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", md(c.Step), md(c.Action), md(c.State), md(strings.TrimSpace(c.ReadBack+" "+c.Error)))
		}
	}
	for _, e := range env.Rollback {
		fmt.Fprintf(b, "- %s %s %s: %s\n", when(e.Time), md(e.Step), md(e.Outcome), md(e.Detail))
	}
}

// writeChartMarkdown writes a chart's values as a table: one row per
// point in time, one column per line.
func writeChartMarkdown(b *strings.Builder, c Chart) {
	fmt.Fprintf(b, "\n**%s**", md(c.Title))
	if c.Threshold != nil {
		fmt.Fprintf(b, " (threshold %s)", num(*c.Threshold))
	}
	b.WriteString("\n\n| Time |")
	for _, s := range c.Lines {
		fmt.Fprintf(b, " %s |", md(s.Name))
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(c.Lines)) + "\n")
	if len(c.Lines) == 0 {
		return
	}
	for i, p := range c.Lines[0].Points {
		fmt.Fprintf(b, "| %s |", p.T.UTC().Format("2006-01-02 15:04:05"))
		for _, s := range c.Lines {
			v := "—"
			if i < len(s.Points) && finite(s.Points[i].V) {
				v = num(s.Points[i].V)
			}
			fmt.Fprintf(b, " %s |", v)
		}
		b.WriteString("\n")
	}
}

func writeDORAMarkdown(b *strings.Builder, d DORAPage) {
	t := d.Total
	fmt.Fprintf(b, "## DORA metrics: %s %s\n\nOverall: %d deployments (%.2f a day), lead time %s, change failure rate %.0f%%, time to restore %s.\n\n",
		md(d.Service), md(d.Environment), t.Deployments, t.PerDay, t.LeadTime, d.FailurePercent(), t.TimeToRestore)
	b.WriteString("| Week | Deployments | Lead time | Failures | Change failure rate | Time to restore |\n|---|---|---|---|---|---|\n")
	for _, w := range d.Weeks {
		fmt.Fprintf(b, "| %s | %d | %s | %d | %.0f%% | %s |\n", w.Since.UTC().Format("2006-01-02"), w.Deployments, w.LeadTime, w.Failures, 100*w.ChangeFailureRate, w.TimeToRestore)
	}
	b.WriteString("\n")
}

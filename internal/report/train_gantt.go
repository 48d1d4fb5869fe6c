package report

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// Gantt is the train's services on one time axis: a bar per cell from
// its start to its end (to now while it runs), the train gates' waits,
// and a mark where the train rolled a service back.
type Gantt struct {
	T0, T1 time.Time
	Rows   []GanttRow
}

// GanttRow is one bar.
type GanttRow struct {
	Environment string
	// Label is the service, or "gate NAME" for a train gate's wait.
	Label      string
	Start, End time.Time
	// Open is set when the bar runs on (no end yet).
	Open  bool
	State string
	Gate  bool
	// Rollbacks are when the train recorded a rollback of this service.
	Rollbacks []time.Time
}

// Gantt geometry, in SVG user units.
const (
	ganttW      = 720
	ganttLabelW = 210
	ganttRowH   = 22
	ganttTop    = 24
	ganttAxisH  = 22
)

// BuildGantt collects the bars: per environment, its gates' waits (from
// train.gate.waiting to the decision), then its cells in train order.
func BuildGantt(st workflows.TrainStatus, entries []audit.Entry, now time.Time) Gantt {
	g := Gantt{T0: st.StartedAt, T1: st.EndedAt}
	if g.T1.IsZero() {
		g.T1 = now
	}
	for _, env := range st.Environments {
		g.Rows = append(g.Rows, gateRows(env, entries)...)
		for _, c := range env.Cells {
			if c.StartedAt.IsZero() {
				continue
			}
			row := GanttRow{Environment: env.Name, Label: c.Service, Start: c.StartedAt, End: c.EndedAt, State: c.State}
			if row.End.IsZero() {
				row.End, row.Open = g.T1, true
			}
			row.Rollbacks = rollbackTimes(entries, env.Name, c.Service)
			g.Rows = append(g.Rows, row)
		}
	}
	for _, r := range g.Rows {
		g.T0, g.T1 = widenStart(g.T0, r.Start), widenEnd(g.T1, r.End)
		for _, t := range r.Rollbacks {
			g.T1 = widenEnd(g.T1, t)
		}
	}
	if !g.T1.After(g.T0) {
		g.T1 = g.T0.Add(time.Second)
	}
	return g
}

func widenStart(t0, t time.Time) time.Time {
	if !t.IsZero() && (t0.IsZero() || t.Before(t0)) {
		return t
	}
	return t0
}

func widenEnd(t1, t time.Time) time.Time {
	if t.After(t1) {
		return t
	}
	return t1
}

// gateRows are the waits of env's train gates as the audit log has them.
func gateRows(env workflows.TrainEnvironment, entries []audit.Entry) []GanttRow {
	var rows []GanttRow
	for _, g := range env.Gates {
		row := GanttRow{Environment: env.Name, Label: "gate " + g.Name, State: g.State, Gate: true}
		for _, e := range entries {
			if e.Environment != env.Name {
				continue
			}
			switch {
			case e.Action == "train.gate.waiting" && strings.HasPrefix(e.Detail, g.Name+":") && row.Start.IsZero():
				row.Start = e.Time
			case (e.Action == "train.gate.approved" || e.Action == "train.gate.rejected") && e.Step == g.Name:
				row.End = e.Time
			}
		}
		if row.Start.IsZero() {
			continue
		}
		if row.End.IsZero() || g.State == workflows.StateWaiting {
			row.End, row.Open = time.Time{}, true
		}
		rows = append(rows, row)
	}
	return rows
}

// rollbackTimes are the times of the train.rollback records of service
// in env (their detail starts "service: ").
func rollbackTimes(entries []audit.Entry, env, service string) []time.Time {
	var ts []time.Time
	for _, e := range entries {
		if e.Action == "train.rollback" && e.Environment == env && strings.HasPrefix(e.Detail, service+": ") {
			ts = append(ts, e.Time)
		}
	}
	return ts
}

// Height is the SVG's height.
func (g Gantt) Height() int { return ganttTop + len(g.Rows)*ganttRowH + ganttAxisH }

func (g Gantt) x(t time.Time) float64 {
	span := float64(ganttW - ganttLabelW - padR)
	return float64(ganttLabelW) + span*float64(t.Sub(g.T0))/float64(g.T1.Sub(g.T0))
}

// SVG renders the bars on the shared axis. Every text is escaped.
func (g Gantt) SVG() template.HTML {
	h := g.Height()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="services over time">`,
		ganttW, h, ganttW, h)
	fmt.Fprintf(&b, `<text x="0" y="16" class="title">Services over time (from %s)</text>`, esc(g.T0.UTC().Format("2006-01-02 15:04:05Z")))
	for i, r := range g.Rows {
		g.row(&b, i, r)
	}
	axisY := ganttTop + len(g.Rows)*ganttRowH
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, ganttLabelW, axisY, ganttW-padR, axisY)
	for k := 0; k <= 4; k++ {
		t := g.T0.Add(g.T1.Sub(g.T0) * time.Duration(k) / 4)
		anchor := [...]string{"start", "middle", "middle", "middle", "end"}[k]
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#eee"/>`, f(g.x(t)), ganttTop, f(g.x(t)), axisY)
		fmt.Fprintf(&b, `<text x="%s" y="%d" class="small" text-anchor="%s">+%s</text>`, f(g.x(t)), axisY+14, anchor, t.Sub(g.T0).Round(time.Second))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here with every text escaped
}

// row draws one bar with its label and rollback marks.
func (g Gantt) row(b *strings.Builder, i int, r GanttRow) {
	y := ganttTop + i*ganttRowH
	end := r.End
	if r.Open {
		end = g.T1
	}
	x0, x1 := g.x(r.Start), g.x(end)
	fill, stroke := stateColors(r.State)
	if r.Gate {
		fill, stroke = "#fff8e1", "#b08800"
	}
	fmt.Fprintf(b, `<g class="bar" data-row="%s/%s" data-state="%s">`, esc(r.Environment), esc(r.Label), esc(r.State))
	fmt.Fprintf(b, `<text x="0" y="%d" class="small">%s</text>`, y+15, esc(clipRunes(r.Environment+" · "+r.Label, 34)))
	fmt.Fprintf(b, `<rect x="%s" y="%d" width="%s" height="%d" rx="3" fill="%s" stroke="%s"><title>%s %s: %s, %s to %s</title></rect>`,
		f(x0), y+4, f(max(x1-x0, 2)), ganttRowH-8, fill, stroke, esc(r.Environment), esc(r.Label), esc(r.State),
		when(r.Start), openEnd(r))
	for _, t := range r.Rollbacks {
		x := g.x(t)
		fmt.Fprintf(b, `<path class="rollback-mark" d="M%s,%d l-5,-4 h10 z M%s,%d v%d" fill="#c62828" stroke="#c62828"><title>rolled back %s</title></path>`,
			f(x), y+4, f(x), y+4, ganttRowH-8, when(t))
	}
	b.WriteString(`</g>`)
}

func openEnd(r GanttRow) string {
	if r.Open {
		return "now (still " + r.State + ")"
	}
	return when(r.End)
}

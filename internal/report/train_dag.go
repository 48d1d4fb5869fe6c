package report

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/runbookhq/runbook/workflows"
)

// DAG is one environment's services laid out by dependency: a service's
// column is one more than the column of the furthest service it comes
// after, so every arrow points right.
type DAG struct {
	Nodes []DAGNode
	Edges []DAGEdge
}

// DAGNode is one service (one train cell) in the diagram.
type DAGNode struct {
	Cell     workflows.TrainCell
	Col, Row int
}

// DAGEdge goes from the service that must finish first to the one after it.
type DAGEdge struct{ From, To int }

// DAG geometry, in SVG user units.
const (
	dagBoxW, dagBoxH = 190, 54
	dagColGap        = 56
	dagRowGap        = 18
	dagPad           = 12
)

// BuildDAG places cells in columns by their after: within the environment
// (a service the train does not release here is no edge).
func BuildDAG(cells []workflows.TrainCell) DAG {
	idx := map[string]int{}
	for i, c := range cells {
		idx[c.Service] = i
	}
	col := make([]int, len(cells))
	// Longest path by relaxation: at most len(cells) rounds on a DAG (the
	// train file's check refuses cycles; the bound keeps a bad input finite).
	for range cells {
		changed := false
		for i, c := range cells {
			for _, a := range c.After {
				if j, ok := idx[a]; ok && col[j]+1 > col[i] {
					col[i], changed = col[j]+1, true
				}
			}
		}
		if !changed {
			break
		}
	}
	var d DAG
	rows := map[int]int{}
	for i, c := range cells {
		d.Nodes = append(d.Nodes, DAGNode{Cell: c, Col: col[i], Row: rows[col[i]]})
		rows[col[i]]++
		for _, a := range c.After {
			if j, ok := idx[a]; ok {
				d.Edges = append(d.Edges, DAGEdge{From: j, To: i})
			}
		}
	}
	return d
}

// Size is the SVG's width and height.
func (d DAG) Size() (int, int) {
	cols, rows := 0, 0
	for _, n := range d.Nodes {
		cols, rows = max(cols, n.Col+1), max(rows, n.Row+1)
	}
	return 2*dagPad + cols*dagBoxW + max(cols-1, 0)*dagColGap, 2*dagPad + rows*dagBoxH + max(rows-1, 0)*dagRowGap
}

func (n DAGNode) xy() (int, int) {
	return dagPad + n.Col*(dagBoxW+dagColGap), dagPad + n.Row*(dagBoxH+dagRowGap)
}

// SVG renders the diagram: one box per service with its version and
// state, arrows for after:, and each box linking to its release's report
// when link gives an address. Every text is escaped.
func (d DAG) SVG(env string, link func(string) string) template.HTML {
	w, h := d.Size()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="services of %s by dependency">`,
		w, h, w, h, esc(env))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>`)
	for _, e := range d.Edges {
		fx, fy := d.Nodes[e.From].xy()
		tx, ty := d.Nodes[e.To].xy()
		x1, y1, x2, y2 := fx+dagBoxW, fy+dagBoxH/2, tx, ty+dagBoxH/2
		mx := (x1 + x2) / 2
		fmt.Fprintf(&b, `<path class="edge" d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#666" stroke-width="1.5" marker-end="url(#arrow)"/>`,
			x1, y1, mx, y1, mx, y2, x2, y2)
	}
	for _, n := range d.Nodes {
		d.node(&b, n, link)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here with every text escaped
}

// node draws one service's box, inside a link to its report if any.
func (d DAG) node(b *strings.Builder, n DAGNode, link func(string) string) {
	x, y := n.xy()
	c := n.Cell
	href := ""
	if link != nil && c.State != workflows.StatePending && c.State != workflows.StateNotReached {
		href = link(c.ReleaseID)
	}
	if href != "" {
		fmt.Fprintf(b, `<a href="%s">`, esc(href))
	}
	fill, stroke := stateColors(c.State)
	fmt.Fprintf(b, `<g class="cell" data-service="%s" data-state="%s"><title>%s</title>`, esc(c.Service), esc(c.State), esc(c.ReleaseID+": "+outcome(c.State, c.Reason)))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="1.5"/>`, x, y, dagBoxW, dagBoxH, fill, stroke)
	fmt.Fprintf(b, `<text x="%d" y="%d" class="title">%s</text>`, x+8, y+20, esc(clipRunes(c.Service+" "+c.Version, 26)))
	fmt.Fprintf(b, `<text x="%d" y="%d" class="small">%s %s</text>`, x+8, y+40, cellSymbol(c.State), esc(c.State))
	b.WriteString(`</g>`)
	if href != "" {
		b.WriteString(`</a>`)
	}
}

// stateColors are a box's fill and border for a cell state.
func stateColors(state string) (string, string) {
	switch state {
	case workflows.StateSucceeded:
		return "#e6f4ea", "#1a7f37"
	case workflows.StateRunning, workflows.StateWaiting:
		return "#e8f0fe", "#1f77b4"
	case workflows.StatePending, workflows.StateNotReached:
		return "#f6f6f6", "#999"
	case workflows.StateRolledBack:
		return "#fff4e5", "#e67700"
	}
	return "#fdecea", "#c62828"
}

// cellSymbol is the mark `runbook train status` shows for a state.
func cellSymbol(state string) string {
	switch state {
	case workflows.StateSucceeded:
		return "✓"
	case workflows.StateRunning, workflows.StateWaiting:
		return "▶"
	case workflows.StatePending:
		return "·"
	case workflows.StateNotReached:
		return "–"
	case workflows.StateRolledBack:
		return "↩"
	}
	return "✗"
}

// clipRunes cuts s to n characters, marking the cut.
func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

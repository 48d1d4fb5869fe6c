package report

import (
	"fmt"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/workflows"
)

// AnalysisCharts draws one chart per SLO check of a traffic step: the new
// version's slot over the rounds, the live slot where the check measured
// it (compare), the threshold the value was judged against, the traffic
// weight beneath, and the decisive round marked.
func AnalysisCharts(tr *workflows.TrafficStatus, weight []Point) []Chart {
	rounds := tr.Rounds
	if d := tr.Decisive; d != nil && !hasRound(rounds, d.Round) {
		rounds = append(append([]metrics.MeasureResult(nil), rounds...), *d)
	}
	var names []string
	byName := map[string]*Chart{}
	for _, r := range rounds {
		for _, m := range r.Measurements {
			c, ok := byName[m.Check]
			if !ok {
				c = newSLOChart(tr, m, weight)
				byName[m.Check] = c
				names = append(names, m.Check)
			}
			at := measuredAt(m, r)
			c.Lines[0].Points = append(c.Lines[0].Points, Point{T: at, V: float64(m.Value)})
			if len(c.Lines) > 1 {
				c.Lines[1].Points = append(c.Lines[1].Points, Point{T: at, V: float64(m.Baseline)})
			}
			if tr.Decisive != nil && r.Round == tr.Decisive.Round && m.Verdict != metrics.Pass {
				c.Marks = append(c.Marks, Mark{T: at, Label: fmt.Sprintf("decisive round %d: %s", r.Round, m.Verdict)})
			}
		}
	}
	out := make([]Chart, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out
}

// newSLOChart is the empty chart of one check: the target slot's line,
// the live slot's when the check has a baseline, the threshold when the
// value is judged against one.
func newSLOChart(tr *workflows.TrafficStatus, m metrics.Measurement, weight []Point) *Chart {
	c := &Chart{Title: fmt.Sprintf("%s (%s)", m.Check, m.Kind), Weight: weight}
	c.Lines = []Series{{Name: slotName(tr.Target, "new version")}}
	switch m.Kind {
	case metrics.KindCompare:
		c.Lines = append(c.Lines, Series{Name: slotName(tr.Live, "live")})
	case metrics.KindBurnRate:
		c.Lines = append(c.Lines, Series{Name: "long window"})
	}
	if m.Kind != metrics.KindCompare {
		limit := m.Limit
		c.Threshold = &limit
	}
	return c
}

func slotName(slot, role string) string {
	if slot == "" {
		return role
	}
	return slot + " (" + role + ")"
}

// measuredAt is when a measurement was taken; rounds from before the
// field existed are spread by round number so the line keeps its order.
func measuredAt(m metrics.Measurement, r metrics.MeasureResult) time.Time {
	if !m.At.IsZero() {
		return m.At
	}
	return time.Unix(int64(r.Round), 0).UTC()
}

func hasRound(rs []metrics.MeasureResult, n int) bool {
	for _, r := range rs {
		if r.Round == n {
			return true
		}
	}
	return false
}

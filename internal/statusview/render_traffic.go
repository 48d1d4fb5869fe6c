package statusview

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/workflows"
)

// shownRounds is how many analysis rounds `runbook status` prints.
const shownRounds = 5

// renderTraffic prints the slots, weights and latest analysis rounds.
func renderTraffic(w io.Writer, t *workflows.TrafficStatus) {
	fmt.Fprintf(w, "  traffic (%s): %s live, new version on %s · %s\n", t.Provider, t.Live, t.Target, weights(t))
	if t.Strategy != "" && t.Phase > 0 {
		line := fmt.Sprintf("    %s weight %d of %d", t.Strategy, t.Phase, t.Phases)
		if !t.BakeEnds.IsZero() {
			line += ", bake ends " + t.BakeEnds.Local().Format(time.TimeOnly)
		}
		fmt.Fprintln(w, line)
	}
	if t.Hold != "" {
		fmt.Fprintf(w, "    HELD: %s\n", t.Hold)
	}
	rounds := t.Rounds
	if len(rounds) > shownRounds {
		rounds = rounds[len(rounds)-shownRounds:]
	}
	for _, r := range rounds {
		fmt.Fprintf(w, "    %s\n", RoundLine(r))
	}
	if d := t.Decisive; d != nil && (len(rounds) == 0 || rounds[len(rounds)-1].Round != d.Round || rounds[len(rounds)-1].Verdict != d.Verdict) {
		fmt.Fprintf(w, "    decisive: %s\n", RoundLine(*d))
	}
	if !t.RevertedAt.IsZero() {
		fmt.Fprintf(w, "    all traffic back on %s at %s\n", t.Live, t.RevertedAt.Local().Format(time.TimeOnly+".000"))
	}
}

// weights renders "blue 90% green 10%" in slot order (live first).
func weights(t *workflows.TrafficStatus) string {
	if len(t.Weights) == 0 {
		return "weights unknown"
	}
	return fmt.Sprintf("%s %d%% %s %d%%", t.Live, t.Weights[t.Live], t.Target, t.Weights[t.Target])
}

// RoundLine renders one analysis round: its verdict and every measurement.
func RoundLine(r metrics.MeasureResult) string {
	parts := make([]string, 0, len(r.Measurements))
	for _, m := range r.Measurements {
		parts = append(parts, measurementText(m))
	}
	line := fmt.Sprintf("round %d %s: %s", r.Round, strings.ToUpper(string(r.Verdict)), strings.Join(parts, " · "))
	if sc := r.Score; sc != nil {
		line += " · " + scoreText(sc)
	}
	return line
}

// scoreText is a scored round's score and each SLO's share of it.
func scoreText(sc *metrics.Score) string {
	parts := make([]string, 0, len(sc.Contributions))
	for _, c := range sc.Contributions {
		crit := ""
		if c.Critical {
			crit = "!"
		}
		parts = append(parts, fmt.Sprintf("%s%s +%.0f", c.Check, crit, c.Points))
	}
	return fmt.Sprintf("%s [%s]", sc.Detail, strings.Join(parts, " "))
}

func measurementText(m metrics.Measurement) string {
	if m.Verdict == metrics.Inconclusive || math.IsNaN(float64(m.Value)) {
		return fmt.Sprintf("%s %s (%s)", m.Check, m.Verdict, m.Detail)
	}
	switch m.Kind {
	case metrics.KindErrorRatio:
		return fmt.Sprintf("%s %.2f%% (max %.2f%%) %s", m.Check, 100*float64(m.Value), 100*m.Limit, m.Verdict)
	case metrics.KindLatency:
		return fmt.Sprintf("%s %s (max %s) %s", m.Check, seconds(float64(m.Value)), seconds(m.Limit), m.Verdict)
	}
	return fmt.Sprintf("%s %s (%s)", m.Check, m.Verdict, m.Detail)
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Microsecond).String()
}

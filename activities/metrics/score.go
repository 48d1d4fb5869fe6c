package metrics

import (
	"fmt"
	"math"
	"strings"
)

// A weighted analysis, the way Kayenta scores a canary, but explained: each
// check that returned data adds its weight when it passes, the score is
// that share out of 100, critical checks fail the round alone, and every
// check's contribution is kept so a person sees why.

// ScorePolicy are the thresholds of a weighted analysis, out of 100.
type ScorePolicy struct {
	// Pass is the lowest passing score; from Marginal up to Pass a round
	// is marginal (inconclusive: it holds for a person); below, it fails.
	Pass, Marginal float64
}

// Score is how a round's score came about.
type Score struct {
	// Value is the score out of 100; NaN when too little weight had data.
	Value    Number  `json:"value"`
	Pass     float64 `json:"pass"`
	Marginal float64 `json:"marginal"`
	// Contributions are the checks' shares, in check order.
	Contributions []Contribution `json:"contributions"`
	// Detail says what decided, in words.
	Detail string `json:"detail"`
}

// Contribution is one check's part in a score.
type Contribution struct {
	Check    string  `json:"check"`
	Weight   float64 `json:"weight"`
	Critical bool    `json:"critical,omitempty"`
	Verdict  Verdict `json:"verdict"`
	// Points is what the check added to the score (0 unless it passed);
	// an inconclusive check is left out of the score, so has none.
	Points float64 `json:"points"`
}

// weightOf is a check's weight: 1 unless set.
func weightOf(c Check) float64 {
	if c.Weight > 0 {
		return c.Weight
	}
	return 1
}

// Judge combines a round's measurements (one per check, in order) into its
// verdict: without a policy the worst of them, with one the score's.
func Judge(checks []Check, ms []Measurement, p *ScorePolicy) (Verdict, *Score) {
	verdicts := make([]Verdict, len(ms))
	for i, m := range ms {
		verdicts[i] = m.Verdict
	}
	if p == nil || len(ms) != len(checks) {
		return Worst(verdicts...), nil
	}
	s := &Score{Pass: p.Pass, Marginal: p.Marginal, Value: Number(math.NaN())}
	var total, counted, passed float64
	var criticalFail, criticalUnknown []string
	for i, c := range checks {
		w, v := weightOf(c), ms[i].Verdict
		total += w
		s.Contributions = append(s.Contributions, Contribution{Check: c.Name, Weight: w, Critical: c.Critical, Verdict: v})
		switch {
		case v == Pass:
			counted, passed = counted+w, passed+w
		case v == Fail:
			counted += w
			if c.Critical {
				criticalFail = append(criticalFail, c.Name)
			}
		case c.Critical:
			criticalUnknown = append(criticalUnknown, c.Name)
		}
	}
	if counted > 0 {
		s.Value = Number(100 * passed / counted)
		for i := range s.Contributions {
			if s.Contributions[i].Verdict == Pass {
				s.Contributions[i].Points = 100 * s.Contributions[i].Weight / counted
			}
		}
	}
	return s.decide(total, counted, criticalFail, criticalUnknown), s
}

// decide turns the tallies into the round's verdict and says why.
func (s *Score) decide(total, counted float64, criticalFail, criticalUnknown []string) Verdict {
	v := float64(s.Value)
	switch {
	case len(criticalFail) > 0:
		s.Detail = "critical " + strings.Join(criticalFail, ", ") + " failed"
		return Fail
	case len(criticalUnknown) > 0:
		s.Detail = "critical " + strings.Join(criticalUnknown, ", ") + " inconclusive"
		return Inconclusive
	case counted < total/2:
		s.Detail = fmt.Sprintf("only %.0f%% of the weight returned data, need half", 100*counted/total)
		return Inconclusive
	case v >= s.Pass:
		s.Detail = fmt.Sprintf("score %.0f >= pass %g", v, s.Pass)
		return Pass
	case v >= s.Marginal:
		s.Detail = fmt.Sprintf("score %.0f is marginal (pass %g, marginal %g)", v, s.Pass, s.Marginal)
		return Inconclusive
	default:
		s.Detail = fmt.Sprintf("score %.0f < marginal %g", v, s.Marginal)
		return Fail
	}
}

// String is the score in one line: the value, the verdict's reason and
// each check's points, for a status line, the Web UI and Slack.
func (s *Score) String() string {
	parts := make([]string, 0, len(s.Contributions))
	for _, c := range s.Contributions {
		mark := ""
		if c.Critical {
			mark = " critical"
		}
		parts = append(parts, fmt.Sprintf("%s %s +%.0f (weight %g%s)", c.Check, c.Verdict, c.Points, c.Weight, mark))
	}
	return fmt.Sprintf("%s (%s)", s.Detail, strings.Join(parts, ", "))
}

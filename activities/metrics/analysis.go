package metrics

import (
	"math"
	"sort"
)

// Verdict is the outcome of one check.
type Verdict string

// Verdicts. Inconclusive pauses for a person; it never counts as a pass.
const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive"
)

// String returns the verdict's name.
func (v Verdict) String() string { return string(v) }

// Worst combines verdicts: any Fail fails, else any Inconclusive is
// inconclusive, else Pass. No verdicts at all is Inconclusive: nothing was
// measured, so nothing may pass.
func Worst(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Inconclusive
	}
	out := Pass
	for _, v := range vs {
		switch v {
		case Fail:
			return Fail
		case Inconclusive:
			out = Inconclusive
		case Pass:
		default:
			out = Inconclusive
		}
	}
	return out
}

// Threshold passes when value is at most max. NaN or infinite values are
// inconclusive: a missing measurement must not pass.
func Threshold(value, max float64) Verdict {
	if math.IsNaN(value) || math.IsInf(value, 0) || math.IsNaN(max) {
		return Inconclusive
	}
	if value > max {
		return Fail
	}
	return Pass
}

// Comparison is the result of a canary-versus-baseline test.
type Comparison struct {
	Verdict Verdict
	// U is the Mann-Whitney statistic of the canary sample.
	U float64
	// Z is the normal approximation's z-score, with continuity and tie correction.
	Z float64
	// PValue is the one-sided p-value for "canary is greater (worse) than baseline".
	PValue float64
	// NCanary and NBaseline are the sample sizes used.
	NCanary, NBaseline int
	// Reason explains an Inconclusive verdict.
	Reason string
}

// MannWhitneyU tests whether the canary's observations tend to be greater
// (worse: latencies, error counts) than the baseline's. It uses the normal
// approximation with tie and continuity correction, so minSamples should be at
// least about 8 per side. Fail when p < alpha; Inconclusive when either side
// has fewer than minSamples finite observations; Pass otherwise.
func MannWhitneyU(canary, baseline []float64, minSamples int, alpha float64) Comparison {
	c, b := finite(canary), finite(baseline)
	res := Comparison{NCanary: len(c), NBaseline: len(b), PValue: math.NaN(), Z: math.NaN(), U: math.NaN()}
	if minSamples < 1 {
		minSamples = 1
	}
	if len(c) < minSamples || len(b) < minSamples {
		res.Verdict = Inconclusive
		res.Reason = "too few samples to compare"
		return res
	}
	n1, n2 := float64(len(c)), float64(len(b))
	rankSum, tieTerm := canaryRanks(c, b)
	res.U = rankSum - n1*(n1+1)/2
	n := n1 + n2
	mean := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 {
		// Every observation is equal: no evidence that the canary is worse.
		res.Z, res.PValue, res.Verdict = 0, 1, Pass
		return res
	}
	res.Z = (res.U - mean - 0.5) / math.Sqrt(variance)
	res.PValue = 0.5 * math.Erfc(res.Z/math.Sqrt2)
	res.Verdict = Pass
	if res.PValue < alpha {
		res.Verdict = Fail
	}
	return res
}

// canaryRanks ranks the pooled sample (ties get their average rank) and returns
// the canary's rank sum and the tie term sum(t^3 - t) over tie groups.
func canaryRanks(c, b []float64) (rankSum, tieTerm float64) {
	type obs struct {
		v      float64
		canary bool
	}
	all := make([]obs, 0, len(c)+len(b))
	for _, v := range c {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].canary {
				rankSum += avg
			}
		}
		t := float64(j - i)
		tieTerm += t*t*t - t
		i = j
	}
	return rankSum, tieTerm
}

func finite(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

// BurnRate is how fast an error ratio spends the error budget of an SLO:
// 1 spends it exactly over the SLO period, 14.4 spends 2% of a 30-day budget
// in one hour. NaN when the target is not in (0, 1) or the ratio is NaN.
func BurnRate(errorRatio, sloTarget float64) float64 {
	if math.IsNaN(errorRatio) || !(sloTarget > 0 && sloTarget < 1) {
		return math.NaN()
	}
	return errorRatio / (1 - sloTarget)
}

// BurnRateCheck is the multi-window alert of the Google SRE workbook: short and
// long are error ratios over a short and a long window; it fails only when both
// burn faster than threshold (the long window proves it matters, the short one
// that it is still happening). NaN inputs are inconclusive.
func BurnRateCheck(short, long float64, sloTarget, threshold float64) Verdict {
	s, l := BurnRate(short, sloTarget), BurnRate(long, sloTarget)
	if math.IsNaN(s) || math.IsNaN(l) || math.IsNaN(threshold) {
		return Inconclusive
	}
	if s > threshold && l > threshold {
		return Fail
	}
	return Pass
}

func sortFloats(xs []float64) { sort.Float64s(xs) }

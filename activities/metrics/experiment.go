package metrics

import (
	"fmt"
	"math"
)

// Experiment verdicts: pass (no significant harm), harm, or inconclusive
// (too few samples to tell; never a pass).
const (
	ExperimentPass         = "pass"
	ExperimentHarm         = "harm"
	ExperimentInconclusive = "inconclusive"
)

// ExperimentResult compares a business metric between a flag's variants:
// control is the "off" variant, treatment the "on" one. It is shown in
// `runbook status -o json` and the Web UI, hence the kebab-case keys.
type ExperimentResult struct {
	Metric string `json:"metric"`
	Kind   string `json:"kind"` // rate or value
	// Control and Treatment are each side's rate (conversions/checkouts)
	// or median value.
	Control   Number `json:"control"`
	Treatment Number `json:"treatment"`
	NControl  int    `json:"n-control"`
	NTreat    int    `json:"n-treatment"`
	// Effect is treatment minus control; Relative is Effect over control.
	Effect   Number `json:"effect"`
	Relative Number `json:"relative"`
	// Z is the test statistic; P the one-sided p-value of "the treatment
	// is worse than control by more than MaxHarm".
	Z Number `json:"z"`
	P Number `json:"p"`
	// CILow and CIHigh bound Effect at Confidence (two-sided; rates only).
	CILow      Number  `json:"ci-low"`
	CIHigh     Number  `json:"ci-high"`
	Confidence float64 `json:"confidence"`
	MaxHarm    float64 `json:"max-harm"`
	Verdict    string  `json:"verdict"`
	Detail     string  `json:"detail,omitempty"`
}

// TwoProportion tests whether the treatment's rate (convT of nT) is lower
// than control's (convC of nC) by more than maxHarm: a one-sided z-test of
// H0 "pT - pC >= -maxHarm" with the unpooled standard error (the null is
// not "equal rates", so pooling would be wrong). Harm when p < 1 -
// confidence; Inconclusive when either side has fewer than minSamples.
func TwoProportion(convC, nC, convT, nT float64, maxHarm, confidence float64, minSamples int) ExperimentResult {
	nan := Number(math.NaN())
	r := ExperimentResult{Kind: "rate", NControl: int(nC), NTreat: int(nT), Confidence: confidence, MaxHarm: maxHarm,
		Control: nan, Treatment: nan, Effect: nan, Relative: nan, Z: nan, P: nan, CILow: nan, CIHigh: nan}
	if !(nC >= float64(minSamples)) || !(nT >= float64(minSamples)) || nC <= 0 || nT <= 0 {
		r.Verdict = ExperimentInconclusive
		r.Detail = fmt.Sprintf("too few samples: control %d, treatment %d, need %d each", r.NControl, r.NTreat, minSamples)
		return r
	}
	pC, pT := clamp01(convC/nC), clamp01(convT/nT)
	r.Control, r.Treatment = Number(pC), Number(pT)
	d := pT - pC
	r.Effect = Number(d)
	if pC > 0 {
		r.Relative = Number(d / pC)
	}
	se := math.Sqrt(pC*(1-pC)/nC + pT*(1-pT)/nT)
	zc := NormalQuantile(0.5 + confidence/2)
	r.CILow, r.CIHigh = Number(d-zc*se), Number(d+zc*se)
	if se == 0 {
		// Both rates are 0 or 1: the drop is exactly d.
		r.Z, r.P = 0, 1
		if d < -maxHarm {
			r.P = 0
		}
	} else {
		z := (d + maxHarm) / se
		r.Z, r.P = Number(z), Number(0.5*math.Erfc(-z/math.Sqrt2))
	}
	r.Verdict = ExperimentPass
	if float64(r.P) < 1-confidence {
		r.Verdict = ExperimentHarm
	}
	r.Detail = fmt.Sprintf("conversion %.4g (n=%d) vs control %.4g (n=%d): effect %+.4g (%+.1f%%), %g%% CI [%+.4g, %+.4g], z=%.3g p=%.3g, max harm %g",
		pT, r.NTreat, pC, r.NControl, d, 100*float64(r.Relative), 100*confidence, float64(r.CILow), float64(r.CIHigh), float64(r.Z), float64(r.P), maxHarm)
	return r
}

// ValueDifference tests whether the treatment's values (checkout value:
// higher is better) tend to be lower than control's, with MannWhitneyU on
// the negated observations. Harm when that is significant at confidence
// and the medians differ by more than maxHarm (in the value's unit).
func ValueDifference(control, treatment []float64, maxHarm, confidence float64, minSamples int) ExperimentResult {
	nan := Number(math.NaN())
	cmp := MannWhitneyU(negate(treatment), negate(control), minSamples, 1-confidence)
	r := ExperimentResult{Kind: "value", NControl: cmp.NBaseline, NTreat: cmp.NCanary, Confidence: confidence, MaxHarm: maxHarm,
		Control: Number(median(control)), Treatment: Number(median(treatment)), Effect: nan, Relative: nan,
		Z: Number(cmp.Z), P: Number(cmp.PValue), CILow: nan, CIHigh: nan}
	if cmp.Verdict == Inconclusive {
		r.Verdict = ExperimentInconclusive
		r.Detail = fmt.Sprintf("too few samples: control %d, treatment %d, need %d each", r.NControl, r.NTreat, minSamples)
		return r
	}
	d := float64(r.Treatment - r.Control)
	r.Effect = Number(d)
	if r.Control != 0 {
		r.Relative = Number(d / float64(r.Control))
	}
	r.Verdict = ExperimentPass
	if cmp.Verdict == Fail && -d > maxHarm {
		r.Verdict = ExperimentHarm
	}
	r.Detail = fmt.Sprintf("median %.4g (n=%d) vs control %.4g (n=%d): effect %+.4g (%+.1f%%), Mann-Whitney z=%.3g p=%.3g at %g%% confidence, max harm %g",
		float64(r.Treatment), r.NTreat, float64(r.Control), r.NControl, d, 100*float64(r.Relative), float64(r.Z), float64(r.P), 100*confidence, maxHarm)
	return r
}

// NormalQuantile is the standard normal's inverse CDF at q in (0, 1).
func NormalQuantile(q float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*q-1)
}

func negate(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = -x
	}
	return out
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

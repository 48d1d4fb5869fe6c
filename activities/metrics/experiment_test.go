package metrics

import (
	"math"
	"testing"
)

func TestTwoProportionDetectsADrop(t *testing.T) {
	r := TwoProportion(120, 400, 40, 400, 0.02, 0.95, 100)
	if r.Verdict != ExperimentHarm {
		t.Fatalf("30%% -> 10%% over 400 each: %s (%s), want harm", r.Verdict, r.Detail)
	}
	if math.Abs(float64(r.Effect)+0.2) > 1e-9 || math.Abs(float64(r.Relative)+2.0/3) > 1e-9 {
		t.Errorf("effect %v relative %v, want -0.2 and -2/3", r.Effect, r.Relative)
	}
	// se = sqrt(.3*.7/400 + .1*.9/400) = 0.027386; z = (-0.2+0.02)/se.
	if z := float64(r.Z); math.Abs(z-(-0.18/0.0273861)) > 1e-3 {
		t.Errorf("z = %v, want %v", z, -0.18/0.0273861)
	}
	// 95% CI: -0.2 ± 1.95996*0.027386.
	if lo, hi := float64(r.CILow), float64(r.CIHigh); math.Abs(lo-(-0.25368)) > 1e-4 || math.Abs(hi-(-0.14632)) > 1e-4 {
		t.Errorf("CI [%v, %v], want [-0.2537, -0.1463]", lo, hi)
	}
}

func TestTwoProportionPassesEqualRatesAndSmallDrops(t *testing.T) {
	if r := TwoProportion(120, 400, 120, 400, 0.02, 0.95, 100); r.Verdict != ExperimentPass || math.Abs(float64(r.P)-0.7311) > 1e-3 {
		t.Errorf("equal rates: %s p=%v, want pass with p = Phi(0.02/0.0324) = 0.731", r.Verdict, r.P)
	}
	// A 1-point drop inside a 2-point margin is no significant harm, even
	// with a huge sample.
	if r := TwoProportion(30000, 100000, 29000, 100000, 0.02, 0.95, 100); r.Verdict != ExperimentPass {
		t.Errorf("1-point drop, 2-point margin: %s (%s), want pass", r.Verdict, r.Detail)
	}
	// A 3-point drop beyond it is, with enough samples.
	if r := TwoProportion(30000, 100000, 27000, 100000, 0.02, 0.95, 100); r.Verdict != ExperimentHarm {
		t.Errorf("3-point drop, 2-point margin: %s (%s), want harm", r.Verdict, r.Detail)
	}
}

func TestTwoProportionTooFewSamplesIsInconclusive(t *testing.T) {
	r := TwoProportion(30, 99, 3, 100, 0.02, 0.95, 100)
	if r.Verdict != ExperimentInconclusive {
		t.Errorf("99 control samples with min 100: %s, want inconclusive", r.Verdict)
	}
	if r := TwoProportion(0, 0, 0, 0, 0.02, 0.95, 0); r.Verdict != ExperimentInconclusive {
		t.Errorf("no samples at all: %s, want inconclusive", r.Verdict)
	}
}

func TestValueDifference(t *testing.T) {
	control := make([]float64, 30)
	same := make([]float64, 30)
	lower := make([]float64, 30)
	for i := range control {
		control[i] = 50 + float64(i%10)
		same[i] = 50 + float64((i+3)%10)
		lower[i] = 40 + float64(i%10)
	}
	if r := ValueDifference(control, lower, 1, 0.95, 10); r.Verdict != ExperimentHarm || float64(r.Effect) != -10 {
		t.Errorf("values 10 lower: %s effect %v (%s), want harm, -10", r.Verdict, r.Effect, r.Detail)
	}
	if r := ValueDifference(control, lower, 20, 0.95, 10); r.Verdict != ExperimentPass {
		t.Errorf("values 10 lower with max-harm 20: %s, want pass", r.Verdict)
	}
	if r := ValueDifference(control, same, 1, 0.95, 10); r.Verdict != ExperimentPass {
		t.Errorf("same values: %s (%s), want pass", r.Verdict, r.Detail)
	}
	if r := ValueDifference(control[:5], lower, 1, 0.95, 10); r.Verdict != ExperimentInconclusive {
		t.Errorf("5 control values: %s, want inconclusive", r.Verdict)
	}
}

func TestNormalQuantile(t *testing.T) {
	if q := NormalQuantile(0.975); math.Abs(q-1.959964) > 1e-5 {
		t.Errorf("NormalQuantile(0.975) = %v", q)
	}
}

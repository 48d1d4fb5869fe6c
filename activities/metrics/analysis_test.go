package metrics

import (
	"math"
	"testing"
)

func TestThreshold(t *testing.T) {
	cases := []struct {
		v, max float64
		want   Verdict
	}{
		{0.01, 0.02, Pass},
		{0.02, 0.02, Pass}, // the limit itself passes
		{0.021, 0.02, Fail},
		{math.NaN(), 0.02, Inconclusive},
		{math.Inf(1), 0.02, Inconclusive},
		{0.01, math.NaN(), Inconclusive},
	}
	for _, c := range cases {
		if got := Threshold(c.v, c.max); got != c.want {
			t.Errorf("Threshold(%v, %v) = %v, want %v", c.v, c.max, got, c.want)
		}
	}
}

func TestWorst(t *testing.T) {
	cases := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Inconclusive},
		{[]Verdict{Pass, Pass}, Pass},
		{[]Verdict{Pass, Inconclusive}, Inconclusive},
		{[]Verdict{Inconclusive, Fail, Pass}, Fail},
		{[]Verdict{Pass, "bogus"}, Inconclusive},
	}
	for _, c := range cases {
		if got := Worst(c.in...); got != c.want {
			t.Errorf("Worst(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if Fail.String() != "fail" {
		t.Errorf("Fail.String() = %q", Fail.String())
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestMannWhitneyTextbook uses the example of scipy.stats.mannwhitneyu's
// documentation (ages of male and female staff): U = 17 and, with the normal
// approximation and continuity correction, a two-sided p of 0.11134688653314041,
// so one-sided "greater" is half of it.
func TestMannWhitneyTextbook(t *testing.T) {
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	// By hand: pooled ranks 11:1 12:2 16:3 17:4 19:5 20:6 22:7 24:8 29:9;
	// males' rank sum 3+5+7+8+9 = 32, U = 32 - 5*6/2 = 17.
	c := MannWhitneyU(males, females, 4, 0.05)
	if c.U != 17 {
		t.Fatalf("U = %v, want 17", c.U)
	}
	if !near(c.PValue, 0.11134688653314041/2, 1e-9) {
		t.Errorf("p = %.12f, want %.12f", c.PValue, 0.11134688653314041/2)
	}
	if c.Verdict != Pass {
		t.Errorf("verdict %v, want pass at alpha 0.05", c.Verdict)
	}
	if c := MannWhitneyU(males, females, 4, 0.06); c.Verdict != Fail {
		t.Errorf("verdict %v, want fail at alpha 0.06", c.Verdict)
	}
}

func TestMannWhitneyClearlyWorse(t *testing.T) {
	// Canary entirely above baseline: U = n1*n2 = 25, mean 12.5,
	// var = 25*11/12, z = (25-12.5-0.5)/sqrt(22.9167) = 2.5067.
	c := MannWhitneyU([]float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 5, 0.05)
	if c.U != 25 || c.Verdict != Fail || !near(c.PValue, 0.006092890177672409, 1e-9) {
		t.Fatalf("got %+v, want U=25 fail p=0.0060929", c)
	}
	if !near(c.Z, 12/math.Sqrt(25*11.0/12), 1e-12) {
		t.Errorf("z = %v", c.Z)
	}
	// The other way round the canary is better: U = 0, p near 1, pass.
	c = MannWhitneyU([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 5, 0.05)
	if c.U != 0 || c.Verdict != Pass || c.PValue < 0.99 {
		t.Fatalf("better canary: got %+v, want U=0 pass p>0.99", c)
	}
}

func TestMannWhitneyTies(t *testing.T) {
	// Pooled: 1b 2c 2b 3c 3c 3b 4b 5c. Ties get average ranks: the 2s 2.5,
	// the 3s 5. Canary rank sum 2.5+5+5+8 = 20.5, U = 20.5-10 = 10.5.
	// Tie term (2^3-2)+(3^3-3) = 30; var = 16/12*(9 - 30/56) = 11.2857;
	// z = (10.5-8-0.5)/sqrt(11.2857) = 0.59534, p = 0.27581.
	c := MannWhitneyU([]float64{2, 3, 3, 5}, []float64{1, 2, 3, 4}, 4, 0.05)
	if c.U != 10.5 {
		t.Fatalf("U = %v, want 10.5", c.U)
	}
	if !near(c.PValue, 0.275807925257072, 1e-9) || c.Verdict != Pass {
		t.Errorf("got p=%v verdict=%v, want p=0.27581 pass", c.PValue, c.Verdict)
	}
	// All equal: no variance, no evidence against the canary.
	c = MannWhitneyU([]float64{1, 1, 1}, []float64{1, 1, 1}, 3, 0.05)
	if c.Verdict != Pass || c.PValue != 1 || c.U != 4.5 {
		t.Errorf("all ties: got %+v, want pass p=1 U=4.5", c)
	}
}

func TestMannWhitneyInconclusive(t *testing.T) {
	many := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		name             string
		canary, baseline []float64
	}{
		{"small canary", []float64{100, 200}, many},
		{"small baseline", many, []float64{1}},
		{"empty", nil, nil},
		{"NaNs do not count", []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), 1, 2, 3, 4}, many},
	} {
		got := MannWhitneyU(c.canary, c.baseline, 5, 0.05)
		if got.Verdict != Inconclusive || got.Reason == "" || !math.IsNaN(got.PValue) {
			t.Errorf("%s: got %+v, want inconclusive with a reason", c.name, got)
		}
	}
}

func TestMannWhitneySymmetry(t *testing.T) {
	a := []float64{3.1, 4.5, 2.2, 8.8, 5.0, 5.0, 7.1}
	b := []float64{1.0, 5.0, 2.2, 3.3, 0.5, 6.0}
	ab, ba := MannWhitneyU(a, b, 1, 0.05), MannWhitneyU(b, a, 1, 0.05)
	if ab.U+ba.U != float64(len(a)*len(b)) {
		t.Errorf("U(a,b)+U(b,a) = %v, want n1*n2 = %d", ab.U+ba.U, len(a)*len(b))
	}
}

func TestBurnRate(t *testing.T) {
	if got := BurnRate(0.001, 0.999); !near(got, 1, 1e-9) {
		t.Errorf("BurnRate at budget = %v, want 1", got)
	}
	if got := BurnRate(0.0144, 0.999); !near(got, 14.4, 1e-9) {
		t.Errorf("BurnRate = %v, want 14.4", got)
	}
	for _, target := range []float64{0, 1, -0.5, 1.5, math.NaN()} {
		if got := BurnRate(0.01, target); !math.IsNaN(got) {
			t.Errorf("BurnRate(0.01, %v) = %v, want NaN", target, got)
		}
	}
}

func TestBurnRateCheck(t *testing.T) {
	const slo, threshold = 0.999, 14.4 // SRE workbook: 2% of a 30-day budget in 1 h
	cases := []struct {
		name        string
		short, long float64
		want        Verdict
	}{
		{"both fast", 0.02, 0.016, Fail},
		{"short only (a blip)", 0.05, 0.001, Pass},
		{"long only (already recovered)", 0.001, 0.05, Pass},
		{"both slow", 0.005, 0.005, Pass},
		{"exactly at threshold", 0.0144, 0.0144, Pass},
		{"no data", math.NaN(), 0.05, Inconclusive},
	}
	for _, c := range cases {
		if got := BurnRateCheck(c.short, c.long, slo, threshold); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if got := BurnRateCheck(0.5, 0.5, 1, threshold); got != Inconclusive {
		t.Errorf("target 1: got %v, want inconclusive", got)
	}
}

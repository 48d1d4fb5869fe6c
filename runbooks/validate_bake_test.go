package runbooks

import "testing"

// TestBakeAndIntervalCaps: a typo of a bake ("106751d", 292 years) or an
// interval used to validate; each is refused where it is written.
func TestBakeAndIntervalCaps(t *testing.T) {
	const bakeWhy = "; while it bakes, users are on the new version and the environment is held by this release, so use 24h or less and soak longer behind an approval gate"
	runTrafficCases(t, []trafficCase{
		{"canary bake of 292 years", step("        canary: {steps: [{weight: 10, bake: 106751d}, {weight: 100}]}\n"),
			`t.yaml:29:45: bake 2562024h0m0s is longer than the 24h cap` + bakeWhy, 0},
		{"canary bake just over a day", step("        canary: {steps: [{weight: 10, bake: 24h1s}, {weight: 100}]}\n"),
			`t.yaml:29:45: bake 24h0m1s is longer than the 24h cap` + bakeWhy, 0},
		{"linear every", step("        linear: {increment: 10, every: 2d}\n"),
			`t.yaml:29:40: every 48h0m0s is longer than the 24h cap` + bakeWhy, 0},
		{"blue-green rollback-window", step("        blue-green: {rollback-window: 25h}\n"),
			`t.yaml:29:39: rollback-window 25h0m0s is longer than the 24h cap` + bakeWhy, 0},
		{"all-at-once bake", step("        all-at-once: {bake: 7d}\n"),
			`t.yaml:29:29: bake 168h0m0s is longer than the 24h cap` + bakeWhy, 0},
		{"analysis-interval over an hour", step("        canary: {steps: [{weight: 10}], analysis-interval: 61m}\n"),
			`t.yaml:29:60: analysis-interval 1h1m0s is longer than the 1h cap; status shows a round once per interval, so use 1h or less, or leave it out for the default of 10s`, 0},
		{"slo window over a day", slo("      - name: errors\n        error-ratio: 0.01\n        window: 30d\n"),
			`t.yaml:20:17: window 720h0m0s is longer than the 24h cap; a bake lasts at least its longest SLO window, so use 24h or less`, 0},
	})
}

// TestBakeAndIntervalCapsAreInclusive: the caps themselves validate.
func TestBakeAndIntervalCapsAreInclusive(t *testing.T) {
	for name, edit := range map[string][2]string{
		"canary":      step("        canary: {steps: [{weight: 10, bake: 24h}, {weight: 100}], analysis-interval: 1h}\n"),
		"linear":      step("        linear: {increment: 50, every: 1d, analysis-interval: 1s}\n"),
		"blue-green":  step("        blue-green: {rollback-window: 24h}\n"),
		"all-at-once": step("        all-at-once: {bake: 24h}\n"),
		"slo window":  slo("      - name: errors\n        error-ratio: 0.01\n        window: 24h\n"),
	} {
		if _, err := parseSafely(t, "t.yaml", []byte(editTraffic(t, edit[0], edit[1]))); err != nil {
			t.Errorf("%s at the cap refused:\n%v", name, err)
		}
	}
}

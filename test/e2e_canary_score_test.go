package test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// TestCanaryScored: a canary judged by a weighted score on the real edge
// proxy under load. p99 (weight 1, an unreachable 1µs) fails every round,
// yet the score (errors, weight 9, passing) is 90, over the pass mark of
// 80, so the release goes through, each round showing both contributions;
// when the critical errors SLO fails, it fails the round alone and the
// canary rolls back, the breach naming the score.
func TestCanaryScored(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-score")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{scored: true, weights: []int{50, 100}, bake: 4 * time.Second})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install, scored: %s (%s)", st.State, st.Reason)
	}

	st := s.release("2.0.0")
	if st.State != workflows.StateSucceeded {
		t.Fatalf("scored canary 2.0.0: %s (%s)", st.State, st.Reason)
	}
	tr := env(t, st, "production").Traffic
	if tr == nil || len(tr.Rounds) < 2 {
		t.Fatalf("traffic status %+v, want the scored rounds", tr)
	}
	for _, round := range tr.Rounds {
		sc := round.Score
		if sc == nil || round.Verdict != "pass" || float64(sc.Value) != 90 || len(sc.Contributions) != 2 {
			t.Fatalf("round %d: %s, score %+v; want a pass scored 90 from two SLOs", round.Round, round.Verdict, sc)
		}
		errs, p99 := sc.Contributions[0], sc.Contributions[1]
		if errs.Check != "errors" || !errs.Critical || errs.Verdict != "pass" || errs.Points != 90 || p99.Check != "p99" || p99.Verdict != "fail" || p99.Points != 0 {
			t.Errorf("round %d contributions %+v, want errors +90 (critical) and p99 failing +0", round.Round, sc.Contributions)
		}
	}

	id := r.deploy(s.path, s.digest, "3.0.0", requester)
	r.waitFor(id, "canary 3.0.0 at its first weight", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 1
	})
	s.fault("green", 1)
	st = r.waitFor(id, "3.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "critical errors failed") {
		t.Fatalf("release 3.0.0 is %s (%s), want rolled back because the critical errors SLO failed alone", st.State, st.Reason)
	}
	d := env(t, st, "production").Traffic.Decisive
	if d == nil || d.Score == nil || d.Verdict != "fail" {
		t.Errorf("decisive round %+v, want the failing score", d)
	}
	if w := s.weights(); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the breach the proxy has %v, want blue 100 green 0", w)
	}
}

package test

// People steering a canary under load through the real edge proxy: a
// pause holds the weight, resume goes on, promote ends a bake early, abort
// mid-bake or mid-call to the router rolls back; and a breach with traffic.rollback: gradual walks
// the traffic back in steps. Each release's histories are captured as
// replay fixtures (-update-histories).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// canaryPhaseBaking reports whether the release's canary bakes at weight
// phase (1-based) or later.
func canaryPhaseBaking(phase int) func(workflows.ReleaseStatus) bool {
	return func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.CurrentStep == "canary" && e.Traffic != nil && e.Traffic.Phase >= phase && !e.Traffic.BakeEnds.IsZero()
	}
}

// TestCanaryPauseResumePromote: a pause during a bake holds the weight
// (the phase does not move, the proxy keeps its weights), resume goes on,
// and promote ends the next bake early; the release succeeds with every
// decision in the audit log. Then a drift check of both slots finds them
// as the releases left them.
func TestCanaryPauseResumePromote(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-steer")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 50}, bake: 6 * time.Second})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}

	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitFor(id, "canary baking at weight 1", canaryPhaseBaking(1))
	r.mustCLI("pause", id, "--as", "alice", "--reason", "look at the dashboards")
	// The release's copy of the environment's status follows by signal:
	// wait until it shows the pause, then check that it holds.
	r.waitFor(id, "production paused by alice", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Paused && e.PausedBy == "alice"
	})
	held := s.weights()
	for end := time.Now().Add(pauseHold); time.Now().Before(end); time.Sleep(pollInterval) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := r.rc.Status(ctx, id)
		cancel()
		if err != nil {
			t.Fatalf("status while paused: %v", err)
		}
		e := env(t, st, "production")
		if !e.Paused || e.PausedBy != "alice" || e.Traffic.Phase != 1 {
			t.Fatalf("while paused: paused=%v by %q at phase %d; want held at phase 1 by alice", e.Paused, e.PausedBy, e.Traffic.Phase)
		}
		if w := s.weights(); w["blue"] != held["blue"] || w["green"] != held["green"] {
			t.Fatalf("the proxy's weights moved from %v to %v while paused", held, w)
		}
	}
	if held["blue"] != 20 || held["green"] != 80 {
		t.Errorf("paused at %v, want blue 20 green 80", held)
	}

	r.mustCLI("resume", id, "--as", "alice")
	r.waitFor(id, "canary baking at weight 2", canaryPhaseBaking(2))
	r.mustCLI("promote", id, "--as", "erin", "--reason", "dashboards clean")
	st := r.waitFor(id, "2.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "production")
	if w := s.weights(); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the canary the proxy has %v, want blue 100 green 0", w)
	}
	recs := r.auditRecords(id)
	for _, want := range [][3]string{{"release.paused", "alice", ""}, {"release.resumed", "alice", ""}, {"traffic.promoted", "erin", "canary"}} {
		if !hasAudit(recs, want[0], want[1], want[2]) {
			t.Errorf("the audit log has no %s by %s", want[0], want[1])
		}
	}
	// Captured again at lean-release 4 (each signed control Update re-reads
	// the trust roots as it arrives) and 5 (adjacent audit records in one
	// local activity); the earlier captures stay.
	r.exportRelease(t, st, "production", "canary-pause-resume-promote-lean-v6")

	res := r.mustCLI("drift", "check", s.path, "--env", "production", "--as", "dana")
	if !strings.Contains(res.stdout, workflows.StateInSync) || !strings.Contains(res.stdout, "blue:") || !strings.Contains(res.stdout, "green:") {
		t.Errorf("drift check of both slots after the releases: want in-sync naming blue and green, got %s", res)
	}
	r.exportDrift(t, workflows.StateInSync, "drift-slots-in-sync")
}

// TestCanaryBreachGradualRollback: with traffic.rollback: gradual, a
// version that fails at its second weight is walked back in steps (the
// proxy shows weights between the breach's and zero, going down), and all
// traffic ends on the live slot.
func TestCanaryBreachGradualRollback(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-gradual")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 60}, bake: 6 * time.Second, rollback: "gradual"})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	seen := s.watchWeight("blue")
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitFor(id, "canary baking at weight 2", canaryPhaseBaking(2))
	s.fault("blue", 1)
	st := r.waitFor(id, "2.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 2.0.0 is %s (%s), want rolled-back after an SLO breach", st.State, st.Reason)
	}
	if w := s.weights(); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the breach the proxy has %v, want green 100 blue 0", w)
	}
	got := seen()
	t.Logf("blue's weights seen: %v", got)
	peak := slices.Index(got, 60)
	if peak < 0 {
		t.Fatalf("blue never reached 60: %v", got)
	}
	down := got[peak:]
	if want := []int{60, 45, 30, 15, 0}; !slices.Equal(down, want) {
		t.Errorf("blue's weights from the breach on: %v, want the gradual walk %v", down, want)
	}
	r.exportRelease(t, st, "production", "canary-breach-gradual-rollback")
}

// TestAbortMidCanaryBake: an abort while a canary weight bakes interrupts
// the bake, sends all traffic back to the live slot and removes the new
// version's slot; the load is answered by the old version only.
func TestAbortMidCanaryBake(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-abort")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 50}, bake: 6 * time.Second})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitFor(id, "canary baking at weight 1", canaryPhaseBaking(1))
	st := r.abortAndWait(id)
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release 2.0.0 is %s (%s), want rolled-back", st.State, st.Reason)
	}
	assertStepInterrupted(t, st, "production", "canary")
	if w := s.weights(); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the abort the proxy has %v, want green 100 blue 0", w)
	}
	after := s.load.Snapshot()
	eventually(t, "load answered only by 1.0.0 again", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 50 && d.ByVersion["1.0.0"] == d.Requests
	})
	// Captured again at lean-release 4 (the abort re-reads the trust roots)
	// and 5 (adjacent audit records together); the earlier captures stay.
	r.exportRelease(t, st, "production", "abort-canary-bake-lean-v6")
}

// TestAbortDuringSetWeights: an abort while the router call that sets the
// second weight is in flight (a stand-in in front of the edge proxy's admin
// API holds it) rolls back to the live slot; the held call is then refused
// without reaching the proxy, so the weights stay all on the live slot.
func TestAbortDuringSetWeights(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-abort-set")
	// The first weight of 2.0.0 (blue 20) is held in front of the router;
	// the abort comes, then the router takes the change anyway: an effect
	// whose result the workflow never recorded. Before the truthful
	// rollback the revert was skipped there (the recorded weights still
	// equalled the starting ones), leaving 20% on the aborted version.
	hold := &weightsHold{slot: "blue", weight: 20, forward: true, arrived: make(chan struct{}), release: make(chan struct{})}
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 50}, bake: 2 * time.Second,
		routerVia: func(admin string) string { return hold.start(t, admin) }})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	select {
	case <-hold.arrived:
	case <-time.After(pollDeadline):
		t.Fatalf("no router call set blue to 20 within %s", pollDeadline)
	}
	r.mustCLI("abort", id, "--as", "alice", "--reason", "stop it")
	close(hold.release)
	st := r.waitAborted(id)
	if st.State != workflows.StateRolledBack {
		t.Errorf("release 2.0.0 is %s (%s), want rolled-back", st.State, st.Reason)
	}
	assertStepInterrupted(t, st, "production", "canary")
	w := s.weights()
	if w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the abort the proxy has %v, want green 100 blue 0", w)
	}
	// Status is what was read back from the router.
	c := compensation(t, env(t, st, "production"), "canary")
	if want := fmt.Sprintf("router weights green=%d blue=%d", w["green"], w["blue"]); c.State != workflows.StateDone || c.ReadBack != want {
		t.Errorf("canary compensation %s, read back %q; the proxy has %v (want done, %q)", c.State, c.ReadBack, w, want)
	}
	r.exportRelease(t, st, "production", "abort-canary-set-weights-truthful")
}

// weightsHold stands in front of the edge proxy's admin API: it holds the
// first PUT /v1/weights that gives slot weight until release is closed,
// then refuses it (503) without forwarding, a router call in flight that
// never takes effect. Every other call passes through.
type weightsHold struct {
	slot   string
	weight int
	// forward makes the held call take effect once released (a change the
	// router received before the abort) instead of being refused.
	forward  bool
	once     sync.Once
	arrived  chan struct{} // closed when the held call came in
	release  chan struct{}
	fallback http.Handler
}

// start runs the stand-in until the test ends and returns its URL.
func (h *weightsHold) start(t testing.TB, admin string) string {
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	h.fallback = httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.once.Do(func() { close(h.arrived) })
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		srv.Close()
	})
	return srv.URL
}

func (h *weightsHold) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPut || req.URL.Path != "/v1/weights" {
		h.fallback.ServeHTTP(w, req)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in struct {
		Weights map[string]int `json:"weights"`
	}
	held := false
	if json.Unmarshal(body, &in) == nil && in.Weights[h.slot] == h.weight {
		h.once.Do(func() { held = true })
	}
	if !held {
		req.Body = io.NopCloser(bytes.NewReader(body))
		h.fallback.ServeHTTP(w, req)
		return
	}
	close(h.arrived)
	<-h.release
	if h.forward {
		// The caller may have given up (its context was cancelled): the
		// router still takes the change, as one already on the wire would.
		fwd := req.Clone(context.WithoutCancel(req.Context()))
		fwd.Body = io.NopCloser(bytes.NewReader(body))
		h.fallback.ServeHTTP(w, fwd)
		return
	}
	http.Error(w, "held by the test and refused", http.StatusServiceUnavailable)
}

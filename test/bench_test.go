package test

// Benchmarks on the real stack: the shared Temporal dev server, a
// `runbook worker` subprocess, and HTTP checks against a server in this
// process. Run them with
//
//	go test ./test/ -run '^$' -bench . -benchtime 10x

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

const benchRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-bench
artifact:
  reference: {{.Artifact}}
environments:
{{- range .X.Envs}}
  - name: {{.}}
    steps:
      - name: healthz
        http-check:
          url: {{$.X.URL}}/{{.}}/healthz
          interval: 250ms
      - name: version
        http-check:
          url: {{$.X.URL}}/{{.}}/version?v=${version}
          expect-body: ${version}
          interval: 250ms
{{- end}}
`

// benchPoll is how often the benchmark asks for the release's status.
const benchPoll = 20 * time.Millisecond

// benchRig is a rig with a worker and a check server, plus the runbook
// loaded and ready to resolve, as the CLI would.
type benchRig struct {
	*rig
	path, digest string
	rb           *runbooks.Runbook
	hits         *atomic.Int64
}

func newBenchRig(b *testing.B, name string) *benchRig {
	b.Helper()
	r := newRig(b, name)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		// /<env>/version answers the version it was asked about, like
		// the sample app would; the check expects ${version} in the body.
		fmt.Fprintf(w, "ok %s\n", req.URL.Query().Get("v"))
	}))
	b.Cleanup(srv.Close)
	path, digest := r.writeRunbook("runbook.yaml", benchRunbook, map[string]any{
		"URL": srv.URL, "Envs": []string{"staging", "production"},
	})
	rb, err := runbooks.Load(path)
	if err != nil {
		b.Fatalf("load %s: %v", path, err)
	}
	r.startWorker()
	return &benchRig{rig: r, path: path, digest: digest, rb: rb, hits: &hits}
}

// release deploys version through the release client (as `runbook deploy`
// does, without the process start) and polls the status query until the
// release ends. It fails the benchmark unless the release succeeded.
func (br *benchRig) release(b *testing.B, version string) workflows.ReleaseStatus {
	in, err := releases.Resolve(releases.ResolveInput{
		Path: br.path, Runbook: br.rb, Version: version, Digest: br.digest, Requester: "bench",
	})
	if err != nil {
		b.Fatalf("resolve: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pollDeadline)
	defer cancel()
	run, err := br.rc.Deploy(ctx, in)
	if err != nil {
		b.Fatalf("deploy %s: %v", version, err)
	}
	var last workflows.ReleaseStatus
	var lastErr error
	for {
		st, err := br.rc.Status(ctx, run.GetID())
		if err == nil {
			last, lastErr = st, nil
			if st.Finished() {
				if st.State != workflows.StateSucceeded {
					b.Fatalf("release %s ended %s: %s", st.ReleaseID, st.State, st.Reason)
				}
				return st
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			b.Fatalf("release %s not finished after %s: last state %q, last error %v", run.GetID(), pollDeadline, last.State, lastErr)
		case <-time.After(benchPoll):
		}
	}
}

// historyEvents counts the events of the release and of each environment
// run it started.
func historyEvents(b *testing.B, st workflows.ReleaseStatus) int {
	n := len(fetchHistory(b, stack.client, st.ReleaseID, "").Events)
	for _, e := range st.Environments {
		if e.RunID == "" {
			b.Fatalf("environment %s of %s has no run ID", e.Name, st.ReleaseID)
		}
		n += len(fetchHistory(b, stack.client, e.WorkflowID, e.RunID).Events)
	}
	return n
}

// BenchmarkReleaseEndToEnd measures one release of two environments (each
// verify-artifact and two http-checks) from the start request until the
// status query says succeeded, and the history it costs.
func BenchmarkReleaseEndToEnd(b *testing.B) {
	br := newBenchRig(b, "bench")
	// One release before the clock starts: the worker's first poll, the
	// server's caches for a new task queue, and the artifact's first read
	// are not what the benchmark measures.
	br.release(b, "0.0.0-warmup")
	hitsBefore := br.hits.Load()

	var finished []workflows.ReleaseStatus
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		st := br.release(b, fmt.Sprintf("1.0.%d", len(finished)))
		total += time.Since(start)
		finished = append(finished, st)
	}
	b.StopTimer()

	n := len(finished)
	// 2 environments x 2 checks, each passing on its first attempt.
	if got, want := br.hits.Load()-hitsBefore, int64(4*n); got != want {
		b.Fatalf("the check server saw %d requests for %d releases, want %d", got, n, want)
	}
	events := 0
	for _, st := range finished {
		if len(st.Environments) != 2 || st.Environments[1].State != workflows.StateSucceeded {
			b.Fatalf("release %s: environments %+v", st.ReleaseID, st.Environments)
		}
		events += historyEvents(b, st)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(n), "ms/release")
	b.ReportMetric(float64(events)/float64(n), "events/release")
}

// BenchmarkStatusQuery measures one status query on a finished release:
// what `runbook status` and every poll of `runbook watch` cost once the
// release has ended (the worker answers it from the closed history).
func BenchmarkStatusQuery(b *testing.B) {
	br := newBenchRig(b, "benchq")
	want := br.release(b, "1.0.0")
	ctx := context.Background()
	for b.Loop() {
		st, err := br.rc.Status(ctx, want.ReleaseID)
		if err != nil {
			b.Fatalf("status: %v", err)
		}
		if st.State != workflows.StateSucceeded || len(st.Environments) != 2 {
			b.Fatalf("status of %s: %s with %d environments", want.ReleaseID, st.State, len(st.Environments))
		}
	}
}

// rollbackRuns is how many breached canaries one benchmark run measures.
const rollbackRuns = 10

// BenchmarkCanaryRollback measures, over rollbackRuns releases, the time
// from a version starting to fail mid-canary (every request of its slot
// answers 500) to its last answer through the edge proxy, under 100
// requests a second with a 2 s analysis interval; and the history events of
// a successful ten-weight canary. It prints `bench: NAME VALUE UNIT` lines.
func BenchmarkCanaryRollback(b *testing.B) {
	r := newRig(b, "bench-rollback")
	s := newSlotted(b, r, edgeMetrics)
	s.startLoad(b)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		b.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	st := s.release("1.1.0")
	if st.State != workflows.StateSucceeded {
		b.Fatalf("canary 1.1.0: %s (%s)", st.State, st.Reason)
	}
	events := r.historyEvents(st.ReleaseID) + r.historyEvents(env(b, st, "production").WorkflowID)
	b.ResetTimer()
	var took []time.Duration
	for i := 0; i < rollbackRuns*b.N; i++ {
		took = append(took, s.breachedCanary(fmt.Sprintf("2.0.%d", i)))
	}
	b.StopTimer()
	slices.Sort(took)
	median, worst := took[len(took)/2], took[len(took)-1]
	fmt.Printf("bench: canary-rollback-median %.3f s\n", median.Seconds())
	fmt.Printf("bench: canary-rollback-max %.3f s\n", worst.Seconds())
	fmt.Printf("bench: canary-rollback-median-per-interval %.2f intervals\n", median.Seconds()/canaryInterval.Seconds())
	fmt.Printf("bench: canary-rollback-max-per-interval %.2f intervals\n", worst.Seconds()/canaryInterval.Seconds())
	fmt.Printf("bench: canary-history-events %d events\n", events)
	b.ReportMetric(float64(median.Milliseconds()), "median-ms-to-stable")
}

// breachedCanary releases version, makes its slot fail at the canary's
// second weight and returns how long the slot still answered through the
// proxy after the fault.
func (s *slotted) breachedCanary(version string) time.Duration {
	r := s.r
	id := r.deploy(s.path, s.digest, version, requester)
	var target string
	r.waitFor(id, "canary at weight 2", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		if ok && e.Traffic != nil && e.Traffic.Phase >= 2 {
			target = e.Traffic.Target
			return true
		}
		return false
	})
	s.fault(target, 1)
	start := time.Now()
	st := r.waitFor(id, "rolled back", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack {
		r.t.Fatalf("release %s is %s (%s), want rolled-back", id, st.State, st.Reason)
	}
	return s.load.LastSeen(version).Sub(start)
}

// slackBenchGates is how many gates each release of the approval benchmark
// has: every click but the last one opens the next gate.
const slackBenchGates = 11

// approvalClicks is how many decisions each side of the benchmark measures.
const approvalClicks = 100

const slackBenchRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-bench
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    slack:
      channel: C0BENCH
    steps:
{{- range .X.Gates}}
      - name: gate-{{.}}
        approval:
          approvers: [alice]
{{- end}}
`

// BenchmarkSlackApproval measures the approval latency from a signed click
// arriving at the worker's endpoint to the next step starting (the next
// gate's message reaching Slack), over approvalClicks clicks, next to the
// same decision sent as a bare Temporal Update. It prints bench: lines.
func BenchmarkSlackApproval(b *testing.B) {
	r := newRig(b, "bench-slack")
	s := newSlackWorker(b, r)
	gates := make([]int, slackBenchGates)
	for i := range gates {
		gates[i] = i + 1
	}
	path, digest := r.writeRunbook("runbook.yaml", slackBenchRunbook, map[string]any{"Gates": gates})
	b.ResetTimer()
	var viaSlack, bare []time.Duration
	for rel := 0; len(viaSlack) < approvalClicks*b.N || len(bare) < approvalClicks*b.N; rel++ {
		slackSide := rel%2 == 0
		got := s.approveAll(b, path, digest, fmt.Sprintf("1.0.%d", rel), slackSide)
		if slackSide {
			viaSlack = append(viaSlack, got...)
		} else {
			bare = append(bare, got...)
		}
	}
	b.StopTimer()
	sm, sp := percentiles(viaSlack)
	bm, bp := percentiles(bare)
	fmt.Printf("bench: slack-approval-median %.1f ms\n", ms(sm))
	fmt.Printf("bench: slack-approval-p99 %.1f ms\n", ms(sp))
	fmt.Printf("bench: bare-update-median %.1f ms\n", ms(bm))
	fmt.Printf("bench: bare-update-p99 %.1f ms\n", ms(bp))
	fmt.Printf("bench: slack-over-bare-median %.2f ratio\n", ms(sm)/ms(bm))
	b.ReportMetric(ms(sm), "slack-median-ms")
}

// approveAll releases version and approves each of its gates as alice,
// by a signed Slack click or by a bare Update, returning the time from each
// decision to the next gate's message (the last gate has no next one).
func (s *slackWorker) approveAll(b *testing.B, path, digest, version string, viaSlack bool) []time.Duration {
	r := s.r
	seen := len(s.gateMessages())
	id := r.deploy(path, digest, version, "carol")
	var out []time.Duration
	for g := 0; g < slackBenchGates; g++ {
		gate := s.waitGateMessage(b, seen+1)
		seen++
		value := approveValue(b, gate)
		start := time.Now()
		if viaSlack {
			if code := s.click("U0ALICE", slackacts.ActionApprove, value, fmt.Sprintf("%s.%d", version, g), slackSecret); code != http.StatusOK {
				b.Fatalf("click: HTTP %d", code)
			}
		} else {
			s.bareApprove(b, value)
		}
		if g == slackBenchGates-1 {
			break
		}
		s.waitGateMessage(b, seen+1)
		out = append(out, time.Since(start))
	}
	r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	return out
}

// gateMessages are the posted messages that are not thread replies.
func (s *slackWorker) gateMessages() []slackfake.Call {
	var out []slackfake.Call
	for _, c := range s.fake.Calls("chat.postMessage") {
		if c.Form.Get("thread_ts") == "" {
			out = append(out, c)
		}
	}
	return out
}

// waitGateMessage waits, on the fake's own notifications, until the n-th
// gate message was posted and returns it.
func (s *slackWorker) waitGateMessage(b *testing.B, n int) slackfake.Call {
	posts := 1
	for {
		if _, err := s.fake.Wait("chat.postMessage", posts, pollDeadline); err != nil {
			b.Fatalf("gate message %d not posted: %v", n, err)
		}
		if gates := s.gateMessages(); len(gates) >= n {
			return gates[n-1]
		}
		posts = len(s.fake.Calls("chat.postMessage")) + 1
	}
}

// bareApprove sends the approve Update straight to the environment run the
// button names, signed as `runbook approve` signs it after finding it.
func (s *slackWorker) bareApprove(b *testing.B, value string) {
	route, err := slackacts.DecodeRoute(value)
	if err != nil {
		b.Fatal(err)
	}
	in := workflows.DecisionInput{Gate: route.Gate, Actor: "alice", Channel: "cli"}
	if in.Proof, err = s.r.rc.Signer.Sign(context.Background(),
		workflows.DecisionClaim(route.EnvWorkflowID, route.EnvRunID, true, in), in.Actor); err != nil {
		b.Fatal(err)
	}
	h, err := s.r.rc.Temporal.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: route.EnvWorkflowID, RunID: route.EnvRunID, UpdateName: workflows.UpdateApprove,
		Args:         []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(context.Background(), nil)
	}
	if err != nil {
		b.Fatalf("approve Update: %v", err)
	}
}

func percentiles(ds []time.Duration) (median, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)*99)/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkRollbackFinishedRelease measures `runbook rollback` of a
// finished canary release by the traffic path (the version still runs in
// the other slot), from the command to the rollback's end, next to what a
// new full release of the old version takes on the same rig. Each round
// rolls back the previous one, so every round takes the traffic path.
func BenchmarkRollbackFinishedRelease(b *testing.B) {
	r := newRig(b, "bench-rollback")
	s := newSlottedShape(b, r, edgeMetrics, canaryShape{weights: []int{50, 100}, bake: 2 * time.Second})
	s.startLoad(b)
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if st := s.release(v); st.State != workflows.StateSucceeded {
			b.Fatalf("release %s: %s (%s)", v, st.State, st.Reason)
		}
	}
	var total, moved time.Duration
	n := 0
	for b.Loop() {
		movedAt := s.watchTrafficMove()
		start := time.Now()
		st, took := s.rollback(b)
		if st.Rollback == nil || st.Rollback.Path != workflows.RollbackTraffic {
			b.Fatalf("rollback %d took the %v path, want traffic", n, st.Rollback)
		}
		total += took
		moved += (<-movedAt).Sub(start)
		n++
	}
	b.StopTimer()
	start := time.Now()
	if st := s.release("1.0.1"); st.State != workflows.StateSucceeded {
		b.Fatalf("full release of the old version: %s (%s)", st.State, st.Reason)
	}
	full := time.Since(start)
	rollback := total / time.Duration(n)
	fmt.Printf("bench: rollback-traffic-moved %.3f s\n", (moved / time.Duration(n)).Seconds())
	fmt.Printf("bench: rollback-finished-release %.3f s\n", rollback.Seconds())
	fmt.Printf("bench: full-release-of-old-version %.3f s\n", full.Seconds())
	fmt.Printf("bench: rollback-over-full-release %.2f ratio\n", rollback.Seconds()/full.Seconds())
	b.ReportMetric(rollback.Seconds(), "s/rollback")
}

// watchTrafficMove polls the proxy until the slot without traffic now has
// it all, and sends when that was seen.
func (s *slotted) watchTrafficMove() <-chan time.Time {
	idle := ""
	for name, w := range s.weights() {
		if w == 0 {
			idle = name
		}
	}
	out := make(chan time.Time, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) && s.weights()[idle] != 100 {
			<-tick.C
		}
		out <- time.Now()
	}()
	return out
}

package test

// The scale benchmark: N releases in flight on one `runbook worker`, each
// waiting at an approval gate, side by side in one run with the floor Temporal
// itself sets on this machine: N bare workflows of the same shape on a plain
// SDK worker (test/floorworker). N is RUNBOOK_BENCH_INFLIGHT (100 unless set;
// the full bench is 1,000):
//
//	RUNBOOK_BENCH_INFLIGHT=1000 make bench BENCH=InflightReleases

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// scaleRunbook is the release the benchmark keeps in flight: one environment
// (production, so decisions are signed) whose artifact check is the shape's
// one activity, then its gate; with RUNBOOK_BENCH_SHAPE=gate-check, as
// measured before stop 26, an http-check after the gate too (an activity
// and a progress snapshot the floor's shape does not have).
const scaleRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-bench
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    steps:
      - name: go-ahead
        approval:
          approvers: [alice]
{{- if .X.Check}}
      - name: healthz
        http-check:
          url: {{.X.URL}}/healthz
{{- end}}
`

// scaleCheck reports whether the benchmark's releases run an http-check
// after their gate (RUNBOOK_BENCH_SHAPE=gate-check; the default, gate, is
// the floor's shape).
func scaleCheck(b *testing.B) bool {
	switch v := os.Getenv("RUNBOOK_BENCH_SHAPE"); v {
	case "", "gate":
		return false
	case "gate-check":
		return true
	default:
		b.Fatalf("RUNBOOK_BENCH_SHAPE=%q: want gate or gate-check", v)
		return false
	}
}

// scaleParallel is how many starts, and then approvals, the benchmark keeps
// in flight at once: a platform team's script running commands side by side.
const scaleParallel = 16

// inflightDefault is N unless RUNBOOK_BENCH_INFLIGHT says otherwise.
const inflightDefault = 100

// scaleSide is what one side of the benchmark measured.
type scaleSide struct {
	n int
	// startTook is the time to send the N starts; gateTook until the last
	// one waited at its gate; approveTook from the first approval until the
	// last release completed. All from the first request of the phase.
	startTook, gateTook, approveTook time.Duration
	// rssIdle and rssAtGate are the worker's VmRSS after a warm-up release,
	// and with all N at their gates.
	rssIdle, rssAtGate int64
	// cpuToGate and cpuApprove are the CPU the worker and the Temporal
	// server spent in each phase: on this machine they share two cores.
	cpuToGate, cpuApprove cpuSplit
	hist                  historyStats
}

func (s scaleSide) startToGateRate() float64 { return float64(s.n) / s.gateTook.Seconds() }
func (s scaleSide) approveRate() float64     { return float64(s.n) / s.approveTook.Seconds() }
func (s scaleSide) rssPerRelease() float64   { return float64(s.rssAtGate-s.rssIdle) / float64(s.n) }

// inflight is N for the benchmark.
func inflight(b *testing.B) int {
	v := os.Getenv("RUNBOOK_BENCH_INFLIGHT")
	if v == "" {
		return inflightDefault
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("RUNBOOK_BENCH_INFLIGHT=%q: want a positive number of releases", v)
	}
	return n
}

// workerEnv is the environment both sides' workers get, and only they,
// from RUNBOOK_BENCH_WORKER_ENV (e.g. "GOMEMLIMIT=190MiB GOGC=50"): the
// same variables in the benchmark's own environment would reach the dev
// server too.
func workerEnv() []string { return strings.Fields(os.Getenv("RUNBOOK_BENCH_WORKER_ENV")) }

// scaleDeadline bounds each phase: generous, since the machine is shared,
// but a stuck release still fails the benchmark.
func scaleDeadline(n int) time.Duration { return 2*time.Minute + time.Duration(n)*600*time.Millisecond }

// BenchmarkInflightReleases measures N releases in flight on one worker
// against the same-shape floor, and what each release costs beyond its
// shape. It prints `bench: NAME VALUE UNIT` lines.
//
// A release has reached its gate when its gate.waiting audit record is in
// the log (written as the gate opens); a floor workflow when its activity
// called the benchmark's server, one workflow task before its wait. Both
// sides complete when their workflows' results arrive. The floor runs
// first, then the releases, so the machine's other load can differ between
// them: compare ratios over several runs.
func BenchmarkInflightReleases(b *testing.B) {
	n := inflight(b)
	for range b.N {
		// Each side on a server of its own (freshServer), and the floor
		// again after: the machine's speed drifts within a run, and the
		// two floors bracket the runbook side.
		freshServer(b)
		floor := measureFloor(b, n)
		freshServer(b)
		rb := measureRunbook(b, n)
		freshServer(b)
		after := measureFloor(b, n)
		printScale(rb, floor)
		printBracket(rb, floor, after)
		b.ReportMetric(rb.startToGateRate(), "releases-to-gate/s")
		b.ReportMetric(rb.approveRate(), "approved-completed/s")
		b.ReportMetric(float64(rb.rssAtGate)/(1<<20), "worker-rss-MB")
	}
}

// printBracket prints the floor measured after the runbook side and the
// runbook rates over the mean of the floors before and after.
func printBracket(rb, before, after scaleSide) {
	line := func(name string, v float64, unit string) { fmt.Printf("bench: %s %.2f %s\n", name, v, unit) }
	gate := (before.startToGateRate() + after.startToGateRate()) / 2
	approve := (before.approveRate() + after.approveRate()) / 2
	line("floor-after-start-to-gate-rate", after.startToGateRate(), "workflows/s")
	line("floor-after-approve-to-complete-throughput", after.approveRate(), "workflows/s")
	line("start-to-gate-rate-over-floors-mean", rb.startToGateRate()/gate, "ratio")
	line("approve-to-complete-throughput-over-floors-mean", rb.approveRate()/approve, "ratio")
}

// printScale prints the bench lines of both sides and the ratios.
func printScale(rb, floor scaleSide) {
	line := func(name string, v float64, unit string) { fmt.Printf("bench: %s %.2f %s\n", name, v, unit) }
	line("inflight-releases", float64(rb.n), "releases")
	line("inflight-start-to-gate-rate", rb.startToGateRate(), "releases/s")
	line("floor-start-to-gate-rate", floor.startToGateRate(), "workflows/s")
	line("start-to-gate-rate-over-floor", rb.startToGateRate()/floor.startToGateRate(), "ratio")
	line("inflight-start-requests-rate", float64(rb.n)/rb.startTook.Seconds(), "releases/s")
	line("floor-start-requests-rate", float64(floor.n)/floor.startTook.Seconds(), "workflows/s")
	line("worker-rss-at-gate", float64(rb.rssAtGate)/(1<<20), "MB")
	line("worker-rss-per-release", rb.rssPerRelease()/1024, "KB")
	line("floor-worker-rss-at-gate", float64(floor.rssAtGate)/(1<<20), "MB")
	line("floor-worker-rss-per-release", floor.rssPerRelease()/1024, "KB")
	line("approve-to-complete-throughput", rb.approveRate(), "releases/s")
	line("floor-approve-to-complete-throughput", floor.approveRate(), "workflows/s")
	line("approve-to-complete-throughput-over-floor", rb.approveRate()/floor.approveRate(), "ratio")
	line("workflow-tasks-per-release", rb.hist.perRelease(rb.hist.tasks), "tasks")
	line("floor-workflow-tasks-per-release", floor.hist.perRelease(floor.hist.tasks), "tasks")
	line("history-bytes-per-release", rb.hist.perRelease(rb.hist.bytes), "bytes")
	line("floor-history-bytes-per-release", floor.hist.perRelease(floor.hist.bytes), "bytes")
	line("history-events-per-release", rb.hist.perRelease(rb.hist.events), "events")
	line("floor-history-events-per-release", floor.hist.perRelease(floor.hist.events), "events")
	for _, p := range []struct {
		name   string
		rb, fl cpuSplit
	}{{"to-gate", rb.cpuToGate, floor.cpuToGate}, {"approve", rb.cpuApprove, floor.cpuApprove}} {
		line("worker-cpu-per-release-"+p.name, p.rb.worker.Seconds()*1000/float64(rb.n), "ms")
		line("floor-worker-cpu-per-release-"+p.name, p.fl.worker.Seconds()*1000/float64(floor.n), "ms")
		line("server-cpu-per-release-"+p.name, p.rb.server.Seconds()*1000/float64(rb.n), "ms")
		line("floor-server-cpu-per-release-"+p.name, p.fl.server.Seconds()*1000/float64(floor.n), "ms")
		line("client-cpu-per-release-"+p.name, p.rb.client.Seconds()*1000/float64(rb.n), "ms")
		line("floor-client-cpu-per-release-"+p.name, p.fl.client.Seconds()*1000/float64(floor.n), "ms")
		// The ratio the rates would have if CPU alone bound them: steadier
		// than the rates on a machine whose hypervisor takes CPU away.
		line("floor-cpu-over-release-cpu-"+p.name, (p.fl.worker+p.fl.server).Seconds()/float64(floor.n)/
			((p.rb.worker+p.rb.server).Seconds()/float64(rb.n)), "ratio")
		line("floor-cpu-over-release-cpu-with-client-"+p.name, (p.fl.worker+p.fl.server+p.fl.client).Seconds()/float64(floor.n)/
			((p.rb.worker+p.rb.server+p.rb.client).Seconds()/float64(rb.n)), "ratio")
		line("machine-steal-"+p.name, p.rb.steal.Seconds(), "s")
		line("floor-machine-steal-"+p.name, p.fl.steal.Seconds(), "s")
	}
	rb.hist.printCosts(line)
}

// measureRunbook runs the runbook side: a `runbook worker`, N releases
// started through the release client as `runbook deploy` starts them, and
// approved, signed, through the client Update `runbook approve` sends.
func measureRunbook(b *testing.B, n int) scaleSide {
	r := newRig(b, "scale")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "ok")
	}))
	b.Cleanup(srv.Close)
	check := scaleCheck(b)
	path, digest := r.writeRunbook("runbook.yaml", scaleRunbook, map[string]any{"URL": srv.URL, "Check": check})
	rb, err := runbooks.Load(path)
	if err != nil {
		b.Fatalf("load %s: %v", path, err)
	}
	base, err := releases.Resolve(releases.ResolveInput{Path: path, Runbook: rb, Version: "1.0.0", Digest: digest, Requester: "carol"})
	if err != nil {
		b.Fatalf("resolve: %v", err)
	}
	// One service per release: a service has one live release per environment.
	input := func(i int) workflows.ReleaseInput {
		in := base
		in.Runbook.Service = fmt.Sprintf("%s-%d", r.service, i)
		return in
	}
	port, err := testenv.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	probe := workerProbe{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	w := r.startWorker(append(workerEnv(), "RUNBOOK_HTTP_ADDR="+probe.addr, "RUNBOOK_PPROF=true")...)
	probe.pid = w.cmd.Process.Pid
	probe.waitReady(b)
	tail := &auditTail{path: r.auditLog}
	side := scaleSide{n: n}
	deploy := func(i int) (string, error) {
		run, err := r.rc.Deploy(context.Background(), input(i))
		if err != nil {
			return "", err
		}
		return run.GetID(), nil
	}
	approve := func(id string) error {
		_, err := r.rc.Decide(context.Background(), id, true, workflows.DecisionInput{Actor: "alice", Channel: "cli"})
		return err
	}
	// A warm-up release: the worker's first polls and caches are not what
	// is measured, and a broken path fails here, fast.
	warm, err := deploy(n)
	if err != nil {
		b.Fatalf("warm-up release: %v", err)
	}
	tail.waitFor(b, "gate.waiting", 1, scaleDeadline(1))
	if err := approve(warm); err != nil {
		b.Fatalf("approve the warm-up release: %v", err)
	}
	if err := awaitRunbook(r, []string{warm}, scaleDeadline(1)); err != nil {
		b.Fatalf("warm-up release: %v", err)
	}
	side.rssIdle = probe.rss(b)
	idle := probe.runtime(b)

	ids := make([]string, n)
	cpu := startCPU(b, probe.pid)
	profiledStart := probe.profileCPU(b, "to-gate")
	start := time.Now()
	if err := parallel(n, scaleParallel, func(i int) (err error) {
		ids[i], err = deploy(i)
		return err
	}); err != nil {
		b.Fatalf("start: %v", err)
	}
	side.startTook = time.Since(start)
	tail.waitFor(b, "gate.waiting", 1+n, scaleDeadline(n))
	side.gateTook = time.Since(start)
	side.cpuToGate = cpu.lap(b)
	profiledStart()
	side.rssAtGate = probe.rss(b)
	atGate := probe.runtime(b)
	probe.saveProfiles(b, "at-gate")
	probe.saveMetrics(b, "at-gate")

	profiled := probe.profileCPU(b, "approve")
	done := make(chan error, 1)
	go func() { done <- awaitRunbook(r, ids, scaleDeadline(n)) }()
	start = time.Now()
	if err := parallel(n, scaleParallel, func(i int) error { return approve(ids[i]) }); err != nil {
		b.Fatalf("approve: %v", err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	side.approveTook = time.Since(start)
	side.cpuApprove = cpu.lap(b)
	profiled()
	probe.saveMetrics(b, "approved")
	if got := hits.Load(); check && got != int64(n+1) {
		b.Fatalf("the check server saw %d requests for %d releases, want one each", got, n+1)
	}
	// Every approval is on the record, signed: one gate.approved each.
	tail.waitFor(b, "gate.approved", 1+n, scaleDeadline(1))
	side.hist = runbookHistories(b, ids, input)

	side.hist.worker = atGate.minus(idle, n)
	w.stop() // before the next side's server: it would retry this one
	return side
}

// awaitRunbook waits for the releases to end, all at once, and returns an
// error unless each succeeded.
func awaitRunbook(r *rig, ids []string, deadline time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	return parallel(len(ids), len(ids), func(i int) error {
		var res workflows.ReleaseResult
		if err := r.rc.Temporal.GetWorkflow(ctx, ids[i], "").Get(ctx, &res); err != nil {
			return fmt.Errorf("release %s: %w", ids[i], err)
		}
		if res.Status.State != workflows.StateSucceeded {
			return fmt.Errorf("release %s ended %s: %s", ids[i], res.Status.State, res.Status.Reason)
		}
		return nil
	})
}

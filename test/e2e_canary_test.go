package test

// Progressive delivery end to end: a service with two slots behind the real
// edge proxy, each slot a sample app process started by real OpenTofu, real
// HTTP load through the proxy, and SLOs measured from the proxy's metrics
// (by the edge provider directly, or by a real Prometheus scraping it).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

// canaryRunbook: provision the target slot, preview it on its own port, then
// a ten-weight canary analysed every 2 s.
const canaryRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.X.Binary}}
policy:
  destructive-changes-need-approval: false
environments:
  - name: production
    traffic:
      provider: edge{{.X.Rollback}}
      options:
        admin: {{.X.Admin}}
        token: env:E2E_EDGE_TOKEN
      slots:
        blue:
          port: "{{.X.BluePort}}"
        green:
          port: "{{.X.GreenPort}}"
    metrics:
{{.X.Metrics}}{{.X.Analysis}}
    slos:
{{- if .X.SLOs}}
{{.X.SLOs}}
{{- else}}
      - name: errors
        error-ratio: 0.05{{.X.Window}}{{.X.ErrorsWeight}}
      - name: p99{{.X.Window}}
        latency:
          percentile: 99
          max: {{.X.P99Max}}
{{- end}}
    infra:
      module: {{.X.Module}}
      vars:
        binary: ${artifact}
        app_version: ${version}
        slot: ${slot}
        port: ${slot.port}
        run_dir: {{.X.RunDir}}
    steps:
      - name: provision
        provision: {}
      - name: preview
        http-check:
          url: http://127.0.0.1:${slot.port}/version
          expect-body: ${version}
          interval: 250ms
      - name: canary
        canary:
          analysis-interval: {{.X.Interval}}
          steps:
{{- range .X.Weights}}
            - weight: {{.}}
              bake: {{$.X.Bake}}
{{- end}}
`

// canaryInterval is the runbook's analysis interval.
const canaryInterval = 2 * time.Second

// slotted is a service released into blue/green slots behind an edge proxy.
type slotted struct {
	r       *rig
	path    string
	digest  string
	proxy   string // the proxy's base URL, where load goes
	admin   string
	ports   map[string]int
	runDir  string
	tofu    string
	load    *loadgen.Generator
	edgeSrv *edgeproxy.Server
	// worker runs the releases; workerEnv starts another like it.
	worker    *workerProc
	workerEnv []string
}

// newSlotted starts the edge proxy (blue and green at weight 0), writes the
// runbook with metrics (a YAML block) and starts a worker that can reach the
// proxy's admin API and run OpenTofu.
func newSlotted(t testing.TB, r *rig, metricsFor func(admin string) string) *slotted {
	return newSlottedWindow(t, r, metricsFor, 0)
}

// newSlottedWindow is newSlotted with the SLOs measured over window (0: the
// analysis interval).
func newSlottedWindow(t testing.TB, r *rig, metricsFor func(admin string) string, window time.Duration) *slotted {
	return newSlottedShape(t, r, metricsFor, canaryShape{window: window})
}

// canaryShape is what a test may change of canaryRunbook; the zero value
// is ten weights of 10, 2 s bakes, the SLOs measured over the analysis
// interval and an immediate rollback.
type canaryShape struct {
	window  time.Duration
	weights []int
	// interval is the analysis interval (0: canaryInterval).
	interval time.Duration
	bake     time.Duration
	rollback string // traffic.rollback
	// slos, when set, replaces the two default SLOs: YAML list items
	// indented under environments[0].slos.
	slos string
	// routerVia, when set, gives the admin URL the runbook names for the
	// proxy's real one: a test's stand-in in front of the router.
	routerVia func(admin string) string
	// scored weighs the SLOs (analysis.score pass 80, marginal 50): errors
	// weight 9 and critical, p99 weight 1 with an unreachable 1µs max.
	scored bool
	// envExtra is YAML added to the environment (4-space keys, each line
	// starting with a newline), e.g. on-alert.
	envExtra string
	// workerEnv is added to the worker's environment (NAME=value).
	workerEnv []string
}

// newSlottedShape is newSlotted with the canary shaped by c.
func newSlottedShape(t testing.TB, r *rig, metricsFor func(admin string) string, c canaryShape) *slotted {
	t.Helper()
	s, sampleapp := newSlots(t, r)
	token := randomToken(t)
	s.startEdge(t, token)
	var windowLine, rollbackLine string
	if c.window > 0 {
		windowLine = "\n        window: " + c.window.String()
	}
	if c.rollback != "" {
		rollbackLine = "\n      rollback: " + c.rollback
	}
	weights := c.weights
	if weights == nil {
		weights = make([]int, 10)
		for i := range weights {
			weights[i] = 10 * (i + 1)
		}
	}
	interval := c.interval
	if interval == 0 {
		interval = canaryInterval
	}
	bake := c.bake
	if bake == 0 {
		bake = 2 * time.Second
	}
	admin := s.admin
	if c.routerVia != nil {
		admin = c.routerVia(s.admin)
	}
	analysis, errorsWeight, p99Max := "", "", "1s"
	if c.scored {
		analysis = "\n    analysis: {score: {pass: 80, marginal: 50}}"
		errorsWeight, p99Max = "\n        weight: 9\n        critical: true", "1us"
	}
	s.path, _ = r.writeRunbook("runbook.yaml", canaryRunbook, map[string]any{
		"Binary": sampleapp, "Module": filepath.Join(repoRoot(t), "infra", "local"), "RunDir": s.runDir,
		"Admin": admin, "BluePort": s.ports["blue"], "GreenPort": s.ports["green"],
		"Metrics": metricsFor(s.admin), "Weights": weights, "Window": windowLine,
		"Bake": bake.String(), "Interval": interval.String(), "Rollback": rollbackLine, "SLOs": c.slos,
		"Analysis": analysis + c.envExtra, "ErrorsWeight": errorsWeight, "P99Max": p99Max,
	})
	t.Cleanup(s.destroy)
	s.workerEnv = append([]string{terraform.BinEnv + "=" + s.tofu, "E2E_EDGE_TOKEN=" + token}, c.workerEnv...)
	s.worker = r.startWorker(s.workerEnv...)
	return s
}

// newSlots reserves the two slots' ports and pins the sample app, the parts
// every router's variant shares; the router and the runbook are the caller's.
func newSlots(t testing.TB, r *rig) (*slotted, string) {
	s := &slotted{r: r, runDir: filepath.Join(r.dir, "run"), tofu: tofuBin(t),
		ports: map[string]int{"blue": appPort(t), "green": appPort(t)}}
	_, sampleapp := binaries(t)
	var err error
	if s.digest, err = artifact.FileDigest(sampleapp); err != nil {
		t.Fatal(err)
	}
	return s, sampleapp
}

func randomToken(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startEdge runs the real edge proxy in the test process on free ports.
func (s *slotted) startEdge(t testing.TB, token string) {
	logPath := filepath.Join(s.r.dir, "edge.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = logf.Close()
		if t.Failed() {
			t.Logf("edge log:\n%s", tail(logPath, 30))
		}
	})
	srv, err := edgeproxy.New(edgeproxy.Config{
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: token,
		StateFile: filepath.Join(s.r.dir, "edge.json"),
		Logger:    slog.New(slog.NewTextHandler(logf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var specs []edgeproxy.BackendSpec
	for _, slot := range []string{"blue", "green"} {
		specs = append(specs, edgeproxy.BackendSpec{Name: slot, URL: fmt.Sprintf("http://127.0.0.1:%d", s.ports[slot])})
	}
	if _, err := srv.Seed(specs); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	s.edgeSrv = srv
	s.proxy, s.admin = "http://"+srv.ProxyAddr(), "http://"+srv.AdminAddr()
}

// startLoad puts 100 requests a second through the proxy until the test ends.
func (s *slotted) startLoad(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	g, err := loadgen.Start(ctx, loadgen.Options{URL: s.proxy + "/", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); t.Logf("load: %s", g.Stop()) })
	s.load = g
}

// weights reads the proxy's weights directly.
func (s *slotted) weights() map[string]int {
	out := map[string]int{}
	for _, b := range s.edgeSrv.Backends() {
		out[b.Name] = b.Weight
	}
	return out
}

// release deploys version and waits until it finished.
func (s *slotted) release(version string) workflows.ReleaseStatus {
	id := s.r.deploy(s.path, s.digest, version, requester)
	return s.r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
}

// fault makes the app in slot answer error-rate of its requests with 500.
func (s *slotted) fault(slot string, rate float64) {
	s.r.t.Helper()
	u := fmt.Sprintf("http://127.0.0.1:%d/fault", s.ports[slot])
	resp, err := http.PostForm(u, url.Values{"error-rate": {strconv.FormatFloat(rate, 'g', -1, 64)}})
	if err != nil {
		s.r.t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.r.t.Fatalf("POST %s: HTTP %d", u, resp.StatusCode)
	}
}

// destroy tears down both slots' OpenTofu workspaces and kills leftovers.
func (s *slotted) destroy() {
	acts := &terraform.Activities{Bin: s.tofu, StateDir: filepath.Join(s.r.dir, "state", "state")}
	for slot, port := range s.ports {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		ws := terraform.Workspace{
			Service: s.r.service, Environment: "production", Slot: slot, Module: filepath.Join(repoRoot(s.r.t), "infra", "local"),
			Vars:    map[string]string{"binary": "/bin/true", "app_version": "0.0.0", "slot": slot, "port": strconv.Itoa(port), "run_dir": s.runDir},
			Version: "0.0.0",
		}
		if _, err := acts.Destroy(ctx, terraform.DestroyInput{Workspace: ws}); err != nil {
			s.r.t.Logf("cleanup: tofu destroy of slot %s: %v", slot, err)
		}
		cancel()
	}
	files, _ := filepath.Glob(filepath.Join(s.runDir, "*.pid"))
	for _, f := range files {
		if pid, err := readPid(f); err == nil && isSampleApp(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// historyEvents counts the events of a workflow's current run.
func (r *rig) historyEvents(id string) int {
	it := r.rc.Temporal.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			r.t.Fatalf("history of %s: %v", id, err)
		}
		n++
	}
	return n
}

func edgeMetrics(admin string) string {
	return "      provider: edge\n      options:\n        url: " + admin + "/metrics"
}

// TestCanaryUnderLoad: a first install takes all traffic at once, a
// ten-weight canary moves the next version over while every round passes,
// and a third version that starts failing mid-canary is taken out of
// traffic automatically, then its slot is restored.
func TestCanaryUnderLoad(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary")
	s := newSlotted(t, r, edgeMetrics)
	s.startLoad(t)

	// 1.0.0: no slot has traffic yet; blue, the first by name, counts as
	// live and green takes all traffic at once.
	st := s.release("1.0.0")
	if st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	if w := s.weights(); w["green"] != 100 || w["blue"] != 0 {
		t.Fatalf("after the first install the proxy has %v, want green 100 blue 0", w)
	}
	if d := step(t, env(t, st, "production"), workflows.BuiltinSlots).Detail; !strings.Contains(d, "first install") {
		t.Errorf("select-slot detail %q, want it to say first install", d)
	}

	// 2.0.0: a canary from green to blue under load, every round passing.
	before := s.load.Snapshot()
	st = s.release("2.0.0")
	during := s.load.Snapshot().Sub(before)
	if st.State != workflows.StateSucceeded {
		t.Fatalf("canary 2.0.0: %s (%s)", st.State, st.Reason)
	}
	prod := env(t, st, "production")
	tr := prod.Traffic
	if tr == nil || tr.Live != "green" || tr.Target != "blue" || tr.Weights["blue"] != 100 || tr.Phase != 10 || tr.Phases != 10 {
		t.Fatalf("canary 2.0.0 traffic status %+v, want green live, blue target at 100 after weight 10 of 10", tr)
	}
	if len(tr.Rounds) == 0 {
		t.Fatalf("no analysis rounds in the status")
	}
	for _, round := range tr.Rounds {
		if round.Verdict != "pass" || len(round.Measurements) != 2 {
			t.Errorf("round %d: %s with %d measurements, want pass with 2", round.Round, round.Verdict, len(round.Measurements))
		}
	}
	if during.ServerErrors != 0 || during.ByVersion["2.0.0"] == 0 || during.ByVersion["1.0.0"] == 0 {
		t.Errorf("load during the canary: %s; want no 5xx and answers from both versions", during)
	}
	id2 := workflows.ReleaseID(r.service, "2.0.0")
	events := r.historyEvents(id2) + r.historyEvents(prod.WorkflowID)
	t.Logf("ten-weight canary: %d history events (release + environment)", events)
	if events >= 1000 {
		t.Errorf("a ten-weight canary wrote %d history events, want well under 1000", events)
	}
	if res := r.cli("status", id2); !strings.Contains(res.stdout, "round") || !strings.Contains(res.stdout, "PASS") {
		t.Errorf("runbook status shows no analysis rounds:\n%s", res)
	}
	r.exportRelease(t, st, "production", "canary-ten-weights")

	// 3.0.0 goes to green; it starts failing at its third weight.
	id3 := r.deploy(s.path, s.digest, "3.0.0", requester)
	watch := r.watchAsync(id3)
	r.waitFor(id3, "canary 3.0.0 at weight 3", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 3
	})
	s.fault("green", 1)
	faultAt := time.Now()
	res := awaitResult(t, watch, "runbook watch "+id3)
	st = r.status(id3)
	prod = env(t, st, "production")
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 3.0.0 is %s (%s), want rolled-back after an SLO breach", st.State, st.Reason)
	}
	if res.code == 0 || !strings.Contains(res.stderr+res.stdout, "errors fail") {
		t.Errorf("watch of the breached release: want a non-zero exit naming the failing measurement, got %s", res)
	}
	if w := s.weights(); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the breach the proxy has %v, want blue 100 green 0", w)
	}
	if d := prod.Traffic.Decisive; d == nil || d.Verdict != "fail" {
		t.Errorf("decisive round %+v, want the failing one", d)
	}
	lastBad := s.load.LastSeen("3.0.0")
	t.Logf("3.0.0 failing to all traffic back on blue: %s (analysis interval %s); reverted at %s",
		lastBad.Sub(faultAt).Round(time.Millisecond), canaryInterval, prod.Traffic.RevertedAt.Sub(faultAt).Round(time.Millisecond))
	comps := prod.Compensations
	if len(comps) != 2 || comps[0].Step != "canary" || comps[1].Step != "provision" || comps[1].State != workflows.StateDone {
		t.Errorf("compensations %+v, want canary (traffic) then provision restored", comps)
	}
	after := s.load.Snapshot()
	eventually(t, "load answered only by 2.0.0 again", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 50 && d.ByVersion["2.0.0"] == d.Requests
	})
	if !hasAuditOutcome(r.auditRecords(id3), "traffic.breach", "canary", workflows.StateFailed) {
		t.Errorf("the audit log has no traffic.breach record for the canary step")
	}
	r.exportRelease(t, st, "production", "canary-breach-immediate-rollback")
}

// TestCanaryWithPrometheus: the same canary with the SLOs read from a real
// Prometheus that scrapes the edge proxy; a fault is caught through PromQL.
func TestCanaryWithPrometheus(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-prom")
	var promSrv *prom.Server
	// Prometheus's rate() wants a few scrapes in its range: a 4 s window.
	s := newSlottedWindow(t, r, func(admin string) string {
		u, _ := url.Parse(admin)
		promSrv = prom.Start(t, u.Host)
		return "      provider: prometheus\n      options:\n        url: " + promSrv.URL
	}, 4*time.Second)
	// The first scrapes, not a release, should be what waits for Prometheus.
	promSrv.WaitForData(t, `edge_requests_total{backend="green"}`, time.Minute)
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install with prometheus SLOs: %s (%s)", st.State, st.Reason)
	}
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitFor(id, "canary 2.0.0 at weight 2", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 2
	})
	s.fault("blue", 1)
	st := r.waitFor(id, "2.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 2.0.0 is %s (%s), want rolled-back after an SLO breach seen through Prometheus", st.State, st.Reason)
	}
	if w := s.weights(); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the breach the proxy has %v, want green 100 blue 0", w)
	}
}

// TestCanarySurvivesWorkerCrash: the worker is killed (SIGKILL) while a
// canary weight bakes; a new worker picks the release up where it was and
// finishes it, under load, without a weight being set twice or out of order.
func TestCanarySurvivesWorkerCrash(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-crash")
	s := newSlotted(t, r, edgeMetrics)
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	seen := s.watchWeight("blue")
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitFor(id, "canary 2.0.0 baking at weight 4", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 4
	})
	s.worker.kill(t)
	s.worker = r.startWorker(s.workerEnv...)
	st := r.waitFor(id, "2.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("canary after a worker crash: %s (%s)", st.State, st.Reason)
	}
	checkBlueRose(t, s.weights(), seen())
}

// watchWeight polls the proxy until the test ends and returns a function
// listing every distinct weight of slot seen so far, in order.
func (s *slotted) watchWeight(slot string) func() []int {
	var mu sync.Mutex
	var seen []int
	done := make(chan struct{})
	s.r.t.Cleanup(func() { close(done) })
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			w := s.weights()[slot]
			mu.Lock()
			if n := len(seen); n == 0 || seen[n-1] != w {
				seen = append(seen, w)
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), seen...)
	}
}

// TestCanaryWithoutTrafficHoldsForAPerson: with no load at all the analysis
// has nothing to judge, so the release holds at its weight, paused by
// analysis, instead of passing; `runbook promote` accepts it.
func TestCanaryWithoutTrafficHoldsForAPerson(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-quiet")
	s := newSlotted(t, r, edgeMetrics)
	id := r.deploy(s.path, s.digest, "1.0.0", requester)
	st := r.waitFor(id, "held by the analysis", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Paused && e.Traffic != nil && e.Traffic.Hold != ""
	})
	e := env(t, st, "production")
	if e.PausedBy != "analysis" || !strings.Contains(e.Traffic.Hold, "inconclusive") {
		t.Fatalf("held environment: paused by %q, hold %q; want paused by analysis, inconclusive", e.PausedBy, e.Traffic.Hold)
	}
	if res := r.cli("status", id); !strings.Contains(res.stdout, "HELD: analysis inconclusive") {
		t.Errorf("runbook status does not show the hold:\n%s", res)
	}
	if w := s.weights(); w["green"] != 100 {
		t.Errorf("while held the proxy has %v, want the weight kept (green 100)", w)
	}
	r.mustCLI("promote", id, "--as", "erin", "--reason", "no traffic at night; checked by hand")
	st = r.waitFor(id, "finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("after the promote the release is %s (%s), want succeeded", st.State, st.Reason)
	}
	if !hasAudit(r.auditRecords(id), "traffic.promoted", "erin", "canary") {
		t.Errorf("the audit log has no traffic.promoted record by erin")
	}
}

// checkBlueRose checks the proxy ends with blue 100 and green 0, and that
// blue's weight, as seen along the way, never went down: a canary resumed
// after a crash moves on, never back.
func checkBlueRose(t *testing.T, w map[string]int, got []int) {
	t.Helper()
	if w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the canary the proxy has %v, want blue 100 green 0", w)
	}
	t.Logf("blue's weights seen: %v", got)
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Errorf("blue's weight went down from %d to %d: %v", got[i-1], got[i], got)
		}
	}
}

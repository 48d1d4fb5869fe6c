package test

// Progressive delivery through a real HAProxy: the slots are sample apps
// started by real OpenTofu behind HAProxy's backend, the worker moves the
// weights over the admin socket, and the SLOs are PromQL over HAProxy's own
// per-server metrics (its built-in Prometheus exporter) scraped by a real
// Prometheus.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/activities/traffic/haproxy"
	"github.com/runbookhq/runbook/internal/testenv/haproxyd"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

// haproxyCanaryRunbook is canaryRunbook with HAProxy as the router and only
// the built-in error-ratio and latency SLOs: the haproxy preset measures
// them on HAProxy's exporter (the 5xx ratio and, as the exporter has no
// latency histogram, the average response time of the slot's server).
const haproxyCanaryRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.X.Binary}}
policy:
  destructive-changes-need-approval: false
environments:
  - name: production
    traffic:
      provider: haproxy
      options:
        socket: {{.X.Socket}}
        backend: {{.X.Backend}}
        state-file: {{.X.StateFile}}
      slots:
        blue:
          port: "{{.X.BluePort}}"
        green:
          port: "{{.X.GreenPort}}"
    metrics:
      provider: prometheus
      options:
        url: {{.X.Prometheus}}
    slos:
      - name: errors
        error-ratio: 0.05
      - name: response-time
        latency: {percentile: 99, max: 500ms}
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
          analysis-interval: 2s
          steps:
            - weight: 20
              bake: 2s
            - weight: 50
              bake: 2s
            - weight: 100
              bake: 2s
`

// newHAProxySlotted is newSlotted with HAProxy instead of the edge proxy:
// HAProxy in front of the two slot ports with its exporter scraped by
// Prometheus, both servers at weight 0 (nothing released yet), and a worker
// that can run OpenTofu. The edge-only parts of slotted stay unset.
func newHAProxySlotted(t *testing.T, r *rig) (*slotted, *haproxyd.HAProxy) {
	t.Helper()
	s, sampleapp := newSlots(t, r)
	var servers []haproxyd.Server
	for _, slot := range []string{"blue", "green"} {
		servers = append(servers, haproxyd.Server{Name: slot, URL: fmt.Sprintf("http://127.0.0.1:%d", s.ports[slot])})
	}
	h := haproxyd.Start(t, servers...)
	s.proxy = h.URL
	promSrv := prom.Start(t, addPromExporter(t, h))

	// haproxyd configures every server at weight 50; the workflow would
	// read that as two live slots. Weight 0 on both is a router nobody has
	// released through yet: the first release is a first install.
	router, err := haproxy.New(h.Options())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := router.SetWeights(ctx, map[string]int{"blue": 0, "green": 0}); err != nil {
		t.Fatal(err)
	}
	// The first scrapes, not a release's first analysis, should be what
	// waits for Prometheus.
	promSrv.WaitForData(t, fmt.Sprintf(`haproxy_server_http_responses_total{proxy=%q,server="green"}`, haproxyd.Backend), time.Minute)

	opts := h.Options()
	s.path, _ = r.writeRunbook("runbook.yaml", haproxyCanaryRunbook, map[string]any{
		"Binary": sampleapp, "Module": filepath.Join(repoRoot(t), "infra", "local"), "RunDir": s.runDir,
		"Socket": opts[haproxy.OptSocket], "Backend": opts[haproxy.OptBackend], "StateFile": opts[haproxy.OptStateFile],
		"BluePort": s.ports["blue"], "GreenPort": s.ports["green"], "Prometheus": promSrv.URL,
	})
	t.Cleanup(s.destroy)
	r.startWorker(terraform.BinEnv + "=" + s.tofu)
	return s, h
}

// addPromExporter adds a frontend serving HAProxy's built-in Prometheus
// exporter to h's configuration and reloads HAProxy, returning the
// exporter's host:port. haproxyd generates no such frontend; a reload is
// how an operator would add one too. It runs before any traffic, so the
// counters the reload resets hold nothing yet.
func addPromExporter(t *testing.T, h *haproxyd.HAProxy) string {
	t.Helper()
	// appPort, not a plain free port: it cannot be one another test of
	// this binary has promised to a sample app that OpenTofu starts later.
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	f, err := os.OpenFile(filepath.Join(h.Dir, "haproxy.cfg"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\nfrontend prometheus\n    bind %s\n    http-request use-service prometheus-exporter if { path /metrics }\n", addr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("adding the exporter frontend to haproxy.cfg: %v", err)
	}
	h.Reload(t)
	return addr
}

// haproxyWeights reads every slot's current weight from HAProxy's admin
// socket, apart from the router under test.
func haproxyWeights(t *testing.T, h *haproxyd.HAProxy) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, slot := range []string{"blue", "green"} {
		cmd := fmt.Sprintf("get weight %s/%s", haproxyd.Backend, slot)
		ans, err := h.Command(cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		// The answer is "<current> (initial <configured>)".
		f := strings.Fields(ans)
		if len(f) == 0 {
			t.Fatalf("%s: empty answer", cmd)
		}
		if out[slot], err = strconv.Atoi(f[0]); err != nil {
			t.Fatalf("%s: answer %q is no weight", cmd, ans)
		}
	}
	return out
}

// TestCanaryThroughHAProxy: with load through a real HAProxy, a first
// install gives the new slot all traffic at once; a three-weight canary,
// judged every round by PromQL over HAProxy's own per-server metrics, moves
// the next version over; and a third version that starts answering 500 at
// its second weight is taken out of traffic by the breach, HAProxy's
// weights back on the live slot and the slot's provisioning restored.
func TestCanaryThroughHAProxy(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-haproxy")
	s, h := newHAProxySlotted(t, r)
	s.startLoad(t)

	// 1.0.0: both weights 0, so blue (first by name) counts as live and
	// green takes all traffic at once.
	st := s.release("1.0.0")
	if st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	if w := haproxyWeights(t, h); w["green"] != 100 || w["blue"] != 0 {
		t.Fatalf("after the first install HAProxy has %v, want green 100 blue 0", w)
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
	tr := env(t, st, "production").Traffic
	if tr == nil || tr.Provider != "haproxy" || tr.Live != "green" || tr.Target != "blue" || tr.Weights["blue"] != 100 || tr.Phase != 3 || tr.Phases != 3 {
		t.Fatalf("canary 2.0.0 traffic status %+v, want haproxy with green live, blue target at 100 after weight 3 of 3", tr)
	}
	if len(tr.Rounds) < 3 {
		t.Errorf("%d analysis rounds in the status, want one per weight at least", len(tr.Rounds))
	}
	for _, round := range tr.Rounds {
		if round.Verdict != "pass" || len(round.Measurements) != 2 {
			t.Errorf("round %d: %s with %d measurements, want pass with 2", round.Round, round.Verdict, len(round.Measurements))
		}
	}
	if w := haproxyWeights(t, h); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the canary HAProxy has %v, want blue 100 green 0", w)
	}
	if during.ServerErrors != 0 || during.ByVersion["2.0.0"] == 0 || during.ByVersion["1.0.0"] == 0 {
		t.Errorf("load during the canary: %s; want no 5xx and answers from both versions", during)
	}
	res := runCLI(t, cleanEnviron(), "", "slo", "check", s.path, "--env", "production", "--slot", "blue", "-o", "json")
	rep := decodeSLOReport(t, res)
	if res.code != 0 || len(rep.Results) != 2 {
		t.Errorf("slo check on the live slot: want exit 0 with 2 results; got %s", res)
	}
	for _, r := range rep.Results {
		if r.Verdict != "pass" || r.From != "preset haproxy" || r.Value == nil {
			t.Errorf("slo check %s on %s: %+v, want a pass with a value from preset haproxy", r.SLO, r.Slot, r)
		}
	}

	// 3.0.0 goes to green; it starts failing at its second weight.
	id3 := r.deploy(s.path, s.digest, "3.0.0", requester)
	r.waitFor(id3, "canary 3.0.0 at weight 2", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 2
	})
	s.fault("green", 1)
	faultAt := time.Now()
	st = r.waitFor(id3, id3+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 3.0.0 is %s (%s), want rolled-back after an SLO breach seen through Prometheus", st.State, st.Reason)
	}
	prod := env(t, st, "production")
	if w := haproxyWeights(t, h); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the breach HAProxy has %v, want blue 100 green 0", w)
	}
	d := prod.Traffic.Decisive
	if d == nil || d.Verdict != "fail" || len(d.Measurements) == 0 || d.Measurements[0].Check != "errors" || d.Measurements[0].Verdict != "fail" {
		t.Errorf("decisive round %+v, want the one where errors failed", d)
	}
	t.Logf("3.0.0 failing to all traffic back on blue: reverted %s after the fault (analysis interval 2s)",
		prod.Traffic.RevertedAt.Sub(faultAt).Round(time.Millisecond))
	comps := prod.Compensations
	if len(comps) != 2 || comps[0].Step != "canary" || comps[1].Step != "provision" || comps[1].State != workflows.StateDone {
		t.Errorf("compensations %+v, want canary (traffic) then provision restored", comps)
	}
	after := s.load.Snapshot()
	eventually(t, "load answered only by 2.0.0 again", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 50 && d.ByVersion["2.0.0"] == d.Requests
	})

	// Runtime weights die with HAProxy's worker; the runbook's state-file
	// option is what carries the rollback's weights over a reload.
	h.Reload(t)
	if w := haproxyWeights(t, h); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after a reload HAProxy has %v, want the state file's blue 100 green 0", w)
	}
}

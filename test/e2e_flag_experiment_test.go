package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/flagd"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

// experimentRunbook: new-checkout goes to 50% and, after the bake, the
// conversion rate of the subjects it is on for is compared with the
// others', from a real Prometheus scraping the sample app.
const experimentRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    identity: unsigned
    metrics:
      provider: prometheus
      options: {url: "{{.X.Prom}}"}
      preset: none
      templates:
        conversion:
          good: sum(increase(sampleapp_conversions_total{variant="${variant}"}[${window}]))
          total: sum(increase(sampleapp_checkouts_total{variant="${variant}"}[${window}]))
    flags:
      provider: file
      options: {path: "{{.X.Flags}}"}
    steps:
      - name: new-checkout
        flag:
          flags: [new-checkout]
          experiment: {metric: conversion, kind: rate, max-harm: 0.05, confidence: 0.95, min-samples: 100}
          stages:
            - {percentage: 50, bake: 8s}
            - {percentage: 100}
`

// TestFlagExperimentDetectsAConversionDrop: with equal conversion rates the
// experiment passes and the flag reaches everyone; with the treatment's
// rate dropped from 0.30 to 0.10 the 50% stage fails with harm, the flag
// is restored, and status and audit show the effect and the confidence.
func TestFlagExperimentDetectsAConversionDrop(t *testing.T) {
	t.Parallel()
	r := newRig(t, "flagexp")
	flagsFile := filepath.Join(r.dir, "flags.json")
	own := `{"flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}`
	if err := os.WriteFile(flagsFile, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &slotted{r: r, ports: map[string]int{"blue": appPort(t), "green": appPort(t)}}
	s.startEdge(t, randomToken(t))
	green := startSampleAppOn(t, s.ports["green"], "1.0.0", "--flags", flagsFile)
	if err := s.edgeSrv.SetWeights(map[string]int{"green": 100, "blue": 0}); err != nil {
		t.Fatal(err)
	}
	p := prom.Start(t, strings.TrimPrefix(green, "http://"))
	startCheckoutLoad(t, s)
	p.WaitForData(t, `sampleapp_checkouts_total{variant="off"}`, 30*time.Second)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", experimentRunbook, map[string]any{"Prom": p.URL, "Flags": flagsFile})

	id := r.deploy(path, digest, "feature-1", requester)
	st := r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	f := env(t, st, "production").Flags[0]
	if st.State != workflows.StateSucceeded || f.Experiment == nil || f.Experiment.Verdict != metrics.ExperimentPass {
		t.Fatalf("equal rates: release %s (%s), experiment %+v; want succeeded with the experiment passed", st.State, st.Reason, f.Experiment)
	}
	t.Logf("equal rates: %s", f.Experiment.Detail)

	resetFlag(t, flagsFile, own)
	postConversion(t, green, "conversion-on=0.1&conversion-off=0.3")
	id2 := r.deploy(path, digest, "feature-2", requester)
	st = r.waitFor(id2, id2+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	prod := env(t, st, "production")
	x := prod.Flags[0].Experiment
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "experiment harm") || prod.Flags[0].Rollout != "off" {
		t.Fatalf("conversion drop: release %s (%s), flag %+v; want rolled back on the experiment's harm with the flag off", st.State, st.Reason, prod.Flags[0])
	}
	if x == nil || x.Verdict != metrics.ExperimentHarm || !(x.Effect < -0.1 && x.Effect > -0.3) || x.Confidence != 0.95 || !(x.CIHigh < 0) {
		t.Errorf("experiment %+v, want harm with an effect near -0.2 and a 95%% interval below 0", x)
	}
	t.Logf("conversion drop: %s", x.Detail)
	exportHistory(t, stack.client, prod.WorkflowID, prod.RunID, "environment-flag-experiment-harm")
	if doc, _ := flagd.Read(flagsFile); flags.RolloutOf(doc.Flags["new-checkout"]).On {
		t.Errorf("the flag file still has new-checkout on after the harm")
	}
	audited := false
	for _, rec := range r.auditRecords(id2) {
		d := fmt.Sprint(rec["detail"])
		audited = audited || rec["action"] == workflows.ActionFlagExperiment && strings.Contains(d, "harm") && strings.Contains(d, "95% CI")
	}
	if !audited {
		t.Errorf("no flag.experiment audit record with the harm and its confidence interval")
	}
	if out := r.mustCLI("status", id2).stdout; !strings.Contains(out, "experiment conversion: harm; conversion") {
		t.Errorf("runbook status does not show the experiment:\n%s", out)
	}
}

// startCheckoutLoad sends load through the proxy to the checkout path, as
// the experiment's metric counts checkouts.
func startCheckoutLoad(t testing.TB, s *slotted) {
	ctx, cancel := context.WithCancel(context.Background())
	g, err := loadgen.Start(ctx, loadgen.Options{URL: s.proxy + "/checkout", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); t.Logf("load: %s", g.Stop()) })
	s.load = g
}

// resetFlag writes the flag's own definition back between releases, so
// the next one starts from off whatever the last left.
func resetFlag(t testing.TB, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// postConversion sets the sample app's conversion rates per variant.
func postConversion(t testing.TB, base, query string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/feature-fault?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /feature-fault?%s: HTTP %d", query, resp.StatusCode)
	}
}

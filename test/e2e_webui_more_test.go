package test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/internal/testenv/webui"
	"github.com/runbookhq/runbook/workflows"
)

// TestWebUIReleaseHeldByFreeze opens a release whose production deploy step
// a freeze holds in the real Temporal Web UI, in headless Chromium: the
// release's and the environment's current details say HELD by which freeze
// and how to lift it, without scrolling inside the details frame. The
// freeze is then lifted and the release finishes.
func TestWebUIReleaseHeldByFreeze(t *testing.T) {
	t.Parallel()
	r := newRig(t, "webui-freeze")
	r.inNamespace(freezeNamespace)
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", freezeRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(id, "gate go waiting", gateWaiting("production", "go"))
	frz := r.createFreeze("--env", "production", "--service", r.service, "--for", "1h", "--reason", "holiday peak")
	r.mustCLI("approve", id, "--as", "bob")
	st := r.waitFor(id, "production deploy held by the freeze", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Name == "production" && strings.Contains(stepDetail(e, "deploy"), "held by freeze "+frz+" ")
	})
	prod := env(t, st, "production")
	held, lift := "HELD: step deploy held by freeze "+frz, "runbook freeze lift "+frz

	b := webui.Start(t)
	from := uiPageIn(t, b, freezeNamespace, id, runIDOf(t, r.rc.Temporal, id), "user-metadata")
	details := webui.Under("Current Details")
	b.WaitInView(details, "production: "+held, uiTimeout)
	b.WaitInView(details, lift, uiTimeout)
	// The release's own line for each environment, under the blocking line.
	b.WaitInView(details, "staging: succeeded", uiTimeout)
	b.WaitInView(details, "production: running", uiTimeout)
	logFrameSize(t, b, details, "held release's current details")
	b.Screenshot("release-held-user-metadata")
	warnings := warningsSince(b, from)

	from = uiPageIn(t, b, freezeNamespace, prod.WorkflowID, prod.RunID, "user-metadata")
	b.WaitInView(details, held, uiTimeout)
	b.WaitInView(details, lift, uiTimeout)
	// The held step's own row says the same, in the table below.
	table := b.WaitText(details, "table", "deploy", uiTimeout)
	if !strings.Contains(table, "deploy\twaiting\theld by freeze "+frz) {
		t.Errorf("environment's current details: no waiting row for deploy held by %s:\n%s", frz, table)
	}
	waitRowInView(t, b, details, "deploy", workflows.StateWaiting)
	logFrameSize(t, b, details, "held environment's current details")
	b.Screenshot("environment-held-user-metadata")
	warnings = append(warnings, warningsSince(b, from)...)
	if len(warnings) > 0 {
		t.Errorf("the Web UI logged %d %q warnings on the held release's pages: %v", len(warnings), parseWarning, warnings)
	}

	r.mustCLI("freeze", "lift", frz, "--reason", "peak over", "--as", "cab")
	st = r.waitFor(id, "release finished after the lift", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "staging", "production")
}

// TestWebUIRolledBackCanary opens the environment of a canary that breached
// its SLO and rolled back in the real Web UI: its current details show the
// final state in the header line and the failed step's row without
// scrolling, and carry the rollback plan.
func TestWebUIRolledBackCanary(t *testing.T) {
	t.Parallel()
	r := newRig(t, "webui-canary")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 60}, bake: 6 * time.Second})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitFor(id, "canary baking at weight 1", canaryPhaseBaking(1))
	s.fault("blue", 1)
	st := r.waitFor(id, "2.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release 2.0.0 is %s (%s), want rolled-back after an SLO breach", st.State, st.Reason)
	}
	prod := env(t, st, "production")
	failed := failedStep(t, prod)
	if failed.Name != "canary" {
		t.Errorf("the step that failed is %s (%s), want canary", failed.Name, failed.Error)
	}

	b := webui.Start(t)
	from := uiPage(t, b, prod.WorkflowID, prod.RunID, "user-metadata")
	details := webui.Under("Current Details")
	// The header line: "**<service> 2.0.0 → production**: rolled-back — <reason>".
	b.WaitText(details, "body", r.service+" 2.0.0 → production: "+workflows.StateRolledBack, uiTimeout)
	b.WaitInView(details, ": "+workflows.StateRolledBack, uiTimeout)
	table := b.WaitText(details, "table", failed.Name, uiTimeout)
	row := failed.Name + "\t" + failed.State
	if !strings.Contains(table, row) {
		t.Errorf("environment's current details: no row %q in the step table:\n%s", row, table)
	}
	waitRowInView(t, b, details, failed.Name, failed.State)
	b.WaitInView(details, "Rollback plan", uiTimeout)
	// The plan's last compensation, the frame's last line of text.
	if n := len(prod.Compensations); n == 0 {
		t.Errorf("rolled-back production has no rollback plan in its status")
	} else {
		b.WaitInView(details, prod.Compensations[n-1].Step+": "+prod.Compensations[n-1].Action, uiTimeout)
	}
	logFrameSize(t, b, details, "rolled-back environment's current details")
	b.Screenshot("environment-rolled-back-user-metadata")
	if w := warningsSince(b, from); len(w) > 0 {
		t.Errorf("the Web UI logged %d %q warnings on the rolled-back environment's page: %v", len(w), parseWarning, w)
	}
}

// failedStep is the step whose failure ended the environment: the one
// with an error. Once rolled back its state is compensated, not failed.
func failedStep(t *testing.T, e workflows.EnvironmentStatus) workflows.StepStatus {
	t.Helper()
	for _, s := range e.Steps {
		if s.Error != "" {
			return s
		}
	}
	t.Fatalf("%s has no step with an error: %+v", e.Name, e.Steps)
	return workflows.StepStatus{}
}

// uiPageIn is uiPage for a workflow in namespace ns.
func uiPageIn(t *testing.T, b *webui.Browser, ns, id, runID, tab string) int {
	t.Helper()
	before := len(b.Console())
	if err := b.Open(workflowURLIn(ns, id, runID, tab)); err != nil {
		t.Fatal(err)
	}
	b.WaitText(webui.Top, "[data-testid=workflow-id-heading]", id, uiTimeout)
	b.WaitText(webui.Top, "[aria-selected=true][role=tab]", "", uiTimeout)
	return before
}

// runIDOf returns the run ID of a workflow through c (and c's namespace).
func runIDOf(t *testing.T, c client.Client, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// rowInViewJS finds the table row whose first cell is %s and reports, for
// its first cell, its cell in column %d (0-based) and its last cell, what
// hides the cell's text ("" when nothing: it lies inside the frame's
// viewport and every box around it that clips), that is, what a person
// sees of the row without scrolling.
const rowInViewJS = `(() => {
  const row = [...document.querySelectorAll("tr")].find(tr => tr.cells.length > %[2]d && tr.cells[0].innerText.trim() === %[1]s);
  if (!row) return {Found: false};
  const vis = (el) => {
    const r = document.createRange(); r.selectNodeContents(el);
    const box = r.getBoundingClientRect();
    const out = (c) => box.top < c.top - 0.5 || box.bottom > c.bottom + 0.5 || box.left < c.left - 0.5 || box.right > c.right + 0.5;
    if (box.width === 0 && box.height === 0) return "not rendered";
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.overflowX === "visible" && s.overflowY === "visible") continue;
      if (out(e.getBoundingClientRect())) return e.tagName.toLowerCase();
    }
    return out({top: 0, left: 0, bottom: innerHeight, right: innerWidth}) ? "viewport" : "";
  };
  const last = row.cells[row.cells.length - 1];
  return {Found: true, Text: row.innerText, Name: vis(row.cells[0]), State: vis(row.cells[%[2]d]), Detail: vis(last)};
})()`

// waitRowInView polls until the step table's row of step, with state in
// its state column, is visible without scrolling; it fails the test after
// uiTimeout with what hid it.
func waitRowInView(t *testing.T, b *webui.Browser, f webui.Frame, step, state string) {
	t.Helper()
	const stateColumn = 1 // step | state | detail
	var last struct {
		Found                     bool
		Text, Name, State, Detail string
	}
	var lastErr error
	quoted, _ := json.Marshal(step)
	ctx, cancel := context.WithTimeout(context.Background(), uiTimeout)
	defer cancel()
	err := testenv.Poll(ctx, func(context.Context) (bool, error) {
		lastErr = b.Eval(f, fmt.Sprintf(rowInViewJS, quoted, stateColumn), &last)
		return lastErr == nil && last.Found && last.Name == "" && last.State == "" && strings.Contains(last.Text, state), nil
	})
	if err != nil {
		b.Screenshot("row-not-in-view")
		t.Fatalf("%s: the row of step %s (%s) is not visible without scrolling within %s: %+v (clipped by: name %q, state %q; last error %v)",
			f, step, state, uiTimeout, last, last.Name, last.State, lastErr)
	}
	t.Logf("row of step %s in view: %q", step, last.Text)
	if last.Detail != "" {
		t.Errorf("%s: the detail of step %s's row is not visible without scrolling: clipped by %s", f, step, last.Detail)
	}
}

package test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/internal/testenv/webui"
	"github.com/runbookhq/runbook/workflows"
)

// webuiRunbook is a release that stops at a production approval gate, with
// steps after the gate so the environment's step table has rows below it.
const webuiRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/staging/healthz
          interval: 250ms
  - name: production
    approvals:
      - name: change-manager
        approvers: [bob, carol]
        timeout: 1h
        instructions: Staging passed; approve to ship.
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/production/healthz
          interval: 250ms
      - name: version
        http-check:
          url: {{.X.URL}}/production/version
          interval: 250ms
`

// uiTimeout bounds each wait for the Web UI to show something.
const uiTimeout = 30 * time.Second

// parseWarning is what the Web UI logs when it cannot decode a payload.
const parseWarning = "Could not parse payload"

// workflowURLIn is a workflow run's tab in the Web UI, in namespace ns.
func workflowURLIn(ns, id, runID, tab string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/%s", stack.server.UIURL, ns, url.PathEscape(id), runID, tab)
}

// uiPage opens one tab of a workflow run in the browser and waits until the
// UI shows that run. It returns how many console messages there were
// before, so a check can look at this page's messages only.
func uiPage(t *testing.T, b *webui.Browser, id, runID, tab string) int {
	t.Helper()
	return uiPageIn(t, b, namespace, id, runID, tab)
}

// TestWebUIReleaseAtGate opens a release waiting at a production gate in the
// real Temporal Web UI, in headless Chromium, and checks what an SRE sees:
// the release's summary, the environment's current details with the gate
// and its step table (without scrolling inside the details frame), and a
// console free of payload errors. The screenshots are test artefacts.
func TestWebUIReleaseAtGate(t *testing.T) {
	t.Parallel()
	r := newRig(t, "webui")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", webuiRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "5.0.1", "alice")
	st := r.waitFor(id, "gate change-manager waiting", gateWaiting("production", "change-manager"))
	prod := env(t, st, "production")
	relRun := releaseRunID(t, id)

	b := webui.Start(t)
	// What the UI logs on the pages an SRE reads first.
	var readWarnings []string

	from := uiPage(t, b, id, relRun, "user-metadata")
	summary := fmt.Sprintf("%s 5.0.1 by alice: staging → production", r.service)
	b.WaitText(webui.Under("Summary"), "body", summary, uiTimeout)
	b.WaitText(webui.Under("Current Details"), "body", "production: running (step change-manager)", uiTimeout)
	// What blocks the release, who can move it and how, without scrolling
	// and without opening the environment.
	blocking := "production: WAITING: gate change-manager — 1 approval(s) from bob or carol by "
	b.WaitInView(webui.Under("Current Details"), blocking, uiTimeout)
	b.WaitInView(webui.Under("Current Details"), "runbook approve "+id+" --gate change-manager", uiTimeout)
	logFrameSize(t, b, webui.Under("Current Details"), "release's current details")
	b.Screenshot("release-user-metadata")
	readWarnings = append(readWarnings, warningsSince(b, from)...)

	from = uiPage(t, b, prod.WorkflowID, prod.RunID, "user-metadata")
	// The release ID reads as itself: in a code span, which the markdown
	// renderer does not typeset (it turns "1/5" into a fraction elsewhere).
	b.WaitText(webui.Under("Details"), "body", "release "+id, uiTimeout)
	b.WaitText(webui.Under("Summary"), "body", r.service+" 5.0.1 → production", uiTimeout)
	details := webui.Under("Current Details")
	b.WaitInView(details, "WAITING: gate change-manager — 1 approval(s) from bob or carol by ", uiTimeout)
	b.WaitInView(details, "runbook approve "+id+" --gate change-manager", uiTimeout)
	table := b.WaitText(details, "table", "change-manager", uiTimeout)
	for _, row := range []string{
		"step\tstate\tdetail",
		"verify-artifact\tsucceeded",
		"change-manager\twaiting\twaiting",
	} {
		if !strings.Contains(table, row) {
			t.Errorf("environment's current details: no row %q in the step table:\n%s", row, table)
		}
	}
	// The steps not started are one line under the table, and the whole
	// picture fits the frame: the waiting gate's row and what comes next.
	b.WaitInView(details, "change-manager", uiTimeout)
	b.WaitInView(details, "next: smoke → version", uiTimeout)
	logFrameSize(t, b, details, "environment's current details")
	// The waiting gate's row whole, its approvers included, and the
	// verified digest: nothing cut at the bottom or scrolled sideways.
	waitRowInView(t, b, details, "change-manager", workflows.StateWaiting)
	for _, text := range []string{"approvers: bob or carol", digest[:len("sha256:")+12]} {
		b.WaitInView(details, text, uiTimeout)
	}
	b.Screenshot("environment-user-metadata")
	readWarnings = append(readWarnings, warningsSince(b, from)...)

	for _, w := range []struct{ id, run string }{{id, relRun}, {prod.WorkflowID, prod.RunID}} {
		from = uiPage(t, b, w.id, w.run, "history")
		b.WaitText(webui.Top, "[data-testid=event-summary-table]", "", uiTimeout)
		b.Screenshot(strings.ReplaceAll(w.id, "/", "-") + "-history")
		readWarnings = append(readWarnings, warningsSince(b, from)...)
	}
	if len(readWarnings) > 0 {
		t.Errorf("the Web UI logged %d %q warnings on the history and user metadata pages: %v", len(readWarnings), parseWarning, readWarnings)
	}

	// The Search Attributes tab of Temporal UI 2.42.1 logs one warning per
	// search attribute, Temporal's own BuildIds included, although every
	// payload is valid JSON (DescribeWorkflowExecution): the UI decodes the
	// already decoded attributes a second time, and JSON.parse("") fails.
	// It is the UI's, not a runbook payload, so it is logged, not failed.
	from = uiPage(t, b, id, relRun, "search-attributes")
	b.WaitText(webui.Top, "body", "RunbookService", uiTimeout)
	b.Screenshot("release-search-attributes")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = testenv.Poll(ctx, func(context.Context) (bool, error) { return len(warningsSince(b, from)) > 0, nil })
	if w := warningsSince(b, from); len(w) > 0 {
		t.Logf("known (Temporal UI): %d %q warnings on the release's Search Attributes tab: %v", len(w), parseWarning, w)
	}
	for _, m := range b.Console() {
		if m.Type == "error" || m.IsException() {
			t.Logf("console %s", m)
		}
	}
}

// warningsSince returns the texts of the payload warnings logged after the
// first n console messages.
func warningsSince(b *webui.Browser, n int) []string {
	var out []string
	for _, m := range b.Console()[n:] {
		if strings.Contains(m.Text, parseWarning) {
			out = append(out, m.Text)
		}
	}
	return out
}

// releaseRunID returns the run ID of the release's workflow.
func releaseRunID(t *testing.T, id string) string {
	t.Helper()
	return runIDOf(t, stack.client, id)
}

// logFrameSize logs the size of a details frame and of its content: what
// does not fit is what a person must scroll to.
func logFrameSize(t *testing.T, b *webui.Browser, f webui.Frame, what string) {
	t.Helper()
	var size struct{ W, H, ScrollW, ScrollH float64 }
	if err := b.Eval(f, `({W: innerWidth, H: innerHeight, ScrollW: document.documentElement.scrollWidth, ScrollH: document.documentElement.scrollHeight})`, &size); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: frame %.0fx%.0f px, its content %.0fx%.0f px", what, size.W, size.H, size.ScrollW, size.ScrollH)
}

package test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runbookhq/runbook/workflows"
)

// TestSlackGateLinksReport: a worker that serves reports and knows where
// people reach them (RUNBOOK_REPORTS_URL) posts the gate message with a
// Report link signed with its token; the link opens the release's report
// on the worker without the token, and appears in no workflow history.
func TestSlackGateLinksReport(t *testing.T) {
	t.Parallel()
	token := randomToken(t)
	// REPORTS_* is outside RUNBOOK_ENV_ALLOW (E2E_*): no runbook can read it.
	r, s, id, gate := openSlackGate(t, "slackrep", "RUNBOOK_REPORTS_TOKEN=env:REPORTS_E2E_TOKEN", "REPORTS_E2E_TOKEN="+token,
		"RUNBOOK_REPORTS_URL=https://reports.example/")
	blocks, err := gate.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, b := range blocks.BlockSet {
		if sb, ok := b.(*goslack.SectionBlock); ok && sb.Text != nil {
			text.WriteString(sb.Text.Text + "\n")
		}
	}
	m := regexp.MustCompile(`<https://reports\.example(/reports/release/[^|>]+)\|Report>`).FindStringSubmatch(text.String())
	if m == nil {
		t.Fatalf("the gate message has no Report link:\n%s", text.String())
	}
	path := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.HasPrefix(path, "/reports/release/"+id+"?") || !strings.Contains(path, "sig=") || strings.Contains(path, token) {
		t.Fatalf("Report links %q, want a signed link to %s's report without the token", path, id)
	}
	// The link names the public URL; the worker here listens on s.addr.
	code, body := getAuth(t, "http://"+s.addr+path, "")
	if code != http.StatusOK || !strings.Contains(body, "Release report: ") {
		t.Errorf("the Report link: HTTP %d, want the release's report", code)
	}
	if code, _ := getAuth(t, "http://"+s.addr+strings.Replace(path, "sig=", "sig=0", 1), ""); code != http.StatusUnauthorized {
		t.Errorf("a tampered link: HTTP %d, want 401", code)
	}
	st := r.status(id)
	for _, wf := range []workflows.EnvironmentStatus{{WorkflowID: id}, env(t, st, "production")} {
		if h := historyJSON(t, wf.WorkflowID, wf.RunID); strings.Contains(h, "sig=") || strings.Contains(h, "reports.example") {
			t.Errorf("the history of %s carries the report link", wf.WorkflowID)
		}
	}
}

// historyJSON is a workflow run's whole history as JSON.
func historyJSON(t *testing.T, workflowID, runID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	it := stack.client.GetWorkflowHistory(ctx, workflowID, runID, false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		j, _ := protojson.Marshal(ev)
		b.Write(j)
	}
	return b.String()
}

package worker

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/report"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

// TestSlackGateLinksSignedReport: the worker's Slack activity links the
// gate message to the release's report with a link signed by the
// reports token, which the report route accepts, and only for that
// release; without RUNBOOK_REPORTS_URL there is no link.
func TestSlackGateLinksSignedReport(t *testing.T) {
	fake := slackfake.New("xoxb-test")
	t.Cleanup(fake.Stop)
	acts, err := slack.New(slack.Options{APIURL: fake.URL(), Getenv: func(k string) string {
		return map[string]string{slack.EnvBotToken: "xoxb-test"}[k]
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &report.Server{Token: []byte("0123456789abcdef-token")}
	if reportLinks(srv, "") != nil || reportLinks(nil, "https://x") != nil {
		t.Fatalf("a link without a reports URL or without served reports")
	}
	acts.ReportLink = reportLinks(srv, "https://runbook.internal:8088/")
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	ae := s.NewTestActivityEnvironment()
	ae.RegisterActivity(acts)
	m := slack.GateMessage{ReleaseID: "release/checkout/1.4.2", Service: "checkout", Version: "1.4.2", Environment: "production",
		Requester: "alice", Gate: "cab", MinApprovals: 1, State: slack.StateWaiting, EnvWorkflowID: "deploy/checkout/production"}
	if _, err := ae.ExecuteActivity(acts.PostGate, slack.PostGateInput{Channel: "C0DEPLOY", Message: m}); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls(slackfake.PostMessage)
	blocks, err := calls[len(calls)-1].Blocks()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, b := range blocks.BlockSet {
		if sb, ok := b.(*goslack.SectionBlock); ok && sb.Text != nil {
			text.WriteString(sb.Text.Text + "\n")
		}
	}
	match := regexp.MustCompile(`<(https://runbook\.internal:8088/reports/release/[^|>]+)\|Report>`).FindStringSubmatch(text.String())
	if match == nil {
		t.Fatalf("the gate message has no Report link:\n%s", text.String())
	}
	u, err := url.Parse(strings.ReplaceAll(match[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != report.PathRelease+m.ReleaseID || !report.Authorized(srv.Token, u, "", time.Now()) {
		t.Errorf("link %s: path %s, want a signed link to %s's report that the route accepts", u, u.Path, m.ReleaseID)
	}
	other := *u
	other.Path = report.PathRelease + "release/checkout/9.9.9"
	if report.Authorized(srv.Token, &other, "", time.Now()) {
		t.Errorf("the link opens another release's report")
	}
	if j, _ := json.Marshal(blocks); strings.Contains(string(j), string(srv.Token)) {
		t.Errorf("the message carries the token")
	}
}

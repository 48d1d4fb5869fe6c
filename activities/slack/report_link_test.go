package slack

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGateMessageLinksTheReport: with ReportLink set (the worker serves
// reports), the posted and the updated message carry a "Report" link to
// the release's report, with the query's & escaped for Slack; without it,
// none.
func TestGateMessageLinksTheReport(t *testing.T) {
	fake, a, ae := setup(t, testToken)
	var asked []string
	a.ReportLink = func(id string) string {
		asked = append(asked, id)
		return "https://runbook.internal/reports/release/" + id + "?exp=1&sig=ab"
	}
	m := waiting()
	v, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: m})
	if err != nil {
		t.Fatal(err)
	}
	var posted PostGateResult
	if err := v.Get(&posted); err != nil {
		t.Fatal(err)
	}
	want := "<https://runbook.internal/reports/release/release/checkout/1.4.2?exp=1&amp;sig=ab|Report>"
	blocksOf := func() string {
		msg, _ := fake.Message(posted.Channel, posted.TS)
		b, err := msg.Blocks()
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(b)
		return string(j)
	}
	if got := blocksOf(); !strings.Contains(got, jsonText(want)) || !strings.Contains(got, "Temporal Web UI") {
		t.Errorf("posted blocks lack %s beside the Web UI link:\n%s", want, got)
	}
	m.State = StateApproved
	if _, err := ae.ExecuteActivity(a.UpdateGate, UpdateGateInput{Channel: posted.Channel, TS: posted.TS, Message: m}); err != nil {
		t.Fatal(err)
	}
	if got := blocksOf(); !strings.Contains(got, jsonText(want)) {
		t.Errorf("updated blocks lost the report link:\n%s", got)
	}
	if len(asked) != 2 || asked[0] != m.ReleaseID {
		t.Errorf("ReportLink asked for %v, want the release twice", asked)
	}
	a.ReportLink = nil
	j, _ := json.Marshal(a.blocks(m))
	if strings.Contains(string(j), "|Report>") {
		t.Errorf("a worker without reports links one: %s", j)
	}
}

// jsonText is s as it appears inside a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

func TestLinkURLCannotCloseTheLink(t *testing.T) {
	if got := links("", "https://x/r?a=1&b=<2>|3"); got != "<https://x/r?a=1&amp;b=%3C2%3E%7C3|Report>" {
		t.Errorf("links = %q", got)
	}
}

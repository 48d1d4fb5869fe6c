package alerts

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

func watchFailure(first time.Time) workflows.WatchFailedInput {
	return workflows.WatchFailedInput{WatchID: "watch/shop/staging", ReleaseID: "release/shop/2.0.0", Service: "shop",
		Environment: "staging", Journey: "checkout", Summary: "request read: got 500, want 200", FirstFailedAt: first}
}

// A watch failure is an alert of severity journey whose fingerprint names
// the watch and journey and whose start is the streak's first failure.
func TestJourneyAlert(t *testing.T) {
	first := time.Date(2026, 3, 2, 10, 0, 20, 0, time.UTC)
	m, a := journeyAlert(watchFailure(first))
	if a.Fingerprint != "watch/shop/staging/checkout" || !a.StartsAt.Equal(first) || a.Status != StatusFiring ||
		a.Labels["severity"] != runbooks.AlertSeverityJourney || a.Annotations["summary"] != "request read: got 500, want 200" {
		t.Errorf("alert %+v", a)
	}
	if m.channelName() != ChannelWatch || m.sourceName() != "watch watch/shop/staging" {
		t.Errorf("channel %q source %q", m.channelName(), m.sourceName())
	}
	if got := RecordID(a); got != "alert/watch/shop/staging/checkout/"+"1772445620000000000" {
		t.Errorf("record ID %s", got)
	}
	if am := (Message{ExternalURL: "http://am"}); am.channelName() != "alertmanager" || am.sourceName() != "alertmanager http://am" {
		t.Errorf("Alertmanager's message: channel %q source %q", am.channelName(), am.sourceName())
	}
}

// Without an alerts file a failure is audited once per firing, on the
// watch channel, saying that no action was configured.
func TestWatcherWithoutAlertsFileAudits(t *testing.T) {
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	w := &Watcher{Audit: log}
	ctx := context.Background()
	first := time.Date(2026, 3, 2, 10, 0, 20, 0, time.UTC)
	for range 2 {
		res, err := w.JourneyFailed(ctx, watchFailure(first))
		if err != nil {
			t.Fatal(err)
		}
		if res.Configured || res.Action != runbooks.AlertNotify || !strings.Contains(res.Detail, "no action configured") {
			t.Errorf("result %+v", res)
		}
	}
	entries, err := log.Read(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d entries, want one per firing: %+v", len(entries), entries)
	}
	e := entries[0]
	if e.Action != "alert.notify" || e.Channel != ChannelWatch || e.Release != "release/shop/2.0.0" ||
		!strings.Contains(e.Detail, "fingerprint watch/shop/staging/checkout") || !strings.Contains(e.Detail, "request read: got 500") {
		t.Errorf("entry %+v", e)
	}
}

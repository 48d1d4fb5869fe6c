package grafana

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/telemetry"
	"github.com/runbookhq/runbook/internal/testenv/grafanafake"
)

// TestAnnotatorPostsReleaseEvents: the audit entries a dashboard shows
// become annotations with their tags; others do not; Close sends what is
// queued.
func TestAnnotatorPostsReleaseEvents(t *testing.T) {
	g := grafanafake.Start(t, "glsa_test")
	a := New(g.URL, "glsa_test", nil)
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, e := range []audit.Entry{
		{Action: "release.started", Release: "rel-1", Service: "shop", Version: "1.2.0", Time: at},
		{Action: "gate.waiting", Release: "rel-1", Service: "shop", Environment: "prod"},
		{Action: "rollback.started", Release: "rel-1", Service: "shop", Version: "1.2.0", Environment: "prod", Detail: "rejected by bob"},
		{Action: "environment.finished", Release: "rel-1", Service: "shop", Version: "1.2.0", Environment: "prod", Outcome: "rolled-back"},
	} {
		a.Notify(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Close(ctx)
	got := g.Annotations()
	if len(got) != 3 {
		t.Fatalf("annotations %+v; want 3 (start, rollback, end)", got)
	}
	if got[0].Time != at.UnixMilli() || !slices.Equal(got[0].Tags, []string{"runbook", "service:shop", "release:rel-1", "kind:release-started"}) {
		t.Errorf("start annotation %+v", got[0])
	}
	if !strings.Contains(got[1].Text, "rejected by bob") || !slices.Contains(got[1].Tags, "env:prod") || !slices.Contains(got[1].Tags, "kind:rollback") {
		t.Errorf("rollback annotation %+v", got[1])
	}
	if !slices.Contains(got[2].Tags, "kind:environment-rolled-back") {
		t.Errorf("end annotation %+v", got[2])
	}
}

// TestAnnotatorCountsFailures: a refused token is logged and counted in
// runbook_grafana_annotation_failures_total, and Notify never blocks.
func TestAnnotatorCountsFailures(t *testing.T) {
	g := grafanafake.Start(t, "right")
	reg := telemetry.New()
	a := New(g.URL, "wrong", reg.Handler())
	a.Notify(audit.Entry{Action: "release.started", Release: "r", Service: "s"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Close(ctx)
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if g.Refused() != 1 || len(g.Annotations()) != 0 || !strings.Contains(b.String(), telemetry.AnnotationFailures+" 1\n") {
		t.Errorf("refused %d, accepted %d, metrics:\n%s", g.Refused(), len(g.Annotations()), b.String())
	}
}

// TestWithoutDetails: the annotation says what happened, not why.
func TestWithoutDetails(t *testing.T) {
	g := grafanafake.Start(t, "tok")
	a := New(g.URL, "tok", nil).WithoutDetails()
	a.Notify(audit.Entry{Action: "rollback.started", Release: "r", Service: "shop", Version: "1", Environment: "prod", Detail: "rejected by bob: secret plan"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Close(ctx)
	got := g.Annotations()
	if len(got) != 1 || got[0].Text != "shop 1: rollback in prod" {
		t.Errorf("annotations %+v; want the rollback without its reason", got)
	}
}

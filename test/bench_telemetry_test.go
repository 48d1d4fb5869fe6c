package test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/telemetry"
	"github.com/runbookhq/runbook/workflows"
)

// gaugeReleases is how many releases are in flight when the gauge is read:
// the 1,000 of the scale goal.
const gaugeReleases = 1000

// BenchmarkReleasesGauge prints what one uncached read of runbook_releases
// costs with 1,000 releases in flight: the visibility pages the worker
// lists at a scrape (at most one every 5 s, whatever the scrape rate).
// The releases are Release workflows on a queue no worker polls, with the
// search attributes a release at a gate has: visibility is what is
// measured, not the workflows.
func BenchmarkReleasesGauge(b *testing.B) {
	c := requireStack(b)
	r := newRig(b, "gauge")
	ctx := context.Background()
	ids := make([]string, 0, gaugeReleases)
	for i := range gaugeReleases {
		id := fmt.Sprintf("bench-gauge/%s/%d", r.service, i)
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: r.queue + "-unpolled",
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrService.ValueSet(r.service),
				workflows.AttrEnvironment.ValueSet("production"), workflows.AttrStatus.ValueSet(workflows.StateWaiting)),
		}, workflows.ReleaseWorkflowName)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	b.Cleanup(func() {
		for _, id := range ids {
			_ = c.TerminateWorkflow(context.Background(), id, "", "benchmark done")
		}
	})
	eventually(b, "visibility lists the releases", func() bool {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace,
			Query: fmt.Sprintf("%s AND RunbookService = '%s'", telemetry.ReleasesQuery, r.service)})
		return err == nil && resp.GetCount() == gaugeReleases
	})
	g := &telemetry.ReleaseGauges{Client: c, Namespace: namespace}
	read := func() string {
		var sb strings.Builder
		if err := g.WriteText(ctx, &sb); err != nil {
			b.Fatal(err)
		}
		return sb.String()
	}
	want := fmt.Sprintf(`runbook_releases{environment="production",service=%q,state="waiting"} %d`, r.service, gaugeReleases)
	if out := read(); !strings.Contains(out, want) {
		b.Fatalf("gauge lacks %s:\n%s", want, out)
	}
	const reads = 5
	start := time.Now()
	for range reads {
		read()
	}
	fmt.Printf("bench: telemetry-releases-gauge-read %d ms (%d releases in flight)\n", (time.Since(start) / reads).Milliseconds(), gaugeReleases)
	for b.Loop() {
		_ = g.WriteText(ctx, io.Discard)
	}
}

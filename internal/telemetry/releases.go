package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
)

// ReleasesQuery selects the releases in flight. A closed release's state
// is in its history for good and counted by the DORA gauges; a gauge of
// them would only grow.
const ReleasesQuery = "WorkflowType = 'Release' AND ExecutionStatus = 'Running'"

// Limits of one read of the releases in flight. Pages of 200: a page of
// 1,000 releases' search attributes is a few megabytes decoded at once, and
// gRPC keeps buffers of the largest responses pooled in the worker.
const (
	releasesPage = 200
	releasesMax  = 20_000
)

// Lister reads Temporal's visibility; client.Client is one.
type Lister interface {
	ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// ReleaseGauges renders runbook_releases: the releases in flight by
// service, environment and state, as their search attributes say now. It
// is read from Temporal at scrape time, not counted by the worker, so it
// stays true across worker restarts, several workers and releases started
// elsewhere; an answer is reused for TTL so many scrapers cost one read.
// Temporal's visibility counts by ExecutionStatus only, so the releases
// are listed (pages of 200) and counted here.
type ReleaseGauges struct {
	Client    Lister
	Namespace string
	TTL       time.Duration
	Now       func() time.Time

	mu   sync.Mutex
	at   time.Time
	body string
}

// WriteText writes the gauge, reading visibility when the cached answer is
// older than TTL. On error it writes nothing: no series is truer than a
// stale one.
func (g *ReleaseGauges) WriteText(ctx context.Context, w io.Writer) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.body == "" || now.Sub(g.at) >= g.TTL {
		counts, err := g.count(ctx)
		if err != nil {
			return err
		}
		g.body, g.at = renderReleases(counts), now
	}
	_, err := io.WriteString(w, g.body)
	return err
}

func (g *ReleaseGauges) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// releaseKey is one series of the gauge.
type releaseKey struct{ service, environment, state string }

// count pages through the releases in flight.
func (g *ReleaseGauges) count(ctx context.Context) (map[releaseKey]int, error) {
	counts := map[releaseKey]int{}
	var token []byte
	for n := 0; n < releasesMax; {
		resp, err := g.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: g.Namespace, Query: ReleasesQuery, PageSize: releasesPage, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list releases in flight: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			f := e.GetSearchAttributes().GetIndexedFields()
			counts[releaseKey{keyword(f["RunbookService"]), keyword(f["RunbookEnvironment"]), keyword(f["RunbookStatus"])}]++
		}
		n += len(resp.GetExecutions())
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return counts, nil
		}
	}
	// Say so rather than pass a cut count off as the whole.
	slog.Warn("runbook_releases counts the first releases in flight only", "counted", releasesMax)
	return counts, nil
}

// renderReleases writes the gauge's series, sorted.
func renderReleases(counts map[releaseKey]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s Releases in flight by service, current environment and state (Temporal visibility).\n# TYPE %s gauge\n", Releases, Releases)
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b releaseKey) int {
		return strings.Compare(a.service+"\x00"+a.environment+"\x00"+a.state, b.service+"\x00"+b.environment+"\x00"+b.state)
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "%s%s %d\n", Releases, renderLabels(map[string]string{
			LabelService: k.service, LabelEnvironment: k.environment, LabelState: k.state,
		}), counts[k])
	}
	return b.String()
}

// keyword decodes a Keyword search attribute; a missing one is "".
func keyword(p *commonpb.Payload) string {
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

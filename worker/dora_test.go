package worker

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/dora"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/telemetry"
)

// A scrape never waits for the DORA gauges once there are some: a stale
// answer is served while a new one is computed in the background, a failed
// computation keeps the last gauges, and the SDK's metrics are always there.
func TestDORAGaugesNeverHoldTheScrape(t *testing.T) {
	reg := telemetry.New()
	reg.Handler().Counter("temporal_request").Inc(1)
	clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	release := make(chan struct{})
	var calls atomic.Int32
	var fail atomic.Bool
	g := &doraGauges{sdk: reg, now: func() time.Time { return clock }}
	g.compute = func(ctx context.Context) ([]byte, error) {
		n := calls.Add(1)
		if n > 1 {
			<-release // the second computation hangs until the test lets it go
		}
		if fail.Load() {
			return nil, errors.New("visibility unavailable")
		}
		return []byte("runbook_dora_deployments{service=\"a\"} " + string('0'+rune(n)) + "\n"), nil
	}
	scrape := func() string {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 {
			t.Fatalf("GET /metrics: %d", w.Code)
		}
		return w.Body.String()
	}

	first := scrape()
	if !strings.Contains(first, `runbook_dora_deployments{service="a"} 1`) || !strings.Contains(first, "temporal_request") {
		t.Fatalf("first scrape waits for the gauges and has the SDK's metrics:\n%s", first)
	}
	clock = clock.Add(doraCache) // stale: a refresh starts and hangs
	done := make(chan string)
	go func() { done <- scrape() }()
	select {
	case body := <-done:
		if !strings.Contains(body, `runbook_dora_deployments{service="a"} 1`) {
			t.Errorf("a stale scrape serves the last gauges:\n%s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a scrape waited for the background computation")
	}
	fail.Store(true)
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		running := g.refreshing != nil
		g.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refresh never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if body := scrape(); !strings.Contains(body, `runbook_dora_deployments{service="a"} 1`) || !strings.Contains(body, "temporal_request") {
		t.Errorf("after a failed computation the last gauges and the SDK's metrics stay:\n%s", body)
	}
}

// fakeDORA serves two services; one's releases cannot be read when broken.
type fakeDORA struct{ broken bool }

func (f *fakeDORA) List(context.Context, releases.ListFilter) ([]releases.ListItem, error) {
	return []releases.ListItem{{Service: "api"}, {Service: "web"}}, nil
}

func (f *fakeDORA) DORA(_ context.Context, service, _ string, _, _ time.Time) (dora.Metrics, error) {
	if service == "web" && f.broken {
		return dora.Metrics{}, errors.New("codec: unknown key")
	}
	return dora.Metrics{Service: service, Deployments: 3}, nil
}

// A service whose releases cannot be read keeps its last gauges (none the
// first time); the other services' gauges are computed all the same.
func TestDORAGaugesSkipAnUnreadableService(t *testing.T) {
	src := &fakeDORA{broken: true}
	g := &doraGauges{rc: src, now: time.Now}
	body, err := g.computeDORA(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if text := string(body); !strings.Contains(text, `runbook_dora_deployments{service="api"} 3`) || strings.Contains(text, `service="web"`) {
		t.Fatalf("with web unreadable the first time, want api's gauges only:\n%s", text)
	}
	src.broken = false
	if _, err := g.computeDORA(context.Background()); err != nil {
		t.Fatal(err)
	}
	src.broken = true
	body, err = g.computeDORA(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if text := string(body); !strings.Contains(text, `runbook_dora_deployments{service="web"} 3`) || !strings.Contains(text, `runbook_dora_deployments{service="api"} 3`) {
		t.Fatalf("with web unreadable after a good computation, want its last gauges kept:\n%s", text)
	}
}

package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/prom"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// mustShow are the panels that have data once a release rolled back; the
// others may be empty (no analysis ran, no activity failed).
var mustShow = []string{
	"Releases in flight by state", "Gate decisions by outcome", "Rollbacks by outcome",
	"Audit appends by outcome", "Workflow tasks", "Activity executions", "Sticky cache size",
	"Grafana annotations not posted",
}

// checkDashboard runs every query of deploy/grafana/dashboards/runbook.json
// over the test's time range on p: none may fail, and the mustShow panels
// must have data.
func checkDashboard(t *testing.T, p *prom.Server, since time.Time) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "dashboards", "runbook.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if len(d.Panels) < len(mustShow) {
		t.Fatalf("dashboard has %d panels", len(d.Panels))
	}
	seen := map[string]bool{}
	for _, panel := range d.Panels {
		for _, tg := range panel.Targets {
			// Grafana's variables, as Grafana would fill them in.
			expr := strings.ReplaceAll(tg.Expr, "$__rate_interval", "1m")
			n, err := rangeSeries(p.URL, expr, since.Add(-time.Minute), time.Now())
			if err != nil {
				t.Errorf("panel %q: %s: %v", panel.Title, expr, err)
			}
			if n > 0 {
				seen[panel.Title] = true
			}
		}
	}
	t.Logf("dashboard: %d panels, %d with data", len(d.Panels), len(seen))
	for _, title := range mustShow {
		if !seen[title] {
			t.Errorf("panel %q shows no data after a release", title)
		}
	}
}

// rangeSeries runs a range query and returns how many series it returned.
func rangeSeries(base, expr string, from, to time.Time) (int, error) {
	q := url.Values{"query": {expr}, "start": {strconv.FormatInt(from.Unix(), 10)},
		"end": {strconv.FormatInt(to.Unix()+1, 10)}, "step": {"1"}}
	resp, err := http.Get(base + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, &queryError{r.Error}
	}
	return len(r.Data.Result), nil
}

type queryError struct{ msg string }

func (e *queryError) Error() string { return "prometheus: " + e.msg }

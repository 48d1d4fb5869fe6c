package test

// Release reports end to end: a canary that breaches and rolls back on the
// real stack (edge proxy, sample app slots by OpenTofu, real load), a note
// attached afterwards, `runbook report` as HTML, Markdown and PDF, and the
// worker's report page opened in a real headless Chromium.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/webui"
	"github.com/runbookhq/runbook/workflows"
)

// noteText is a note with markup in it: the report must show it as text.
const noteText = `Breach was the cache warm-up <img src=x onerror=alert(1)> & "quotes"`

// reportRig is a rig whose worker serves reports on a free port with a
// token only the worker and the CLI's link signing see.
func reportRig(t *testing.T, name string) (*rig, string, string) {
	r := newRig(t, name)
	base := fmt.Sprintf("http://127.0.0.1:%d", appPort(t))
	token := randomToken(t)
	// REPORTS_* is outside RUNBOOK_ENV_ALLOW (E2E_*): no runbook can read it.
	r.env = append(r.env, "RUNBOOK_HTTP_ADDR="+strings.TrimPrefix(base, "http://"),
		"RUNBOOK_REPORTS_TOKEN=env:REPORTS_E2E_TOKEN", "REPORTS_E2E_TOKEN="+token, "RUNBOOK_REPORTS_URL="+base)
	return r, base, token
}

func TestReportOfRolledBackCanary(t *testing.T) {
	t.Parallel()
	r, base, token := reportRig(t, "report")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 50, 100}, bake: 4 * time.Second})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	st := r.waitFor(id, "canary 2.0.0 at its second weight", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 2
	})
	cur, _ := st.Current()
	s.fault(cur.Traffic.Target, 1)
	st = r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release 2.0.0 is %s (%s), want rolled-back after the breach", st.State, st.Reason)
	}

	// A note after the release ended, straight into the audit log.
	if res := r.cli("note", id, "x", "--link", "javascript:alert(1)"); res.code == 0 {
		t.Errorf("a javascript: link was accepted: %s", res)
	}
	r.mustCLI("note", id, noteText, "--link", "https://incidents.example/INC-7")
	if !slices.ContainsFunc(r.auditRecords(id), func(e map[string]any) bool {
		d, _ := e["detail"].(string)
		return e["action"] == "release.note" && e["actor"] != "" && strings.Contains(d, "link: https://incidents.example/INC-7")
	}) {
		t.Errorf("runbook audit show has no release.note record with its link for %s", id)
	}

	checkReportFiles(t, r, id)
	// The CAB range of the last hour: both releases with their outcomes.
	cab := r.mustCLI("report", "--since", "1h", "--service", r.service, "--format", "md").stdout
	for _, want := range []string{"| release/" + r.service + "/1.0.0 |", "| release/" + r.service + "/2.0.0 |", "| rolled-back: ", "## " + r.service + " 1.0.0"} {
		if !strings.Contains(cab, want) {
			t.Errorf("the CAB report lacks %q:\n%s", want, cab[:min(len(cab), 2000)])
		}
	}
	if d := staticDetails(t, id); !strings.Contains(d, "report: `runbook report "+id+"`") || !strings.Contains(d, "[open the report]("+base+"/reports/release/"+id+"?") {
		t.Errorf("the release's Web UI details lack the report line and its signed link:\n%s", d)
	}
	checkReportInBrowser(t, r, id, base)
	checkReportRoute(t, base, token, r.service, id)
}

// checkReportFiles renders the three formats with the CLI.
func checkReportFiles(t *testing.T, r *rig, id string) {
	dir := t.TempDir()
	html, md, pdf := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.md"), filepath.Join(dir, "r.pdf")
	r.mustCLI("report", id, "-o", html)
	r.mustCLI("report", id, "--format", "md", "-o", md)
	r.mustCLI("report", id, "--format", "pdf", "-o", pdf)
	page := readFile(t, html)
	for _, want := range []string{"rolled-back", "Decisive round", `class="threshold"`, "INC-7", "&lt;img src=x", "compensation.ran", "traffic.breach"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	if strings.Contains(page, "<img") {
		t.Errorf("the note's markup reached the HTML as markup")
	}
	mdText := readFile(t, md)
	for _, want := range []string{"## " + r.service + " 2.0.0", "### Notes", "https://incidents.example/INC-7", "Decisive round"} {
		if !strings.Contains(mdText, want) {
			t.Errorf("the Markdown report lacks %q", want)
		}
	}
	if b := readFile(t, pdf); !strings.HasPrefix(b, "%PDF") || len(b) < 10000 {
		t.Errorf("the PDF report is %d bytes starting %q, want a PDF", len(b), b[:min(len(b), 8)])
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// chartBox is what the browser measured of one chart.
type chartBox struct {
	W, H       float64
	Series     int
	Thresholds int
	Decisive   int
}

// checkReportInBrowser opens the signed link the CLI prints in a real
// headless Chromium: the charts are laid out with a size, the note is
// text, and the page logs nothing (a CSP violation would be an error).
func checkReportInBrowser(t *testing.T, r *rig, id, base string) {
	link := strings.TrimSpace(r.mustCLI("report", id, "--link").stdout)
	if !strings.HasPrefix(link, base+"/reports/release/") || !strings.Contains(link, "sig=") || strings.Contains(link, "REPORTS") {
		t.Fatalf("runbook report --link printed %q, want a signed link to %s", link, base)
	}
	if out := r.mustCLI("status", id).stdout; !strings.Contains(out, "report: "+base+"/reports/release/"+id+"?") {
		t.Errorf("runbook status of the ended release prints no report link:\n%s", out)
	}
	b := webui.Start(t)
	if err := b.Open(link); err != nil {
		t.Fatal(err)
	}
	b.WaitText(webui.Top, "body", "Evidence", time.Minute)
	b.Screenshot("release-report")
	var charts []chartBox
	js := `[...document.querySelectorAll("svg.chart")].map(s => { const r = s.getBoundingClientRect();
	  return {W: r.width, H: r.height, Series: s.querySelectorAll("g.series").length,
	    Thresholds: s.querySelectorAll(".threshold").length, Decisive: s.querySelectorAll(".decisive").length}; })`
	if err := b.Eval(webui.Top, js, &charts); err != nil {
		t.Fatal(err)
	}
	t.Logf("charts in the browser: %+v", charts)
	var thresholds, decisive int
	for _, c := range charts {
		if c.W < 300 || c.H < 150 || c.Series == 0 {
			t.Errorf("chart %+v: want laid out at least 300x150 with a series", c)
		}
		thresholds += c.Thresholds
		decisive += c.Decisive
	}
	if len(charts) != 2 || thresholds == 0 || decisive == 0 {
		t.Errorf("%d charts, %d thresholds, %d decisive marks; want 2 charts (errors, p99), thresholds and the decisive round", len(charts), thresholds, decisive)
	}
	var injected int
	if err := b.Eval(webui.Top, `document.querySelectorAll("img,script,iframe").length`, &injected); err != nil || injected != 0 {
		t.Errorf("the page has %d img/script/iframe elements (%v): the note's markup was not escaped", injected, err)
	}
	for _, m := range b.Console() {
		if m.Type == "error" || m.IsException() {
			t.Errorf("console %s", m)
		}
	}
}

// checkReportRoute: the worker's route refuses a request without the token
// and serves it with the bearer token.
func checkReportRoute(t *testing.T, base, token, service, id string) {
	get := func(path, auth string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/reports/release/"+id, ""); code != http.StatusUnauthorized || strings.Contains(body, "2.0.0") {
		t.Errorf("without a token: %d %q, want 401 with nothing of the release", code, body)
	}
	if code, _ := get("/reports/release/"+id, "Bearer "+token+"x"); code != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %d, want 401", code)
	}
	code, body := get("/reports/release/"+id, "Bearer "+token)
	if code != http.StatusOK || !strings.Contains(body, "<svg") {
		t.Errorf("with the token: %d, want 200 with the charts", code)
	}
	if code, _ := get("/reports/dora?service="+service, ""); code != http.StatusUnauthorized {
		t.Errorf("the DORA page without a token: %d, want 401", code)
	}
	code, body = get("/reports/dora?service="+service, "Bearer "+token)
	if code != http.StatusOK || strings.Count(body, "<svg") != 4 || !strings.Contains(body, "1 deployments") {
		t.Errorf("the DORA page with the token: %d with %d charts, want 200 with 4 and the one deployment counted", code, strings.Count(body, "<svg"))
	}
}

package test

// A train's report end to end: a two-service train whose second run fails
// in production and rolls back, `runbook report train/...` as HTML,
// Markdown and PDF, and the worker's train page opened in a real headless
// Chromium from the signed link the CLI prints, its services' links
// opening their own release reports.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/internal/testenv/webui"
	"github.com/runbookhq/runbook/workflows"
)

// reportTrainFile: api after db, the production CAB gate for bob.
const reportTrainFile = `api-version: runbook/v1
train: %[1]s
environments: [staging, production]
rollback-scope: environment
gates:
  production:
    - {name: cab, approvers: [bob], timeout: 1h, instructions: "CAB: the whole train"}
services:
  - {name: %[1]s-db, runbook: db.yaml, version: "%[2]s", digest: "%[3]s"}
  - {name: %[1]s-api, runbook: api.yaml, version: "%[2]s", digest: "%[3]s", after: [%[1]s-db]}
`

func TestTrainReport(t *testing.T) {
	t.Parallel()
	r, base, token := reportRig(t, "trainrep")
	rec := newRecorder(t)
	r.startWorker()
	var digest string
	for _, svc := range []string{"db", "api"} {
		_, digest = r.writeRunbook(svc+".yaml", trainServiceRunbook, map[string]any{"URL": rec.srv.URL, "Name": r.service + "-" + svc})
	}
	name := func(svc string) string { return r.service + "-" + svc }
	run := func(version, runName, comment string) workflows.TrainStatus {
		p := filepath.Join(r.dir, "train-"+version+".yaml")
		if err := os.WriteFile(p, fmt.Appendf(nil, reportTrainFile, r.service, version, digest), 0o644); err != nil {
			t.Fatal(err)
		}
		id := workflows.TrainID(r.service, runName)
		r.mustCLI("train", "deploy", p, "--name", runName, "--as", "alice")
		r.waitTrain(id, runName+"'s CAB gate", trainGateWaiting("production", "cab"))
		r.mustCLI("train", "approve", id, "--as", "bob", "--comment", comment)
		return r.waitTrain(id, runName+" finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	}
	if st := run("1.0.0", "w1", "CAB one"); st.State != workflows.StateSucceeded {
		t.Fatalf("train w1 is %s (%s), want succeeded", st.State, st.Reason)
	}
	rec.mu.Lock()
	rec.failing = "/" + name("api") + "/production"
	rec.mu.Unlock()
	st := run("2.0.0", "w2", "CAB two")
	if st.State != workflows.StateFailed || len(st.Environments[1].Rollbacks) != 1 {
		t.Fatalf("train w2 is %s (%s) with rollbacks %+v; want failed with db rolled back", st.State, st.Reason, st.Environments[1].Rollbacks)
	}

	checkTrainReportFiles(t, r, st, base, name)
	link := strings.TrimSpace(r.mustCLI("report", st.TrainID, "--link").stdout)
	if !strings.HasPrefix(link, base+"/reports/train/"+r.service+"/w2?") || !strings.Contains(link, "sig=") {
		t.Fatalf("runbook report --link printed %q, want a signed link to the train's page on %s", link, base)
	}
	if code, body := getAuth(t, base+"/reports/train/"+r.service+"/w2", ""); code != http.StatusUnauthorized || strings.Contains(body, name("db")) {
		t.Errorf("the train page without a token: %d, want 401 with nothing of the train", code)
	}
	if code, body := getAuth(t, base+"/reports/train/"+st.TrainID, "Bearer "+token); code != http.StatusOK || !strings.Contains(body, `class="dag"`) {
		t.Errorf("the train page with the token: %d, want 200 with the diagram", code)
	}
	if out := r.mustCLI("train", "status", st.TrainID).stdout; !strings.Contains(out, "report: "+base+"/reports/train/"+r.service+"/w2?") {
		t.Errorf("runbook train status of the ended train prints no report link:\n%s", out)
	}
	if d := staticDetails(t, st.TrainID); !strings.Contains(d, "report: `runbook report "+st.TrainID+"`") || !strings.Contains(d, "[open the report]("+base+"/reports/train/") {
		t.Errorf("the train's Web UI details lack the report line and its signed link:\n%s", d)
	}
	checkTrainReportInBrowser(t, link, base, name)
}

// staticDetails is the workflow's details as the Web UI shows them.
func staticDetails(t *testing.T, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := stack.client.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(d.RawResponse.GetExecutionConfig().GetUserMetadata().GetDetails(), &s); err != nil {
		t.Fatalf("details of %s: %v", id, err)
	}
	return s
}

// checkTrainReportFiles renders the train with the CLI in the three formats.
func checkTrainReportFiles(t *testing.T, r *rig, st workflows.TrainStatus, base string, name func(string) string) {
	dir := t.TempDir()
	html, md, pdf := filepath.Join(dir, "t.html"), filepath.Join(dir, "t.md"), filepath.Join(dir, "t.pdf")
	r.mustCLI("report", st.TrainID, "-o", html)
	r.mustCLI("report", "--train", strings.TrimPrefix(st.TrainID, "train/"), "--format", "md", "-o", md)
	r.mustCLI("report", st.TrainID, "--format", "pdf", "-o", pdf)
	page := readFile(t, html)
	for _, want := range []string{`class="dag"`, `class="gantt"`, `class="rollback-mark"`, "CAB two", "train.gate.approved", "train.rollback",
		// The CLI signs the services' links too (it has the URL and token).
		`href="` + base + "/reports/release/" + workflows.TrainCellID(st.TrainID, name("db"), "production") + "?"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML train report lacks %q", want)
		}
	}
	mdText := readFile(t, md)
	for _, want := range []string{"## Train " + r.service + " w2", "| " + md_(name("db")) + " | 2.0.0 |", "| " + md_(name("api")) + " | 2.0.0 |",
		"| cab | approved | bob |", "CAB two", "| " + md_(name("db")) + " | 1.0.0 | succeeded |", "### Services over time"} {
		if !strings.Contains(mdText, want) {
			t.Errorf("the Markdown train report lacks %q:\n%s", want, mdText[:min(len(mdText), 3000)])
		}
	}
	if b := readFile(t, pdf); !strings.HasPrefix(b, "%PDF") || len(b) < 5000 {
		t.Errorf("the PDF train report is %d bytes starting %q, want a PDF", len(b), b[:min(len(b), 8)])
	}
}

// md_ is a name as the Markdown report escapes it.
func md_(s string) string { return strings.ReplaceAll(s, "_", `\_`) }

// svgBox is what the browser measured of one diagram.
type svgBox struct {
	Class     string
	W, H      float64
	Cells     int
	Bars      int
	Rollbacks int
}

// checkTrainReportInBrowser opens the train's signed link in a headless
// Chromium: the diagrams are laid out with a size, each environment's
// services are boxes, the Gantt marks the rollback, nothing is logged,
// and a service's link opens its release's report on the worker.
func checkTrainReportInBrowser(t *testing.T, link, base string, name func(string) string) {
	b := webui.Start(t)
	if err := b.Open(link); err != nil {
		t.Fatal(err)
	}
	b.WaitText(webui.Top, "body", "Evidence", time.Minute)
	b.Screenshot("train-report")
	var boxes []svgBox
	js := `[...document.querySelectorAll("svg.dag, svg.gantt")].map(s => { const r = s.getBoundingClientRect();
	  return {Class: s.getAttribute("class"), W: r.width, H: r.height, Cells: s.querySelectorAll("g.cell").length,
	    Bars: s.querySelectorAll("g.bar").length, Rollbacks: s.querySelectorAll(".rollback-mark").length}; })`
	if err := b.Eval(webui.Top, js, &boxes); err != nil {
		t.Fatal(err)
	}
	t.Logf("diagrams in the browser: %+v", boxes)
	var dags, cells, bars, marks int
	for _, x := range boxes {
		if x.W < 150 || x.H < 50 {
			t.Errorf("%s laid out at %.0fx%.0f, want at least 150x50", x.Class, x.W, x.H)
		}
		if x.Class == "dag" {
			dags++
		}
		cells, bars, marks = cells+x.Cells, bars+x.Bars, marks+x.Rollbacks
	}
	// Two environments of two services; the gate's wait is a bar too.
	if dags != 2 || cells != 4 || bars != 5 || marks != 1 {
		t.Errorf("%d DAGs with %d service boxes, %d Gantt bars, %d rollback marks; want 2, 4, 5 (4 services and the gate) and 1", dags, cells, bars, marks)
	}
	for _, m := range b.Console() {
		if m.Type == "error" || m.IsException() {
			t.Errorf("console %s", m)
		}
	}
	var href string
	sel := fmt.Sprintf(`svg.dag g.cell[data-service=%q]`, name("db"))
	if err := b.Eval(webui.Top, `new URL(document.querySelector(`+"`"+sel+"`"+`).parentElement.getAttribute("href"), location.href).href`, &href); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(href, base+"/reports/release/train/") {
		t.Fatalf("db's box links to %q, want its release's report on the worker", href)
	}
	if code, body := getAuth(t, href, ""); code != http.StatusOK || !strings.Contains(body, "Release report: "+name("db")) {
		t.Errorf("db's signed link: %d, want its release's report", code)
	}
}

// httpGet fetches url with an optional Authorization header.
func getAuth(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
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

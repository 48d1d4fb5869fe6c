package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// rolledBackTrain is a train of db, api after db, web after api: staging
// succeeded, bob approved the production CAB gate through Slack, web
// failed there and the train rolled back api, then db.
func rolledBackTrain() (workflows.TrainStatus, []audit.Entry) {
	id := "train/shop/w2"
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	cell := func(svc, env string, after []string, state string, from, to int) workflows.TrainCell {
		return workflows.TrainCell{Service: svc, Version: "2.0.0", After: after, ReleaseID: workflows.TrainCellID(id, svc, env),
			State: state, StartedAt: at(from), EndedAt: at(to)}
	}
	st := workflows.TrainStatus{
		TrainID: id, Train: "shop", Name: "w2", Requester: "alice" + evil, State: workflows.StateFailed, Reason: "web failed in production",
		Scope: workflows.TrainScopeDependents, StartedAt: t0, EndedAt: at(120),
		Environments: []workflows.TrainEnvironment{{
			Name: "staging", State: workflows.StateSucceeded,
			Cells: []workflows.TrainCell{cell("db", "staging", nil, workflows.StateSucceeded, 1, 10),
				cell("api", "staging", []string{"db"}, workflows.StateSucceeded, 10, 20),
				cell("web", "staging", []string{"api"}, workflows.StateSucceeded, 20, 30)},
		}, {
			Name: "production", State: workflows.StateFailed,
			Gates: []*workflows.GateStatus{{Name: "cab", State: workflows.StateApproved, MinApprovals: 1, Approvers: []string{"bob"},
				Approvals: []workflows.Decision{{Actor: "bob", At: at(40), Verified: "slack U1"}}}},
			Cells: []workflows.TrainCell{cell("db", "production", nil, workflows.StateRolledBack, 41, 50),
				cell("api", "production", []string{"db"}, workflows.StateRolledBack, 50, 60),
				cell("web"+evil, "production", []string{"api"}, workflows.StateFailed, 60, 80)},
			Rollbacks: []workflows.TrainRollback{
				{Service: "api", ReleaseID: workflows.TrainRollbackID(workflows.TrainCellID(id, "api", "production")), To: "1.0.0", State: workflows.StateSucceeded, Why: "web failed"},
				{Service: "db", ReleaseID: workflows.TrainRollbackID(workflows.TrainCellID(id, "db", "production")), To: "1.0.0", State: workflows.StateSucceeded, Why: "web failed"}},
		}},
	}
	var seq int64
	e := func(s int, action, env, detail string) audit.Entry {
		seq++
		return audit.Entry{Seq: seq, Time: at(s), Action: action, Release: id, Environment: env, Detail: detail, Actor: "alice", Hash: strings.Repeat("cd", 32)}
	}
	approved := e(40, "train.gate.approved", "production", "CAB 2026-12-07")
	approved.Actor, approved.Step, approved.Channel, approved.Identity = "bob", "cab", "slack", "slack U1"
	return st, []audit.Entry{
		e(0, "train.started", "", "train shop w2"),
		e(35, "train.held", "production", "db: the window opens at 10:00"),
		e(36, "train.unheld", "production", "every service may enter production"),
		e(37, "train.gate.waiting", "production", "cab: CAB: the whole train"),
		approved,
		e(90, "train.rollback", "production", "api: web failed; "+st.Environments[1].Rollbacks[0].ReleaseID),
		e(110, "train.rollback", "production", "db: web failed; "+st.Environments[1].Rollbacks[1].ReleaseID),
	}
}

func TestTrainReportHasGatesHoldsDAGAndGantt(t *testing.T) {
	st, entries := rolledBackTrain()
	r := BuildTrain(st, entries, audit.VerifyResult{}, nil, t0.Add(time.Hour))
	r.Link = func(id string) string { return "/reports/release/" + id + "?sig=x" }
	prod := r.Environments[1]
	if len(prod.Holds) != 2 || len(prod.Decisions) != 1 {
		t.Fatalf("production: %d holds, %d decisions; want 2 and 1", len(prod.Holds), len(prod.Decisions))
	}
	if d := prod.Decisions[0]; d.Actor != "bob" || d.Channel != "slack" || d.Verified != "slack U1" || d.Gate != "cab" {
		t.Errorf("decision %+v, want bob on cab through slack, verified slack U1", d)
	}
	if cols := []int{prod.DAG.Nodes[0].Col, prod.DAG.Nodes[1].Col, prod.DAG.Nodes[2].Col}; cols[0] != 0 || cols[1] != 1 || cols[2] != 2 || len(prod.DAG.Edges) != 2 {
		t.Errorf("DAG columns %v with %d edges, want 0 1 2 and 2 edges", cols, len(prod.DAG.Edges))
	}
	// One gate row plus six cells; the api bar carries its rollback mark.
	if len(r.Gantt.Rows) != 7 || !r.Gantt.T0.Equal(t0) || !r.Gantt.T1.Equal(t0.Add(120*time.Second)) {
		t.Fatalf("gantt: %d rows from %s to %s", len(r.Gantt.Rows), r.Gantt.T0, r.Gantt.T1)
	}
	if api := r.Gantt.Rows[5]; api.Label != "api" || len(api.Rollbacks) != 1 {
		t.Errorf("row %+v, want api in production with one rollback mark", api)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, TrainPage(r)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script>") {
		t.Errorf("a value reached the page as markup")
	}
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="dag"`, `class="gantt"`, `class="rollback-mark"`, "marker-end", "Hold history",
		`href="/reports/release/train/shop/w2/api/production?sig=x"`, `href="/reports/release/train/shop/w2/api/production/rollback?sig=x"`,
		"CAB 2026-12-07", "slack U1", "web failed in production"} {
		if !strings.Contains(page, want) {
			t.Errorf("the train page lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`<g class="cell"`).FindAllString(page, -1)); n != 6 {
		t.Errorf("%d service boxes, want 6 (3 per environment)", n)
	}
}

func TestTrainMarkdownWithoutLinksNamesTheCommand(t *testing.T) {
	st, entries := rolledBackTrain()
	r := BuildTrain(st, entries, audit.VerifyResult{}, errors.New("entry 3: hash mismatch"), t0.Add(time.Hour))
	var b bytes.Buffer
	if err := WriteMarkdown(&b, TrainPage(r)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"## Train shop w2", "| cab | approved | bob |", "| slack |", "`runbook report train/shop/w2/db/production`",
		"| production | api | +50s | +1m0s | rolled-back | +1m30s |", "**chain broken**", "| api | 1.0.0 | succeeded |", `web&lt;script&gt;`} {
		if !strings.Contains(out, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestTrainIDs(t *testing.T) {
	for id, want := range map[string]bool{"train/shop/w1": true, "train/shop/w1/db/staging": false, "release/svc/1.0.0": false, "shop/w1": false} {
		if IsTrainID(id) != want {
			t.Errorf("IsTrainID(%q) = %t", id, !want)
		}
	}
	if TrainIDOf("shop/w1") != "train/shop/w1" || TrainLinkPath("train/shop/w1") != "/reports/train/shop/w1" {
		t.Errorf("TrainIDOf/TrainLinkPath")
	}
}

// fakeTrains answers one finished train from its result only, like a
// train whose worker is gone.
type fakeTrains struct{ st workflows.TrainStatus }

func (f fakeTrains) TrainStatus(context.Context, string) (workflows.TrainStatus, error) {
	return workflows.TrainStatus{}, errors.New("no worker answered")
}

func (f fakeTrains) TrainWait(_ context.Context, id string) (workflows.TrainStatus, error) {
	if id != f.st.TrainID {
		return workflows.TrainStatus{}, errors.New("no train " + id)
	}
	return f.st, nil
}

func TestServerTrainRoute(t *testing.T) {
	st, entries := rolledBackTrain()
	log, err := audit.Open(t.TempDir() + "/audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i, e := range entries {
		e.Seq, e.Hash, e.ID = 0, "", fmt.Sprintf("%s/run/%d", e.Release, i)
		if _, err := log.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	s := &Server{Token: []byte("s3cret"), Trains: fakeTrains{st}, Log: log, Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	s.Register(mux)
	get := func(target, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", target, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	path := TrainLinkPath(st.TrainID)
	if rec := get(path, ""); rec.Code != 401 || strings.Contains(rec.Body.String(), "shop") {
		t.Errorf("no token: %d %s", rec.Code, rec.Body)
	}
	if rec := get(PathTrain+"train/shop/w9", "Bearer s3cret"); rec.Code != 404 {
		t.Errorf("unknown train: %d", rec.Code)
	}
	rec := get(SignLink(s.Token, path, now.Add(time.Minute)), "")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `class="dag"`) || !strings.Contains(body, "CAB 2026-12-07") {
		t.Fatalf("signed link: %d, want the train's page with its DAG and the gate's decision:\n%s", rec.Code, body)
	}
	// Each service's link is signed for its own release's report.
	m := regexp.MustCompile(`href="(/reports/release/train/shop/w2/api/production\?[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no signed link to api's release report")
	}
	u := httptest.NewRequest("GET", strings.ReplaceAll(m[1], "&amp;", "&"), nil).URL
	if !Authorized(s.Token, u, "", now) {
		t.Errorf("the cell link %s does not open its report", m[1])
	}
}

func TestTrainTimelineHighlightsOnlyDecisions(t *testing.T) {
	st, entries := rolledBackTrain()
	var b bytes.Buffer
	if err := WriteHTML(&b, TrainPage(BuildTrain(st, entries, audit.VerifyResult{}, nil, t0.Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	timeline := b.String()[strings.Index(b.String(), `<table class="timeline">`):]
	timeline = timeline[:strings.Index(timeline, "</table>")]
	if n := strings.Count(timeline, `class="decision"`); n != 1 {
		t.Errorf("%d timeline rows highlighted, want 1 (bob's approval)", n)
	}
}

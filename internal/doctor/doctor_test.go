package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	deploymentpb "go.temporal.io/api/deployment/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
	"github.com/runbookhq/runbook/workflows"
)

var testCfg = Config{Address: "127.0.0.1:7233", Namespace: "ops", TaskQueue: "runbook"}.withDefaults()

func TestJudgeRetention(t *testing.T) {
	if r := judgeRetention(testCfg, 90*24*time.Hour); r.Status != OK || !strings.Contains(r.Detail, "90d") {
		t.Errorf("90 days: %+v, want OK naming 90d", r)
	}
	r := judgeRetention(testCfg, 24*time.Hour)
	if r.Status != Warn || !strings.Contains(r.Detail, "1d") ||
		!strings.Contains(r.Fix, "temporal operator namespace update --address 127.0.0.1:7233 --namespace ops --retention 90d") {
		t.Errorf("1 day: %+v, want a warning with the update command", r)
	}
}

func TestJudgeSearchAttributes(t *testing.T) {
	all := map[string]enumspb.IndexedValueType{}
	for _, n := range workflows.SearchAttributeNames {
		all[n] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	if r := judgeSearchAttributes(testCfg, all); r.Status != OK {
		t.Errorf("all registered: %+v", r)
	}
	delete(all, "RunbookRisk")
	all["RunbookStep"] = enumspb.INDEXED_VALUE_TYPE_TEXT
	r := judgeSearchAttributes(testCfg, all)
	if r.Status != Fail || !strings.Contains(r.Detail, "missing: RunbookRisk") || !strings.Contains(r.Detail, "RunbookStep is Text") {
		t.Errorf("detail = %q", r.Detail)
	}
	for _, want := range []string{
		"temporal operator search-attribute remove --address 127.0.0.1:7233 --namespace ops --name RunbookStep --yes",
		"temporal operator search-attribute create --address 127.0.0.1:7233 --namespace ops --name RunbookStep --type Keyword",
		"temporal operator search-attribute create --address 127.0.0.1:7233 --namespace ops --name RunbookRisk --type Keyword",
	} {
		if !strings.Contains(r.Fix, want) {
			t.Errorf("fix lacks %q:\n%s", want, r.Fix)
		}
	}
}

func poller(id, deployment, build string) *taskqueuepb.PollerInfo {
	p := &taskqueuepb.PollerInfo{Identity: id}
	if deployment != "" {
		p.DeploymentOptions = &deploymentpb.WorkerDeploymentOptions{DeploymentName: deployment, BuildId: build}
	}
	return p
}

func TestJudgePollersAndDeployment(t *testing.T) {
	r := judgePollers(testCfg, pollers{workflow: []*taskqueuepb.PollerInfo{poller("w1", "", "")}})
	if r.Status != Fail || !strings.Contains(r.Detail, "activity tasks") || !strings.Contains(r.Fix, "RUNBOOK_TASK_QUEUE=runbook runbook worker") {
		t.Errorf("no activity pollers: %+v", r)
	}
	p := pollers{workflow: []*taskqueuepb.PollerInfo{poller("w1", "rb", "v1"), poller("w2", "rb", "v2")}, activity: []*taskqueuepb.PollerInfo{poller("w1", "rb", "v1")}}
	ok := judgePollers(testCfg, p)
	if ok.Status != OK || !strings.Contains(ok.Detail, "w1, w2") {
		t.Fatalf("pollers: %+v", ok)
	}
	cfg := testCfg
	cfg.DeploymentName = "rb"
	if r := judgeDeployment(cfg, ok, p, "v2", ""); r.Status != OK || !strings.Contains(r.Detail, "versions polling [v1, v2], current v2") {
		t.Errorf("current polled: %+v", r)
	}
	if r := judgeDeployment(cfg, ok, p, "v3", ""); r.Status != Fail || !strings.Contains(r.Fix, "set-current-version --address 127.0.0.1:7233 --namespace ops --deployment-name rb --build-id v2") {
		t.Errorf("current not polled: %+v", r)
	}
	if r := judgeDeployment(cfg, ok, p, "", ""); r.Status != Warn {
		t.Errorf("no current version: %+v", r)
	}
}

func newKeyLine(t *testing.T, id string) string {
	t.Helper()
	b := make([]byte, codec.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return id + "=" + base64.StdEncoding.EncodeToString(b)
}

// sealWith encrypts a payload with keys, as a worker using them would.
func sealWith(t *testing.T, keys, workflowID string) sealed {
	t.Helper()
	c, err := codec.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	p, err := converter.GetDefaultDataConverter().ToPayload("input of " + workflowID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	return sealed{workflowID: workflowID, payload: out[0]}
}

func TestJudgeKeys(t *testing.T) {
	old, cur := newKeyLine(t, "k-old"), newKeyLine(t, "k-new")
	oldSample, newSample := sealWith(t, old, "release/a/1"), sealWith(t, cur+"\n"+old, "release/b/2")
	both, err := codec.New(cur + "\n" + old)
	if err != nil {
		t.Fatal(err)
	}
	if r := judgeKeys(both, []sealed{newSample, oldSample}, 2); r.Status != OK || !strings.Contains(r.Detail, "sealed with k-new") {
		t.Errorf("both keys: %+v", r)
	}
	onlyNew, _ := codec.New(cur)
	if r := judgeKeys(onlyNew, []sealed{newSample, oldSample}, 2); r.Status != Fail || !strings.Contains(r.Detail, "k-old") || !strings.Contains(r.Fix, "k-old=<its base64 key>") {
		t.Errorf("retired key dropped: %+v", r)
	}
	impostor, _ := codec.New(newKeyLine(t, "k-new") + "\n" + old)
	if r := judgeKeys(impostor, []sealed{newSample}, 1); r.Status != Fail || !strings.Contains(r.Detail, "other key material") {
		t.Errorf("same ID, other key: %+v", r)
	}
	rotated, _ := codec.New(newKeyLine(t, "k-next") + "\n" + cur + "\n" + old)
	if r := judgeKeys(rotated, []sealed{newSample, oldSample}, 2); r.Status != Warn || !strings.Contains(r.Detail, "k-next") {
		t.Errorf("file ahead of the worker: %+v", r)
	}
	if r := judgeNoKeys([]sealed{oldSample}, 1); r.Status != Fail || !strings.Contains(r.Detail, "k-old") {
		t.Errorf("no keys, sealed history: %+v", r)
	}
}

func TestEachPayloadFindsNestedPayloads(t *testing.T) {
	in := &commonpb.Payload{Data: []byte("in")}
	memo := &commonpb.Payload{Data: []byte("memo")}
	h := &historypb.History{Events: []*historypb.HistoryEvent{{
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
			Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{in}},
			Memo:  &commonpb.Memo{Fields: map[string]*commonpb.Payload{"m": memo}},
		}},
	}}}
	var got []string
	eachPayload(h.ProtoReflect(), func(p *commonpb.Payload) { got = append(got, string(p.Data)) })
	if strings.Join(got, ",") != "in,memo" {
		t.Errorf("payloads = %v, want in and memo", got)
	}
}

func TestJudgeAudit(t *testing.T) {
	ok := auditPrivs{role: "runbook_worker", exists: true, insert: true, sel: true}
	if r := judgeAudit(ok); r.Status != OK {
		t.Errorf("insert and read only: %+v", r)
	}
	strong := ok
	strong.update, strong.truncate = true, true
	if r := judgeAudit(strong); r.Status != Fail || r.Fix != `psql "$OWNER_DSN" -c 'REVOKE UPDATE, TRUNCATE ON runbook_audit FROM runbook_worker'` {
		t.Errorf("too strong: %+v", r)
	}
	super := ok
	super.super = true
	if r := judgeAudit(super); r.Status != Fail || !strings.Contains(r.Detail, "superuser") {
		t.Errorf("superuser: %+v", r)
	}
	if r := judgeAudit(auditPrivs{role: "x"}); r.Status != Fail || !strings.Contains(r.Fix, "10-runbook-audit.sql") {
		t.Errorf("no table: %+v", r)
	}
}

func TestCheckSlackScopes(t *testing.T) {
	const token = "xoxb-doctor-0123456789"
	s := slackfake.New(token)
	defer s.Stop()
	cfg := testCfg
	cfg.SlackToken, cfg.SlackAPIURL, cfg.SlackGroups = token, s.URL(), true
	ctx := context.Background()
	if r := checkSlack(ctx, cfg); r.Status != OK {
		t.Errorf("all scopes: %+v", r)
	}
	s.SetScopes("chat:write", "groups:history", "usergroups:read")
	if r := checkSlack(ctx, cfg); r.Status != OK {
		t.Errorf("groups:history (private channels) in place of channels:history: %+v", r)
	}
	s.SetScopes("chat:write")
	r := checkSlack(ctx, cfg)
	if r.Status != Fail || !strings.Contains(r.Detail, "channels:history") || !strings.Contains(r.Fix, "add channels:history, usergroups:read") {
		t.Errorf("lacking scopes: %+v", r)
	}
	unreadable := cfg
	unreadable.SlackTokenErr = errors.New("both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are set: unset one")
	if r := checkSlack(ctx, unreadable); r.Status != Fail || !strings.Contains(r.Detail, "unset one") {
		t.Errorf("unreadable token setting: %+v", r)
	}
	cfg.SlackToken = "xoxb-wrong"
	if r := checkSlack(ctx, cfg); r.Status != Fail || !strings.Contains(r.Detail, "invalid_auth") {
		t.Errorf("wrong token: %+v", r)
	}
}

func TestCheckOIDC(t *testing.T) {
	iss := oidcissuer.Start(t)
	cfg := testCfg
	cfg.OIDCIssuer, cfg.OIDCJWKS = iss.URL(), iss.JWKSURL()
	if r := checkOIDC(context.Background(), cfg); r.Status != OK {
		t.Errorf("issuer up: %+v", r)
	}
	cfg.OIDCIssuer = iss.URL() + "/other"
	if r := checkOIDC(context.Background(), cfg); r.Status != Fail {
		t.Errorf("wrong issuer: %+v", r)
	}
}

func TestExitCodeAndText(t *testing.T) {
	rs := []Result{{Check: "a", Status: OK, Detail: "fine"}, {Check: "b", Status: Skip}}
	if ExitCode(rs) != 0 {
		t.Error("ok and skip should exit 0")
	}
	rs = append(rs, Result{Check: "c", Status: Warn, Detail: "short", Fix: "do this"})
	if ExitCode(rs) != 2 {
		t.Error("a warning should exit 2")
	}
	rs = append(rs, Result{Check: "d", Status: Fail})
	if ExitCode(rs) != 1 {
		t.Error("a failure should exit 1")
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, rs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "WARN  c") || !strings.Contains(buf.String(), "fix: do this") {
		t.Errorf("text:\n%s", buf.String())
	}
}

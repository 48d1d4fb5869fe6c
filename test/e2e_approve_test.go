package test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/runbookhq/runbook/workflows"
)

const approveRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/staging/healthz
          interval: 250ms
  - name: production
    approvals:
      - name: release-manager
        approvers: [bob, carol]
        timeout: 1h
        instructions: Staging passed; approve to ship.
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/production/${version}/healthz
          interval: 250ms
      # The sample app is the service being released: it must report the
      # version that was deployed.
      - name: version
        http-check:
          url: {{.X.App}}/version
          expect-body: ${version}
          interval: 250ms
`

// TestDeployApproveSucceed runs a release through the CLI: deploy, refused
// approvals (requester, non-approver, unknown gate), a valid approval, watch,
// status, history, audit log and list.
func TestDeployApproveSucceed(t *testing.T) {
	t.Parallel()
	r := newRig(t, "approve")
	rec := newRecorder(t)
	app := startSampleApp(t, "1.0.0")
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", approveRunbook, map[string]any{"URL": rec.srv.URL, "App": app})

	id := r.deploy(path, digest, "1.0.0", "alice")
	if want := "release/" + r.service + "/1.0.0"; id != want {
		t.Fatalf("release ID %s, want %s", id, want)
	}
	st := r.waitFor(id, "gate release-manager waiting", gateWaiting("production", "release-manager"))
	if s := env(t, st, "staging"); s.State != workflows.StateSucceeded {
		t.Fatalf("staging is %s while production waits, want succeeded", s.State)
	}
	if got := rec.requests("/production"); len(got) != 0 {
		t.Fatalf("production was checked before its gate opened: %v", got)
	}
	// The Web UI answers "what is it waiting for, and who can move it" on
	// its first line, on the release and on the environment.
	waiting := []string{"WAITING: gate release-manager — 1 approval(s) from bob or carol by ", " UTC —** `runbook approve " + id + " --gate release-manager`"}
	assertBlockingFirst(t, r, id, append([]string{"production: "}, waiting...)...)
	assertBlockingFirst(t, r, env(t, st, "production").WorkflowID, waiting...)
	// The list filters on it: RunbookStatus says waiting while a person holds it.
	// (Visibility follows the workflow a moment later: poll.)
	eventually(t, "runbook list --status waiting shows "+id, func() bool {
		res := runCLIQuiet(r.env, "list", "--service", r.service, "--status", workflows.StateWaiting)
		return res.code == 0 && strings.Contains(res.stdout, id)
	})
	assertSavedViews(t, r, id)
	if res := r.mustCLI("list", "--service", r.service, "--status", workflows.StateRunning); strings.Contains(res.stdout, id) {
		t.Errorf("runbook list --status running lists %s while it waits at a gate:\n%s", id, res.stdout)
	}

	// Refusals: the requester, someone not on the list, an unknown gate.
	res := r.cli("approve", id, "--as", "alice")
	if res.code == 0 || !strings.Contains(res.stderr, "separation of duties") {
		t.Errorf("alice (the requester) approving: want a refusal mentioning separation of duties, got %s", res)
	}
	res = r.cli("approve", id, "--as", "mallory")
	if res.code == 0 || !strings.Contains(res.stderr, "mallory may not decide") || !strings.Contains(res.stderr, "bob, carol") {
		t.Errorf("mallory approving: want a refusal naming the approvers, got %s", res)
	}
	res = r.cli("approve", id, "--gate", "nope", "--as", "bob")
	if res.code == 0 || !strings.Contains(res.stderr, `"nope"`) || !strings.Contains(res.stderr, "gates: release-manager") {
		t.Errorf("approving gate nope: want a refusal listing the gates, got %s", res)
	}

	res = r.mustCLI("approve", id, "--as", "bob", "--comment", "ok")
	if !strings.Contains(res.stdout, "gate release-manager is approved") {
		t.Errorf("approve by bob printed %q", res.stdout)
	}
	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}

	st = r.status(id)
	assertSucceeded(t, st, "staging", "production")
	gate := step(t, env(t, st, "production"), "release-manager")
	if gate.State != workflows.StateApproved || len(gate.Gate.Approvals) != 1 || gate.Gate.Approvals[0].Actor != "bob" || gate.Gate.Approvals[0].Comment != "ok" {
		t.Errorf("gate release-manager: state %s, approvals %+v; want approved by bob with comment ok", gate.State, gate.Gate.Approvals)
	}
	want := []string{"/staging/healthz", "/production/1.0.0/healthz"}
	if got := paths(rec.requests("/")); !slices.Equal(got, want) {
		t.Errorf("checks hit %v, want %v", got, want)
	}
	if v := step(t, env(t, st, "production"), "version"); !strings.Contains(v.Detail, app+"/version answered 200") {
		t.Errorf("production/version: %q; want the sample app's /version answered 200", v.Detail)
	}

	prod := env(t, st, "production")
	assertOneAcceptedUpdate(t, r, prod)

	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}
	if !hasAudit(r.auditRecords(id), "gate.approved", "bob", "release-manager") {
		t.Errorf("audit log has no gate.approved record by bob for gate release-manager")
	}
	assertListed(t, r, id)

	c := stack.client
	assertKeptLastEnvironment(t, c, id, "production")
	// Captured again under new names at each version of the lean release
	// (2: an approval that opens its gate step sends no snapshot of its
	// own; 3: no snapshot as an environment starts, one upsert as a gate
	// opens and none as a release starts; then the release passing its
	// version to its environments, which ask none; then the client giving
	// the release its version, so it asks none either; 4: no snapshot as
	// an environment finishes, no upsert as the release's last environment
	// ends, the trust roots not read twice in a row; 5: a step's success
	// written with the gate opening or the environment's end, in one local
	// activity); the earlier captures stay, replayed as they were.
	exportHistory(t, c, id, "", "release-lean-v6-approved")
	exportHistory(t, c, prod.WorkflowID, prod.RunID, "environment-lean-v6-approved")
}

// assertSucceeded checks a finished release: every environment succeeded and
// every step has a start and an end.
func assertSucceeded(t *testing.T, st workflows.ReleaseStatus, envs ...string) {
	t.Helper()
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release %s is %s (%s), want succeeded", st.ReleaseID, st.State, st.Reason)
	}
	if st.EndedAt.IsZero() {
		t.Errorf("release has no end time")
	}
	if len(st.Environments) != len(envs) {
		t.Fatalf("release has %d environments, want %v", len(st.Environments), envs)
	}
	for i, e := range st.Environments {
		if e.Name != envs[i] || e.State != workflows.StateSucceeded {
			t.Errorf("environment %d: %s %s, want %s succeeded", i, e.Name, e.State, envs[i])
		}
		if len(e.Steps) == 0 {
			t.Errorf("environment %s has no steps", e.Name)
		}
		for _, s := range e.Steps {
			if s.StartedAt.IsZero() || s.EndedAt.IsZero() || s.EndedAt.Before(s.StartedAt) {
				t.Errorf("%s/%s: started %v, ended %v; want both set, in order", e.Name, s.Name, s.StartedAt, s.EndedAt)
			}
			if s.State != workflows.StateSucceeded && s.State != workflows.StateApproved {
				t.Errorf("%s/%s is %s", e.Name, s.Name, s.State)
			}
		}
	}
}

// assertOneAcceptedUpdate reads the environment's history: the refused
// approvals left no trace, bob's approval is the one accepted Update.
func assertOneAcceptedUpdate(t *testing.T, r *rig, e workflows.EnvironmentStatus) {
	t.Helper()
	h := fetchHistory(t, stack.client, e.WorkflowID, e.RunID)
	var accepted []string
	completed := 0
	for _, ev := range h.Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			req := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
			var in workflows.DecisionInput
			args := req.GetInput().GetArgs().GetPayloads()
			if len(args) != 1 || json.Unmarshal(args[0].GetData(), &in) != nil {
				t.Fatalf("accepted update %s has arguments %v", req.GetInput().GetName(), args)
			}
			accepted = append(accepted, req.GetInput().GetName()+":"+in.Actor)
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			completed++
		}
	}
	if !slices.Equal(accepted, []string{"approve:bob"}) || completed != 1 {
		t.Errorf("environment history has accepted updates %v and %d completed, want exactly bob's approve", accepted, completed)
	}
	text := historyText(h)
	if !strings.Contains(text, `"bob"`) {
		t.Fatalf("history text does not contain bob's approval; the search below would prove nothing")
	}
	// Quoted: the trust roots in history list every principal, mallory
	// too, as a line of the allowed signers file; a decision would name
	// mallory as a JSON value.
	if strings.Contains(text, `"mallory"`) {
		t.Errorf("mallory appears in the environment's history; a refused update must leave no trace")
	}
}

// hasAudit reports whether records hold action by actor on step.
func hasAudit(recs []map[string]any, action, actor, stepName string) bool {
	for _, e := range recs {
		if e["action"] == action && e["actor"] == actor && (stepName == "" || e["step"] == stepName) {
			return true
		}
	}
	return false
}

// assertListed polls `runbook list --service` until the release shows
// (visibility is eventually consistent).
func assertListed(t *testing.T, r *rig, id string) {
	t.Helper()
	eventually(t, "runbook list shows "+id, func() bool {
		last := runCLIQuiet(r.env, "list", "--service", r.service, "-o", "json")
		if last.code != 0 {
			return false
		}
		var items []struct {
			ReleaseID string `json:"release-id"`
			Service   string `json:"service"`
			Version   string `json:"version"`
			Status    string `json:"status"`
		}
		if json.Unmarshal([]byte(last.stdout), &items) != nil {
			return false
		}
		return len(items) == 1 && items[0].ReleaseID == id && items[0].Service == r.service &&
			items[0].Version == "1.0.0" && items[0].Status == workflows.StateSucceeded
	})
	if res := r.mustCLI("list", "--service", r.service); !strings.Contains(res.stdout, id) {
		t.Errorf("runbook list --service %s does not show %s:\n%s", r.service, id, res.stdout)
	}
}

// currentDetails reads a running workflow's current details, what the Web
// UI shows on its page, through the SDK's built-in metadata query.
func currentDetails(t *testing.T, r *rig, workflowID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := r.rc.Temporal.QueryWorkflow(ctx, workflowID, "", "__temporal_workflow_metadata")
	if err != nil {
		t.Fatalf("metadata of %s: %v", workflowID, err)
	}
	var md sdkpb.WorkflowMetadata
	if err := v.Get(&md); err != nil {
		t.Fatalf("metadata of %s: %v", workflowID, err)
	}
	return md.GetCurrentDetails()
}

// assertBlockingFirst checks that a workflow's details open with the line
// that says what it waits for. A release learns it from its environment's
// signal, a moment after the environment itself: poll.
func assertBlockingFirst(t *testing.T, r *rig, workflowID string, want ...string) {
	t.Helper()
	var first string
	has := func() bool {
		first, _, _ = strings.Cut(currentDetails(t, r, workflowID), "\n")
		for _, w := range want {
			if !strings.Contains(first, w) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(pollDeadline)
	for !has() {
		if time.Now().After(deadline) {
			t.Errorf("%s: first line of the details is %q after %s, want it to contain all of %q", workflowID, first, pollDeadline, want)
			return
		}
		time.Sleep(pollInterval)
	}
}

// assertSavedViews runs every saved view `runbook ui columns` prints against
// the real visibility store: each query must parse, and the view of
// releases waiting for a person must list the release waiting at its gate.
func assertSavedViews(t *testing.T, r *rig, id string) {
	t.Helper()
	var out struct {
		Views []struct{ Name, Query string }
	}
	if err := json.Unmarshal([]byte(r.mustCLI("ui", "columns", "-o", "json").stdout), &out); err != nil || len(out.Views) == 0 {
		t.Fatalf("runbook ui columns -o json: %v %+v", err, out)
	}
	for _, v := range out.Views {
		q := v.Query + " AND " + workflows.AttrService.GetName() + " = '" + r.service + "'"
		found := func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := r.rc.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
			if err != nil {
				t.Fatalf("view %q: %v", v.Name, err)
			}
			for _, e := range res.GetExecutions() {
				if e.GetExecution().GetWorkflowId() == id {
					return true
				}
			}
			return false
		}
		if strings.Contains(v.Name, "waiting for a person") {
			eventually(t, "view "+v.Name+" lists "+id, found)
		} else if strings.Contains(v.Name, "break-glass") && found() {
			t.Errorf("view %q lists %s, which is no break-glass release", v.Name, id)
		}
	}
}

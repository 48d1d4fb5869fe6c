package test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/workflows"
)

const signedRunbook = `api-version: runbook/v1
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
      - name: cab
        approvers: [bob, carol, dana]
        min-approvals: 2
        timeout: 1h
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/production/healthz
          interval: 250ms
`

// TestSignedDecisionsAsAnAttackerWould runs a production release (signed
// decisions by default) through the real CLI and worker, and tries what a
// hostile colleague would: release unsigned, approve as someone else, approve
// from the Web UI, replay a signature onto another run and replay it twice.
// Only verified approvers' own signatures count, and the record says how each
// person was verified.
func TestSignedDecisionsAsAnAttackerWould(t *testing.T) {
	t.Parallel()
	r := newRig(t, "signed")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", signedRunbook, map[string]any{"URL": rec.srv.URL})
	keys := theKeyring(t)
	unsigned := append(slices.Clone(r.env), "RUNBOOK_SIGNING_KEY=")
	withKeyOf := func(who string) []string {
		return append(slices.Clone(r.env), "RUNBOOK_SIGNING_KEY="+filepath.Join(keys.dir, who))
	}

	res := runCLI(t, unsigned, "", "deploy", path, "--version", "1.0.0", "--digest", digest, "--as", "alice")
	if res.code == 0 || !strings.Contains(res.stderr, "environment production needs signed decisions") || !strings.Contains(res.stderr, "RUNBOOK_SIGNING_KEY") {
		t.Fatalf("unsigned deploy to production: want a refusal saying how to sign, got %s", res)
	}
	if _, err := r.rc.Status(context.Background(), workflows.ReleaseID(r.service, "1.0.0")); err == nil {
		t.Fatalf("the refused deploy started a release anyway")
	}

	id := r.deploy(path, digest, "1.0.0", "alice")
	st := r.waitFor(id, "gate cab waiting", gateWaiting("production", "cab"))
	prod := env(t, st, "production")

	res = runCLI(t, withKeyOf("carol"), "", "approve", id, "--as", "bob")
	if res.code == 0 || !strings.Contains(res.stderr, "may not sign as bob") {
		t.Errorf("carol's key approving as bob: want refused, got %s", res)
	}
	res = runCLI(t, unsigned, "", "approve", id, "--as", "bob")
	if res.code == 0 || !strings.Contains(res.stderr, "needs signed decisions") || !strings.Contains(res.stderr, "RUNBOOK_SIGNING_KEY") {
		t.Errorf("unsigned approval: want refused with how to sign, got %s", res)
	}
	res = r.cli("approve", id, "--as", "alice")
	if res.code == 0 || !strings.Contains(res.stderr, "separation of duties") {
		t.Errorf("alice, the verified requester, approving: want refused, got %s", res)
	}
	if err := rawApprove(prod, workflows.DecisionInput{Gate: "cab", Actor: "bob"}); err == nil || !strings.Contains(err.Error(), "Web UI cannot sign") {
		t.Errorf("an unsigned Update as the Web UI sends it: %v, want refused saying to use the CLI or Slack", err)
	}

	// bob signs for another run of the environment: refused here.
	claim := workflows.DecisionClaim(prod.WorkflowID, prod.RunID, true, workflows.DecisionInput{Gate: "cab"})
	other := claim
	other.Run = "another-run"
	elsewhere, err := keys.Sign(context.Background(), other, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := rawApprove(prod, workflows.DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: elsewhere}); err == nil || !strings.Contains(err.Error(), "valid for one decision only") {
		t.Errorf("bob's signature for another run: %v, want refused", err)
	}
	// bob's own signature counts once; the same statement again is refused.
	proof, err := keys.Sign(context.Background(), claim, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := rawApprove(prod, workflows.DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: proof}); err != nil {
		t.Fatalf("bob's signed approval: %v", err)
	}
	if err := rawApprove(prod, workflows.DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: proof}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("bob's signature replayed: %v, want refused as used", err)
	}
	r.mustCLI("approve", id, "--as", "carol", "--comment", "ticket ok")
	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}

	st = r.status(id)
	assertSucceeded(t, st, "staging", "production")
	assertSignedRecord(t, r, st)
	assertAcceptedApprovals(t, env(t, st, "production"), "approve:bob", "approve:carol")
	// Captured again at lean-release 4 (each signed decision re-reads the
	// trust roots as it arrives) and 5 (adjacent audit records together);
	// the earlier captures stay, replayed as they were.
	r.exportRelease(t, st, "production", "signed-lean-v6-approved")
}

// TestKeyRevokedWhileTheGateWaits: the worker's allowed signers lose carol's
// key while the production gate waits, after bob approved. carol's signed
// approval, which the gate would have taken on the roots it opened with, is
// refused with the reason and recorded as refused; dana's approval opens the
// gate. The file is this test's own copy of the keyring's.
func TestKeyRevokedWhileTheGateWaits(t *testing.T) {
	t.Parallel()
	r := newRig(t, "revoked")
	rec := newRecorder(t)
	signers := startWorkerWithOwnSigners(t, r)
	path, digest := r.writeRunbook("runbook.yaml", signedRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(id, "gate cab waiting", gateWaiting("production", "cab"))
	r.mustCLI("approve", id, "--as", "bob")

	signers.revoke(t, "carol")
	res := r.cli("approve", id, "--as", "carol")
	if res.code == 0 || !strings.Contains(res.stderr, "no longer trust") || !strings.Contains(res.stderr, "may not sign as carol") {
		t.Fatalf("carol approving after her key was removed: want refused, saying the trust roots changed, got %s", res)
	}
	r.mustCLI("approve", id, "--as", "dana")
	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}
	st := r.status(id)
	assertSucceeded(t, st, "staging", "production")
	var got []string
	for _, d := range step(t, env(t, st, "production"), "cab").Gate.Approvals {
		got = append(got, d.Actor)
	}
	if want := []string{"bob", "dana"}; !slices.Equal(got, want) {
		t.Errorf("gate cab approvals %v, want %v", got, want)
	}
	if !hasAudit(r.auditRecords(id), "gate.refused", "carol", "cab") {
		t.Errorf("the audit log has no gate.refused record for carol at gate cab")
	}
	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}
}

// rawApprove sends an approve Update straight to the environment, as the
// Temporal Web UI or any Temporal client can.
func rawApprove(e workflows.EnvironmentStatus, in workflows.DecisionInput) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := stack.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: e.WorkflowID, RunID: e.RunID, UpdateName: workflows.UpdateApprove,
		Args: []any{in}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	var res workflows.DecisionResult
	return h.Get(ctx, &res)
}

// assertSignedRecord checks status and audit log name each verified person
// with their key.
func assertSignedRecord(t *testing.T, r *rig, st workflows.ReleaseStatus) {
	t.Helper()
	prod := env(t, st, "production")
	fp := func(who string) string { return "ssh " + keyFingerprint(t, who) }
	if prod.Requester == nil || prod.Requester.Name != "alice" || prod.Requester.Method != identity.MethodSSH {
		t.Errorf("production requester %+v, want alice verified by ssh", prod.Requester)
	}
	if !strings.HasPrefix(prod.Identity, "signed: ssh") {
		t.Errorf("production identity %q, want signed: ssh…", prod.Identity)
	}
	gate := step(t, prod, "cab").Gate
	var got []string
	for _, d := range gate.Approvals {
		got = append(got, d.Actor+" "+d.Verified)
	}
	if want := []string{"bob " + fp("bob"), "carol " + fp("carol")}; !slices.Equal(got, want) {
		t.Errorf("approvals %v, want %v", got, want)
	}
	entries, err := audit.Read(r.auditLog, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, e := range entries {
		if e.Environment == "production" && (e.Action == "gate.approved" || e.Action == "release.requester") {
			decisions = append(decisions, e.Action+" "+e.Actor+" "+e.Identity)
		}
	}
	want := []string{"release.requester alice " + fp("alice"), "gate.approved bob " + fp("bob"), "gate.approved carol " + fp("carol")}
	if !slices.Equal(decisions, want) {
		t.Errorf("audit decisions %v, want %v", decisions, want)
	}
	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}
}

func keyFingerprint(t *testing.T, who string) string {
	t.Helper()
	s, ok := theKeyring(t).signers[who]
	if !ok {
		t.Fatalf("no key for %s", who)
	}
	return sshFingerprint(s)
}

// assertAcceptedApprovals checks the environment's history holds exactly the
// wanted accepted Updates: refused ones leave no trace.
func assertAcceptedApprovals(t *testing.T, e workflows.EnvironmentStatus, want ...string) {
	t.Helper()
	h := fetchHistory(t, stack.client, e.WorkflowID, e.RunID)
	var accepted []string
	for _, ev := range h.Events {
		if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
			continue
		}
		req := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
		var in workflows.DecisionInput
		if args := req.GetInput().GetArgs().GetPayloads(); len(args) == 1 {
			_ = json.Unmarshal(args[0].GetData(), &in)
		}
		accepted = append(accepted, req.GetInput().GetName()+":"+in.Actor)
	}
	if !slices.Equal(accepted, want) {
		t.Errorf("accepted updates %v, want %v", accepted, want)
	}
}

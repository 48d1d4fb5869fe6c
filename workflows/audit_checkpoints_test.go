package workflows

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
)

// testSigner is a fresh worker key.
func testSigner(t *testing.T, name string) *audit.Signer {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, name+".pem")
	if _, err := audit.GenerateKey(key, key+".pub"); err != nil {
		t.Fatal(err)
	}
	s, err := audit.LoadSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The AuditCheckpoints workflow keeps the newest checkpoint: it trusts the
// first key, then refuses an older or equal seq, a checkpoint of another
// key and a forged signature, so the seq it answers with never goes back.
func TestAuditCheckpointsWorkflow(t *testing.T) {
	h := newHarness(t)
	worker, mallory := testSigner(t, "worker"), testSigner(t, "mallory")
	hash := func(c byte) string { return strings.Repeat(string(c), 64) }
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	rec := func(s *audit.Signer, seq int64, c byte) audit.RecordCheckpointInput {
		return audit.RecordCheckpointInput{Checkpoint: s.SignCheckpoint(seq, hash(c), now), PublicKey: s.PublicKey()}
	}
	forged := rec(worker, 9, 'f')
	forged.Checkpoint.Seq = 90

	outcomes := map[string]*updateOutcome{}
	var got audit.Witness
	h.at(time.Minute, func() {
		outcomes["first"] = h.update(audit.UpdateRecordCheckpoint, rec(worker, 5, 'a'))
	})
	h.at(2*time.Minute, func() {
		outcomes["older"] = h.update(audit.UpdateRecordCheckpoint, rec(worker, 4, 'b'))
		outcomes["equal"] = h.update(audit.UpdateRecordCheckpoint, rec(worker, 5, 'a'))
		outcomes["other key"] = h.update(audit.UpdateRecordCheckpoint, rec(mallory, 1000, 'm'))
		outcomes["forged"] = h.update(audit.UpdateRecordCheckpoint, forged)
		outcomes["newer"] = h.update(audit.UpdateRecordCheckpoint, rec(worker, 7, 'c'))
	})
	h.at(3*time.Minute, func() {
		v, err := h.env.QueryWorkflow(audit.QueryCheckpoint)
		require.NoError(t, err)
		require.NoError(t, v.Get(&got))
		h.env.CancelWorkflow()
	})
	h.env.ExecuteWorkflow(AuditCheckpoints, audit.Witness{})

	require.NoError(t, outcomes["first"].err)
	require.True(t, outcomes["first"].completed)
	requireRejected(t, outcomes["older"], "not newer than the recorded checkpoint at seq 5")
	requireRejected(t, outcomes["equal"], "not newer")
	requireRejected(t, outcomes["other key"], "not among the trusted public keys")
	requireRejected(t, outcomes["forged"], "does not verify")
	require.NoError(t, outcomes["newer"].err)
	require.NotNil(t, got.Latest)
	require.Equal(t, int64(7), got.Latest.Seq)
	require.Equal(t, hash('c'), got.Latest.Hash)
	require.NoError(t, got.Latest.Verify(got.Keys), "the recorded checkpoint verifies with the trusted key")
	require.Contains(t, got.Keys.IDs(), worker.KeyID())
}

// A run continues as new with its state once it has recorded
// checkpointRequestLimit checkpoints.
func TestAuditCheckpointsContinueAsNew(t *testing.T) {
	defer func(n int) { checkpointRequestLimit = n }(checkpointRequestLimit)
	checkpointRequestLimit = 2
	h := newHarness(t)
	worker := testSigner(t, "worker")
	for i := int64(1); i <= 2; i++ {
		h.at(time.Duration(i)*time.Minute, func() {
			h.update(audit.UpdateRecordCheckpoint, audit.RecordCheckpointInput{
				Checkpoint: worker.SignCheckpoint(i, strings.Repeat("a", 64), time.Now()), PublicKey: worker.PublicKey()})
		})
	}
	h.env.ExecuteWorkflow(AuditCheckpoints, audit.Witness{})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var next audit.Witness
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Latest, "the next run starts from the recorded checkpoint")
	require.Equal(t, int64(2), next.Latest.Seq)
	require.Contains(t, next.Keys.IDs(), worker.KeyID(), "and trusts the same key")
}

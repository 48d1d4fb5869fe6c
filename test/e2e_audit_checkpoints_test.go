package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/runbookhq/runbook/activities/audit"
)

// TestAuditCheckpointsInTemporal: a signing worker records the audit log's
// newest checkpoint in its AuditCheckpoints workflow, at start and as the
// log grows. Someone who cuts the log's tail and puts back an older
// checkpoint file passes `audit verify --public-key`, but not with
// --temporal, which names the workflow's checkpoint the log no longer
// reaches.
func TestAuditCheckpointsInTemporal(t *testing.T) {
	t.Parallel()
	r := newRig(t, "audit-checkpoints")
	c := requireStack(t)
	key, pub := filepath.Join(r.dir, "audit-key.pem"), filepath.Join(r.dir, "audit-key.pub")
	r.mustCLI("audit", "keygen", "--key", key, "--public", pub)
	appendSigned := func(ids ...int) {
		s, err := audit.OpenStore(t.Context(), r.auditLog, "", audit.KeyConfig{KeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, i := range ids {
			e := audit.Entry{ID: fmt.Sprintf("e%d", i), Time: time.Date(2026, 12, 1, 12, i, 0, 0, time.UTC), Actor: "alice", Action: "step.succeeded"}
			if _, err := s.Append(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendSigned(1, 2, 3)
	cpFile := audit.DefaultCheckpoint(r.auditLog)
	atThree, err := os.ReadFile(cpFile)
	if err != nil {
		t.Fatal(err)
	}
	appendSigned(4, 5)

	r.startWorker("RUNBOOK_AUDIT_KEY_FILE="+key, "RUNBOOK_AUDIT_TEMPORAL_CHECKPOINT=1s")
	logID, err := audit.LogID(r.auditLog, "")
	if err != nil {
		t.Fatal(err)
	}
	id := audit.CheckpointsWorkflowID(logID)
	recorded := func(seq int64) func() bool {
		return func() bool {
			w, err := audit.QueryWitness(t.Context(), c, id)
			return err == nil && w.Latest != nil && w.Latest.Seq == seq
		}
	}
	eventually(t, "the worker recorded checkpoint 5 at start", recorded(5))
	appendSigned(6) // another process appends; the worker records it on its next tick
	eventually(t, "the worker recorded checkpoint 6", recorded(6))
	if res := r.mustCLI("audit", "verify", "--public-key", pub, "--temporal"); !strings.Contains(res.stdout, "reaches the checkpoint at seq 6") ||
		!strings.Contains(res.stdout, "Temporal workflow "+id) {
		t.Errorf("verify --temporal of the intact log: %s", res)
	}

	// The attack: cut entries 4..6 and put the checkpoint file of seq 3 back.
	b, err := os.ReadFile(r.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(r.auditLog, []byte(strings.Join(lines[:3], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cpFile, atThree, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := r.cli("audit", "verify", "--public-key", pub); res.code != 0 {
		t.Errorf("the file checkpoint alone was expected to miss the cut: %s", res)
	}
	res := r.cli("audit", "verify", "--public-key", pub, "--temporal")
	if out := res.stdout + res.stderr; res.code != 1 || !strings.Contains(out, "entries 4..6 were cut from its end") || !strings.Contains(out, "Temporal workflow "+id+" (seq 6") {
		t.Errorf("verify --temporal of the cut log: %s", res)
	}

	// The run ends when cancelled; its history is the replay fixture.
	if err := c.CancelWorkflow(t.Context(), id, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the AuditCheckpoints run closed", func() bool {
		d, err := c.DescribeWorkflow(context.Background(), id, "")
		return err == nil && d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	})
	exportHistory(t, c, id, "", "audit-checkpoints-recorded-cancelled")
}

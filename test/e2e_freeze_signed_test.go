package test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/releases"
)

// TestSignedFreezes runs on a Temporal dev server of its own (the Freezes
// workflow is one per namespace, and this test ends it):
//  1. with trust roots on the worker, the CLI's freeze create and lift are
//     signed with the key of whoever --as names, and recorded and audited
//     with that key; the first create also starts the Freezes workflow, so
//     its Update arrives before the run has loaded the roots;
//  2. an unsigned create, and one signed by mallory's key claiming to be
//     cab, are refused with what to do;
//  3. after the worker is replaced by one without trust roots, an unsigned
//     freeze is accepted and listed as unsigned.
func TestSignedFreezes(t *testing.T) {
	t.Parallel()
	r := newRig(t, "freeze-signed")
	addr, c := startOwnServer(t)
	r.onServer(addr, c)
	keys := theKeyring(t)
	r.rc.Signer = keys
	w := r.startWorker()

	id := r.newFreeze("--env", "production", "--for", "24h", "--reason", "signed peak")
	unsigned := append(slices.Clone(r.env), "RUNBOOK_SIGNING_KEY=")
	res := runCLI(t, unsigned, "", "freeze", "create", "--env", "staging", "--reason", "unsigned", "--as", "cab")
	if res.code == 0 || !strings.Contains(res.stderr, "freezes must be signed") || !strings.Contains(res.stderr, "RUNBOOK_SIGNING_KEY") {
		t.Errorf("unsigned freeze on a worker with trust roots: %s", res)
	}
	forged := append(slices.Clone(r.env), "RUNBOOK_SIGNING_KEY="+filepath.Join(keys.dir, "mallory"), "RUNBOOK_SIGNER=cab")
	res = runCLI(t, forged, "", "freeze", "lift", id, "--reason", "forged", "--as", "cab")
	if res.code == 0 || !strings.Contains(res.stderr, "may not sign as cab") {
		t.Errorf("mallory's key lifting as cab: %s", res)
	}
	r.mustCLI("freeze", "lift", id, "--reason", "peak over", "--as", "cab")

	cab := "ssh " + ssh.FingerprintSHA256(keys.signers["cab"].PublicKey())
	fs := r.listFreezes()
	if len(fs) != 1 || fs[0].CreatedBy != "cab" || fs[0].CreatedIdentity != cab || fs[0].LiftedBy != "cab" || fs[0].LiftedIdentity != cab {
		t.Errorf("freeze list --all: %+v; want one freeze created and lifted by cab with %s", fs, cab)
	}
	want := []string{"freeze.created cab " + cab, "freeze.lifted cab " + cab}
	if got := freezeAudit(t, r.auditLog); !slices.Equal(got, want) {
		t.Errorf("audit log: %q, want %q", got, want)
	}
	run := r.freezesRun()
	endFreezesRun(t, r.rc, run)
	exportHistory(t, r.rc.Temporal, freezes.WorkflowID, run, "freezes-signed-create-lift")

	// A worker without trust roots: unsigned freezes, as before, marked.
	w.stop()
	r.startWorker("RUNBOOK_ALLOWED_SIGNERS=", "RUNBOOK_SLACK_SIGNING_KEY=")
	res = runCLI(t, unsigned, "", "freeze", "create", "--env", "staging", "--reason", "no roots", "--as", "cab")
	if res.code != 0 || !strings.Contains(res.stdout, "by cab (unsigned)") {
		t.Errorf("unsigned freeze on a worker without trust roots: %s", res)
	}
	if out := r.mustCLI("freeze", "list").stdout; !strings.Contains(out, "cab (unsigned)") {
		t.Errorf("freeze list does not mark the unsigned freeze:\n%s", out)
	}
}

// freezeAudit is "action actor identity" of the freeze records in the
// audit log at path.
func freezeAudit(t *testing.T, path string) []string {
	t.Helper()
	es, err := audit.Read(path, audit.Filter{})
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "freeze.") {
			out = append(out, e.Action+" "+e.Actor+" "+e.Identity)
		}
	}
	return out
}

// endFreezesRun cancels the Freezes workflow's run and waits until it has
// closed, so its history can be captured.
func endFreezesRun(t *testing.T, rc *releases.Client, run string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rc.Temporal.CancelWorkflow(ctx, freezes.WorkflowID, run); err != nil {
		t.Fatalf("cancel %s: %v", freezes.WorkflowID, err)
	}
	for {
		b, err := rc.DescribeFreezes(ctx)
		if err == nil && b.RunID == run && !b.Running {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s run %s did not close after cancel (last: %+v, %v)", freezes.WorkflowID, run, b, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startOwnServer starts a dev server of the test's own, with Temporal's
// defaults, and returns its address and a client.
func startOwnServer(t *testing.T) (string, client.Client) {
	t.Helper()
	bin, err := findTemporal()
	if err != nil {
		t.Fatalf("temporal CLI: %v", err)
	}
	logPath := filepath.Join(t.TempDir(), "temporal.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devstack.Start(ctx, devstack.Options{Bin: bin, Port: -1, UIPort: -1, Log: logf})
	if err != nil {
		t.Fatalf("dev server: %v\n%s", err, tail(logPath, 40))
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.Address, Namespace: namespace, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := releases.EnsureSearchAttributes(ctx, c, namespace); err != nil {
		t.Fatal(err)
	}
	return srv.Address, c
}

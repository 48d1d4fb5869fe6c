package test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// TestStatusWhenTheWorkerDoesNotAnswer: a worker that polls its task queue
// but does not answer (stopped here with SIGSTOP, as a worker stalled by
// load, swapping or a debugger is) is named as such, not taken for no
// worker at all, which would send the SRE to start one; once it runs again,
// the same release is approved and finishes.
func TestStatusWhenTheWorkerDoesNotAnswer(t *testing.T) {
	t.Parallel()
	r := newRig(t, "unanswered")
	w := r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", scaleRunbook, map[string]any{"Check": false})
	id := r.deploy(path, digest, "1.0.0", "carol")
	r.waitFor(id, "gate go-ahead waiting", gateWaiting("production", "go-ahead"))

	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	resume := func() {
		if stopped {
			stopped = false
			if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume) // before the worker's own clean-up stops it
	res := r.cli("status", id)
	if res.code == 0 || !strings.Contains(res.stderr, "was not answered in time, though worker") ||
		!strings.Contains(res.stderr, "polls task queue "+r.queue) {
		t.Fatalf("status with the worker stopped: %s\nwant it to say a worker polls but did not answer", res)
	}
	if strings.Contains(res.stderr, "no worker answered") {
		t.Fatalf("status took a stalled worker for none: %s", res)
	}

	resume()
	r.mustCLI("approve", id, "--as", "alice")
	st := r.waitFinished(id)
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release %s after the worker ran again: %s (%s)", id, st.State, st.Reason)
	}
}

package test

// One chaos trial: the parts its step kind needs, a chaos worker that a
// kill -9 may end (the driver starts another), the release with the plan in
// place, and the driver's share of the faults (abort, cancel) at the moment
// the worker holds the activity at a barrier.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/internal/testenv/chaos"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

// chaosDeadline bounds one release of a trial: the longest fault (a held
// OpenTofu apply) costs a one-minute heartbeat timeout and a retry.
const chaosDeadline = 4 * time.Minute

// chaosStack is what the trials share besides Temporal: PostgreSQL, the
// chaos worker binary and the sample app (every trial's artifact).
type chaosStack struct {
	pg        *pg.Server
	worker    string
	sampleapp string
	digest    string
}

func newChaosStack(t *testing.T) *chaosStack {
	t.Helper()
	_, sampleapp := binaries(t)
	cs := &chaosStack{sampleapp: sampleapp, worker: os.Getenv("RUNBOOK_CHAOSWORKER_BIN")}
	var err error
	if cs.digest, err = artifact.FileDigest(sampleapp); err != nil {
		t.Fatal(err)
	}
	if cs.worker == "" {
		cs.worker = filepath.Join(stack.tmp, "chaosworker")
		cmd := exec.Command("go", "build", "-o", cs.worker, "./test/chaosworker")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the chaos worker: %v\n%s", err, b)
		}
	}
	cs.pg = pg.StartForTest(t)
	return cs
}

// trialOutcome is what a trial found.
type trialOutcome struct {
	fired      bool
	violations []string
}

// chaosRun is one trial in progress.
type chaosRun struct {
	t      *testing.T
	cs     *chaosStack
	tr     chaosTrial
	r      *rig
	parts  *chaosParts
	dir    string // the plan's directory
	env    []string
	worker *workerProc
	id     string
	// handled is set once the driver acted at the barrier.
	handled bool
	// decided names the holds a person already acted on.
	decided map[string]bool
}

func runChaosTrial(t *testing.T, cs *chaosStack, tr chaosTrial) trialOutcome {
	r := newRig(t, "chaos")
	c := &chaosRun{t: t, cs: cs, tr: tr, r: r, dir: filepath.Join(r.dir, "chaos")}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.parts = newChaosParts(t, c)
	path, _ := r.writeRunbook("runbook.yaml", chaosRunbook, c.parts.data())
	c.env = append(c.parts.workerEnv(), chaos.EnvPlan+"="+filepath.Join(c.dir, "plan.json"))
	c.startWorker()
	if err := chaos.WritePlan(filepath.Join(c.dir, "plan.json"), c.plan()); err != nil {
		t.Fatal(err)
	}
	c.id = r.deploy(path, cs.digest, "2.0.0", requester)
	st, ended := c.drive()
	fired, ok, err := chaos.ReadFired(c.dir)
	if err != nil {
		t.Logf("fired record: %v", err)
	}
	if ok {
		t.Logf("fault fired: %+v", fired)
	}
	if !ended {
		// A stuck workflow answers no query: what it says cannot be checked.
		t.Logf("the release's workflows:\n%s", r.historySummary(st))
		return trialOutcome{fired: ok, violations: []string{fmt.Sprintf(
			"release not finished after %s: state %s (%s)", chaosDeadline, st.State, st.Reason)}}
	}
	return trialOutcome{fired: ok, violations: c.check(st)}
}

// plan is the trial's fault for the chaos worker.
func (c *chaosRun) plan() chaos.Plan {
	p := chaos.Plan{Activity: c.tr.op.activity, Match: c.tr.op.match, Occurrence: c.tr.op.occurrence,
		Moment: c.tr.moment, During: c.tr.op.during, Label: c.tr.fault}
	switch c.tr.fault {
	case faultKill:
		p.Fault = chaos.Kill
	case faultError:
		p.Fault = chaos.Error
	case faultTimeout:
		p.Fault = chaos.Timeout
	default:
		p.Fault = chaos.Barrier
	}
	return p
}

// startWorker starts a chaos worker; the trial's clean-up stops it.
func (c *chaosRun) startWorker() {
	c.worker = c.r.startWorkerCmd(c.cs.worker, nil, c.env...)
}

// workerDied reports whether the current worker exited (a kill -9).
func (c *chaosRun) workerDied() bool {
	select {
	case <-c.worker.done:
		return true
	default:
		return false
	}
}

// drive runs the release to its end: it restarts a killed worker, acts at
// the barrier, and approves the gates a person would.
func (c *chaosRun) drive() (workflows.ReleaseStatus, bool) {
	deadline := time.Now().Add(chaosDeadline)
	var last workflows.ReleaseStatus
	for time.Now().Before(deadline) {
		if c.workerDied() {
			c.t.Logf("worker died (kill -9); starting another")
			c.startWorker()
		}
		if !c.handled && exists(filepath.Join(c.dir, chaos.BarrierFile)) {
			c.atBarrier()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.r.rc.Status(ctx, c.id)
		cancel()
		if err == nil {
			last = st
			if st.Finished() {
				c.releaseBarrier()
				return st, c.awaitClosed()
			}
			c.actLikeAPerson(st)
		}
		time.Sleep(pollInterval)
	}
	c.releaseBarrier()
	return last, false
}

// atBarrier aborts or cancels the release while the activity is held, waits
// until the workflow has seen it, and lets the activity go on.
func (c *chaosRun) atBarrier() {
	c.handled = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch c.tr.fault {
	case faultAbort:
		_, err = c.r.rc.Control(ctx, c.id, workflows.UpdateAbort, workflows.ControlInput{Actor: "chaos", Reason: "chaos trial"})
	case faultCancel:
		// What the Web UI's "Request Cancellation" sends: on the release
		// in odd trials, on the environment workflow in even ones.
		wf := c.id
		if c.tr.n%2 == 0 {
			wf = workflows.EnvironmentID(c.r.service, "production")
		}
		err = c.r.rc.Temporal.CancelWorkflow(ctx, wf, "")
	}
	if err != nil {
		c.t.Logf("%s at the barrier: %v", c.tr.fault, err)
	}
	// The workflow reacts on its next task; a held local activity keeps
	// that task open, so the wait is bounded.
	until := time.Now().Add(3 * time.Second)
	for time.Now().Before(until) {
		qctx, qcancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.r.rc.Status(qctx, c.id)
		qcancel()
		if e, ok := st.Current(); err == nil && (!ok || e.State != workflows.StateRunning) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.releaseBarrier()
}

func (c *chaosRun) releaseBarrier() {
	if err := os.Remove(filepath.Join(c.dir, chaos.BarrierFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.t.Logf("release the barrier: %v", err)
	}
}

// actLikeAPerson does what the SRE on call would: approve the gates (as
// alice), abort a migration left dirty (a decision, not a retry), promote a
// weight whose analysis had too little data.
func (c *chaosRun) actLikeAPerson(st workflows.ReleaseStatus) {
	e, ok := st.Current()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, g := range e.PendingGates() {
		if _, err := c.r.rc.Decide(ctx, c.id, true, workflows.DecisionInput{Gate: g.Name, Actor: "alice", Channel: "cli"}); err != nil {
			c.t.Logf("approve %s: %v", g.Name, err)
		}
	}
	for _, s := range e.Steps {
		if s.State == workflows.StateWaiting && s.Gate == nil && c.once("dirty "+s.Name) {
			c.t.Logf("step %s waits for a decision (%s): aborting", s.Name, s.Error)
			c.control(ctx, workflows.UpdateAbort, "chaos: the migration was left dirty")
		}
	}
	if e.Paused && e.PausedBy == "analysis" && c.once(fmt.Sprintf("hold %d", e.Traffic.Phase)) {
		c.t.Logf("analysis held the release (%s): promoting", e.Traffic.Hold)
		c.control(ctx, workflows.UpdatePromote, "chaos: too little traffic to judge")
	}
}

// once reports whether key is new, remembering it.
func (c *chaosRun) once(key string) bool {
	if c.decided == nil {
		c.decided = map[string]bool{}
	}
	if c.decided[key] {
		return false
	}
	c.decided[key] = true
	return true
}

func (c *chaosRun) control(ctx context.Context, update, reason string) {
	if _, err := c.r.rc.Control(ctx, c.id, update, workflows.ControlInput{Actor: "chaos", Reason: reason}); err != nil {
		c.t.Logf("%s: %v", update, err)
	}
}

// awaitClosed waits until the release workflow has closed, so its last
// audit record is written before the log is read.
func (c *chaosRun) awaitClosed() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.r.rc.Temporal.GetWorkflow(ctx, c.id, "").Get(ctx, nil)
	return ctx.Err() == nil || err == nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

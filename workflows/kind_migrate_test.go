package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/runbooks"
)

// --- a scripted golang-migrate ----------------------------------------------

// testTarget is the database of the "production" environment in these tests:
// references only, as the runbook carries them.
var testTarget = migrate.Target{URL: "env:CHECKOUT_DB", Driver: "postgres", Migrations: "/srv/migrations/checkout"}

// expandM and contractM are pending migrations as Status classifies them.
func expandM(v uint, name string, reversible bool) migrate.Migration {
	return migrate.Migration{Version: v, Name: name, File: fmt.Sprintf("%06d_%s.up.sql", v, name),
		Class: migrate.Expand, Reversible: reversible}
}

func contractM(v uint, name string, reasons ...string) migrate.Migration {
	m := expandM(v, name, false)
	m.Class, m.Reasons = migrate.Contract, reasons
	return m
}

// atVersion is a clean schema at v with pending migrations above it.
func atVersion(v uint, pending ...migrate.Migration) migrate.StatusResult {
	return migrate.StatusResult{Version: v, HasVersion: true, Pending: pending}
}

var dirtyDetails = migrate.DirtyDetails{Version: 5, File: "000005_x.up.sql",
	Statement: "ALTER TABLE items ADD COLUMN sku text NOT NULL\nDEFAULT ''", Error: "syntax error"}

func dirtyErr() error {
	return temporal.NewNonRetryableApplicationError(
		"migration 000005_x.up.sql failed: syntax error. The database is marked dirty at version 5",
		migrate.ErrDirty, nil, dirtyDetails)
}

// fakeMigrate answers the migrate activities from a script and records every
// call. Status returns status; the n-th Up returns upErrs[n] (success past
// the end, at the highest pending version up to its To). events is the
// order of calls, plus the decisions the test sends (see decide).
type fakeMigrate struct {
	h      *harness
	mu     sync.Mutex
	status migrate.StatusResult
	upErrs []error
	// afterUp, if set, runs at the end of each Up, after its effect and
	// before it returns (outside the lock).
	afterUp func()
	// beforeAct, if set, runs as Up or Force starts, before its effect
	// (outside the lock), with the event it logs.
	beforeAct func(event string)

	upIn    []migrate.UpInput
	downIn  []migrate.DownInput
	forceIn []migrate.ForceInput
	events  []string
}

// newMigrate registers the migrate activities (so mocks resolve) and mocks
// them with a script.
func newMigrate(h *harness, status migrate.StatusResult) *fakeMigrate {
	f := &fakeMigrate{h: h, status: status}
	h.env.RegisterActivityWithOptions(&migrate.Activities{}, activity.RegisterOptions{DisableAlreadyRegisteredCheck: true})
	h.env.OnActivity(migrateActs.Status, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in migrate.StatusInput) (migrate.StatusResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			require.Equal(h.t, testTarget, in.Target)
			f.events = append(f.events, "status")
			return f.status, nil
		})
	h.env.OnActivity(migrateActs.Up, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in migrate.UpInput) (migrate.UpResult, error) {
			if f.afterUp != nil {
				defer f.afterUp()
			}
			if f.beforeAct != nil {
				f.beforeAct("up")
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			n := len(f.upIn)
			f.upIn = append(f.upIn, in)
			f.events = append(f.events, "up")
			if n < len(f.upErrs) && f.upErrs[n] != nil {
				f.failUp(f.upErrs[n])
				return migrate.UpResult{From: f.status.Version, To: f.status.Version}, f.upErrs[n]
			}
			res := migrate.UpResult{From: f.status.Version, To: f.status.Version, HadVersion: f.status.HasVersion}
			for _, m := range pendingUpTo(f.status.Pending, int(in.To)) {
				res.Applied = append(res.Applied, m)
				res.To = m.Version
			}
			f.apply(res.Applied)
			return res, nil
		})
	h.env.OnActivity(migrateActs.Down, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in migrate.DownInput) (migrate.DownResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.downIn = append(f.downIn, in)
			f.events = append(f.events, "down")
			f.status.Version, f.status.HasVersion, f.status.Dirty = in.To, !in.ToNothing, false
			return migrate.DownResult{To: in.To}, nil
		})
	h.env.OnActivity(migrateActs.Force, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in migrate.ForceInput) (migrate.ForceResult, error) {
			if f.beforeAct != nil {
				f.beforeAct(fmt.Sprintf("force %d", in.Version))
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.forceIn = append(f.forceIn, in)
			f.events = append(f.events, fmt.Sprintf("force %d", in.Version))
			if in.Version >= 0 {
				f.status.Version, f.status.HasVersion, f.status.Dirty = uint(in.Version), true, false
			}
			return migrate.ForceResult{Version: in.Version}, nil
		})
	return f
}

// apply moves the fake database past the applied migrations, as a real
// one would: a later Status (the rollback's read) sees them.
func (f *fakeMigrate) apply(ms []migrate.Migration) {
	for _, m := range ms {
		f.status.Version, f.status.HasVersion = m.Version, true
		f.status.Applied = append(f.status.Applied, m)
	}
	f.status.Pending = slices.DeleteFunc(slices.Clone(f.status.Pending), func(p migrate.Migration) bool {
		return f.status.HasVersion && p.Version <= f.status.Version
	})
}

// failUp marks the fake database dirty when Up fails with a dirty error.
func (f *fakeMigrate) failUp(err error) {
	var appErr *temporal.ApplicationError
	var d migrate.DirtyDetails
	if errors.As(err, &appErr) && appErr.Type() == migrate.ErrDirty && appErr.Details(&d) == nil {
		f.status.Version, f.status.HasVersion, f.status.Dirty = d.Version, true, true
	}
}

func (f *fakeMigrate) ups() []migrate.UpInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]migrate.UpInput(nil), f.upIn...)
}

func (f *fakeMigrate) downs() []migrate.DownInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]migrate.DownInput(nil), f.downIn...)
}

func (f *fakeMigrate) forces() []migrate.ForceInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]migrate.ForceInput(nil), f.forceIn...)
}

func (f *fakeMigrate) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// decide sends a resolve-migration Update and records it in the event log
// first: the workflow cannot act on it before it is sent, so an Up logged
// before it ran without a decision.
func (f *fakeMigrate) decide(in MigrationDecisionInput) *updateOutcome {
	f.mu.Lock()
	f.events = append(f.events, "decide "+in.Action)
	f.mu.Unlock()
	return f.h.update(UpdateResolveMigration, in)
}

// recordAttrs captures every RunbookStatus and RunbookStep value upserted.
func recordAttrs(h *harness) func() (status, steps []string) {
	var mu sync.Mutex
	var st, sp []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		mu.Lock()
		defer mu.Unlock()
		if v, ok := sa.GetKeyword(AttrStatus); ok {
			st = append(st, v)
		}
		if v, ok := sa.GetKeyword(AttrStep); ok {
			sp = append(sp, v)
		}
	}).Return(nil)
	return func() ([]string, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), st...), append([]string(nil), sp...)
	}
}

// --- runbook builders --------------------------------------------------------

func migrateStep(name, phase string, to int, approvers ...string) runbooks.Step {
	return runbooks.Step{Name: name, Migrate: &runbooks.MigrateStep{Phase: phase, To: to, Approvers: approvers}}
}

// dbEnv is "production" with the test database and steps.
func dbEnv(steps ...runbooks.Step) runbooks.Environment {
	e := envSpec("production", steps...)
	e.Database = &runbooks.Database{URL: testTarget.URL, Driver: testTarget.Driver, Migrations: testTarget.Migrations}
	return e
}

// --- 1. expand ----------------------------------------------------------------

func TestExpandStepMigratesPendingExpandMigrations(t *testing.T) {
	h := newHarness(t)
	m4, m5 := expandM(4, "add_sku", true), expandM(5, "add_sku_index", true)
	fm := newMigrate(h, atVersion(3, m4, m5))
	h.runEnvironment(envInput(dbEnv(migrateStep("schema", "", 5), check("smoke", h.srv.url("/smoke")))))

	st := succeeded(t, h)
	require.Equal(t, []migrate.UpInput{{Target: testTarget, To: 5, AllowContract: false}}, fm.ups())
	require.Equal(t, []string{"status", "up"}, fm.log())
	schema := step(t, st, "schema")
	require.Equal(t, StateSucceeded, schema.State)
	require.Equal(t, runbooks.KindMigrate, schema.Kind)
	require.Nil(t, schema.Gate, "expand migrations need no approval")
	require.Equal(t, "migrated 3 → 5: 000004_add_sku.up.sql (expand), 000005_add_sku_index.up.sql (expand)", schema.Detail)

	planned := auditEntry(t, h, "schema.planned")
	require.Equal(t, "schema", planned.Step)
	require.Equal(t, "3", planned.Outcome)
	require.Equal(t, "schema at version 3; to apply: 000004_add_sku.up.sql (expand), 000005_add_sku_index.up.sql (expand)",
		planned.Detail)
	actions := h.auditActions()
	require.Less(t, indexOf(actions, "schema.planned schema 3"), indexOf(actions, "step.succeeded schema succeeded"))
	require.NotContains(t, actions, "gate.waiting schema waiting")

	require.Equal(t, []CompensationStatus{{Step: "schema", Action: "migrate the schema down to version 3",
		State: StateNotNeeded}}, st.Compensations)
	require.Empty(t, fm.downs())
	require.Equal(t, []string{"GET /smoke"}, h.srv.requests())
	h.verifyAudit()
}

func TestExpandStepWithNothingPending(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	fm := newMigrate(h, atVersion(5))
	h.runEnvironment(envInput(dbEnv(migrateStep("schema", "", 0), check("four", h.srv.url("/fail")))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	require.Empty(t, fm.ups(), "nothing pending: no Up")
	require.Equal(t, []string{"status"}, fm.log())
	schema := step(t, st, "schema")
	require.Equal(t, StateSucceeded, schema.State, "nothing to undo")
	require.Equal(t, "schema at version 5; nothing to migrate", schema.Detail)
	require.Empty(t, st.Compensations, "no migration ran: no compensation")
	require.Empty(t, fm.downs())
	require.NotContains(t, h.auditActions(), "schema.planned schema 5")
}

// A step with To applies only the pending migrations up to To: a contract
// migration above it neither runs nor blocks an expand step.
func TestMigrateStepStopsAtTo(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "add_sku_index", true),
		contractM(6, "drop_note", "000006_drop_note.up.sql:1: DROP COLUMN")))
	h.runEnvironment(envInput(dbEnv(migrateStep("schema", "expand", 4))))

	st := succeeded(t, h)
	require.Equal(t, []migrate.UpInput{{Target: testTarget, To: 4}}, fm.ups())
	require.Equal(t, "migrated 3 → 4: 000004_add_sku.up.sql (expand)", step(t, st, "schema").Detail)
	require.Equal(t, "schema at version 3; to apply: 000004_add_sku.up.sql (expand)", auditEntry(t, h, "schema.planned").Detail)
	require.Nil(t, step(t, st, "schema").Gate)
}

func TestPendingUpTo(t *testing.T) {
	ms := []migrate.Migration{expandM(4, "a", true), expandM(5, "b", true), expandM(7, "c", true)}
	versions := func(ms []migrate.Migration) []uint {
		var out []uint
		for _, m := range ms {
			out = append(out, m.Version)
		}
		return out
	}
	require.Equal(t, []uint{4, 5, 7}, versions(pendingUpTo(ms, 0)))
	require.Equal(t, []uint{4}, versions(pendingUpTo(ms, 4)))
	require.Equal(t, []uint{4, 5}, versions(pendingUpTo(ms, 6)))
	require.Empty(t, pendingUpTo(ms, 3))
	require.Empty(t, pendingUpTo(nil, 0))
}

// --- 2. contract migrations in an expand step ------------------------------------

func TestExpandStepRefusesContractMigrations(t *testing.T) {
	h := newHarness(t)
	reason := "000005_drop_note.up.sql:1: DROP COLUMN"
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), contractM(5, "drop_note", reason)))
	h.runEnvironment(envInput(dbEnv(
		undo(check("announce", h.srv.url("/announce")), h.srv.url("/undo/announce")),
		migrateStep("schema", "expand", 0),
		check("smoke", h.srv.url("/smoke")))))

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Message(), "step schema failed")
	require.Contains(t, appErr.Message(), "would run contract migrations: "+reason)
	require.Contains(t, appErr.Message(), "phase: contract", "the message says what to do")
	require.Empty(t, fm.ups(), "Up must never run contract migrations from an expand step")
	require.Equal(t, []string{"status"}, fm.log(), "refused in the workflow, not retried")

	require.Equal(t, StateRolledBack, st.State)
	schema := step(t, st, "schema")
	require.Equal(t, StateFailed, schema.State)
	require.Contains(t, schema.Error, reason)
	require.Nil(t, schema.Gate, "an expand step never asks to run contract migrations")
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Equal(t, StateCompensated, step(t, st, "announce").State)
	require.Equal(t, []string{"GET /announce", "POST /undo/announce"}, h.srv.requests())
	require.Equal(t, []CompensationStatus{{Step: "announce", Action: "POST " + h.srv.url("/undo/announce"),
		State: StateDone, ReadBack: "hook answered 200"}}, st.Compensations)
	require.Empty(t, fm.downs())
	require.Contains(t, h.auditActions(), "step.failed schema failed")
}

// --- 3. contract step: a gate ---------------------------------------------------

func TestContractStepWaitsForAnAllowedApprover(t *testing.T) {
	h := newHarness(t)
	reasons := []string{"000005_drop_note.up.sql:1: DROP COLUMN", "000005_drop_note.up.sql:2: ALTER COLUMN ... TYPE"}
	fm := newMigrate(h, atVersion(4, contractM(5, "drop_note", reasons...)))
	var during EnvironmentStatus
	var upsDuring int
	var requester, outsider, approver *updateOutcome
	h.at(time.Minute, func() {
		during = h.envStatus()
		upsDuring = len(fm.ups())
		requester = h.update(UpdateApprove, DecisionInput{Actor: testRequester})
		outsider = h.update(UpdateApprove, DecisionInput{Actor: "carol"})
		approver = h.update(UpdateApprove, DecisionInput{Actor: "alice", Comment: "v1.3 is gone"})
	})
	h.runEnvironment(envInput(dbEnv(migrateStep("contract", "contract", 0, "alice", testRequester))))

	require.Zero(t, upsDuring, "Up ran before the gate was approved")
	c := step(t, during, "contract")
	require.Equal(t, StateWaiting, c.State)
	require.NotNil(t, c.Gate)
	require.Equal(t, StateWaiting, c.Gate.State)
	require.Equal(t, []string{"alice", testRequester}, c.Gate.Approvers)
	for _, r := range reasons {
		require.Contains(t, c.Gate.Instructions, r)
	}
	requireRejected(t, requester, "separation of duties")
	requireRejected(t, outsider, "carol may not decide gate contract; approvers: alice, dave")
	requireDecision(t, approver, DecisionResult{Gate: "contract", GateState: StateApproved, Approvals: 1, Needed: 1})

	st := succeeded(t, h)
	require.Equal(t, []migrate.UpInput{{Target: testTarget, AllowContract: true}}, fm.ups())
	c = step(t, st, "contract")
	require.Equal(t, StateSucceeded, c.State)
	require.Equal(t, StateApproved, c.Gate.State)
	require.Equal(t, "alice", c.Gate.Approvals[0].Actor)
	require.Equal(t, "migrated 4 → 5: 000005_drop_note.up.sql (contract)", c.Detail)
	actions := h.auditActions()
	order := []string{"schema.planned contract 4", "gate.waiting contract waiting", "gate.approved contract approved",
		"step.succeeded contract succeeded"}
	prev := -1
	for _, a := range order {
		i := indexOf(actions, a)
		require.Greater(t, i, prev, "%q out of order or missing: %v", a, actions)
		prev = i
	}
	require.Equal(t, "alice", auditEntry(t, h, "gate.approved").Actor)
	// A contract migration is not reversible: the rollback plan keeps it.
	require.Len(t, st.Compensations, 1)
	require.Contains(t, st.Compensations[0].Action, "keep the schema at version 5")
}

func TestRejectedContractMigrationNeverRuns(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(4, contractM(5, "drop_note", "000005_drop_note.up.sql:1: DROP COLUMN")))
	var reject *updateOutcome
	h.at(time.Minute, func() {
		reject = h.update(UpdateReject, DecisionInput{Actor: "alice", Comment: "v1.3 still reads note"})
	})
	h.runEnvironment(envInput(dbEnv(migrateStep("contract", "contract", 0, "alice"))))

	requireDecision(t, reject, DecisionResult{Gate: "contract", GateState: StateRejected, Approvals: 0, Needed: 1})
	st, appErr := h.failedEnv(ErrTypeRejected)
	require.Equal(t, "rejected by alice at gate contract: v1.3 still reads note", appErr.Message())
	require.Equal(t, StateRolledBack, st.State)
	require.Empty(t, fm.ups(), "a rejected contract migration must never run")
	require.Equal(t, StateRejected, step(t, st, "contract").State)
	require.Empty(t, st.Compensations)
	require.Empty(t, fm.downs())
}

// A contract step with only expand migrations pending needs no gate.
func TestContractStepWithoutContractMigrationsIsNotGated(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(4, expandM(5, "add_sku", true)))
	h.runEnvironment(envInput(dbEnv(migrateStep("contract", "contract", 0))))

	st := succeeded(t, h)
	require.Nil(t, step(t, st, "contract").Gate)
	require.Equal(t, []migrate.UpInput{{Target: testTarget, AllowContract: true}}, fm.ups())
	for _, a := range h.auditActions() {
		require.NotContains(t, a, "gate.", "no gate expected: %v", h.auditActions())
	}
}

// --- 4. dirty migrations wait for a person -----------------------------------------

// dirtyRelease is a release whose migrate step comes after an approval gate
// (so a decision can be sent before anything failed) and before a check.
func dirtyRelease(h *harness) EnvironmentInput {
	return envInput(dbEnv(
		gateStep("go", 1),
		undo(check("announce", h.srv.url("/announce")), h.srv.url("/undo/announce")),
		migrateStep("schema", "", 0),
		check("smoke", h.srv.url("/smoke"))))
}

func TestDirtyMigrationWaitsThenRetry(t *testing.T) {
	h := newHarness(t)
	attrs := recordAttrs(h)
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "x", true)))
	fm.upErrs = []error{dirtyErr()}
	var early, badAction, noActor, badVersion, retry *updateOutcome
	var waiting EnvironmentStatus
	var statusAttrs, stepAttrs []string
	var upsWaiting int
	h.at(time.Minute, func() {
		early = fm.decide(MigrationDecisionInput{Action: MigrationRetry, Actor: "erin"})
		h.update(UpdateApprove, DecisionInput{Actor: "carol"})
	})
	h.at(2*time.Minute, func() {
		waiting = h.envStatus()
		statusAttrs, stepAttrs = attrs()
		upsWaiting = len(fm.ups())
		badAction = h.update(UpdateResolveMigration, MigrationDecisionInput{Action: "skip", Actor: "erin"})
		noActor = h.update(UpdateResolveMigration, MigrationDecisionInput{Action: MigrationRetry, Actor: "  "})
		badVersion = h.update(UpdateResolveMigration, MigrationDecisionInput{Action: MigrationForce, Version: -2, Actor: "erin"})
		retry = fm.decide(MigrationDecisionInput{Action: MigrationRetry, Actor: "erin", Comment: "fixed the file"})
	})
	h.runEnvironment(dirtyRelease(h))

	requireRejected(t, early, "no failed migration is waiting for a decision in environment production")
	requireRejected(t, badAction, `action "skip" is not retry or force`)
	requireRejected(t, noActor, "say who decides")
	requireRejected(t, badVersion, "force needs the version")
	require.NoError(t, retry.rejected)
	require.True(t, retry.accepted && retry.completed, "retry did not complete: %+v", retry)
	require.NoError(t, retry.err)
	require.Equal(t, MigrationDecisionResult{Step: "schema", Action: MigrationRetry}, retry.result)

	// While it waited: the step shows the failure and what to do.
	require.Equal(t, 1, upsWaiting, "Up was retried without a decision")
	schema := step(t, waiting, "schema")
	require.Equal(t, StateWaiting, schema.State)
	require.Contains(t, schema.Detail, "000005_x.up.sql")
	require.Contains(t, schema.Detail, "ALTER TABLE items ADD COLUMN sku text NOT NULL")
	require.NotContains(t, schema.Detail, "DEFAULT ''", "only the statement's first line")
	require.Contains(t, schema.Detail, "dirty at version 5")
	require.Contains(t, schema.Detail, "runbook migrate retry "+testReleaseID)
	require.Contains(t, schema.Detail, "runbook migrate force "+testReleaseID+" --version N")
	require.Contains(t, schema.Error, "000005_x.up.sql failed")
	require.Equal(t, StateRunning, waiting.State)
	require.Equal(t, "schema", waiting.CurrentStep)
	require.NotEmpty(t, statusAttrs)
	require.NotContains(t, statusAttrs, StateSucceeded)
	require.Equal(t, "schema", stepAttrs[len(stepAttrs)-1])

	st := succeeded(t, h)
	require.Equal(t, []string{"decide retry", "status", "up", "decide retry", "up"}, fm.log())
	require.Equal(t, []migrate.UpInput{{Target: testTarget}, {Target: testTarget}}, fm.ups())
	require.Empty(t, fm.forces())
	schema = step(t, st, "schema")
	require.Equal(t, StateSucceeded, schema.State)
	require.Empty(t, schema.Error)
	require.Equal(t, "migrated 3 → 5: 000004_add_sku.up.sql (expand), 000005_x.up.sql (expand)", schema.Detail)

	dirty := auditEntry(t, h, "schema.dirty")
	require.Equal(t, "schema", dirty.Step)
	require.Equal(t, "5", dirty.Outcome)
	require.Contains(t, dirty.Detail, "000005_x.up.sql")
	decision := auditEntry(t, h, "schema.decision")
	require.Equal(t, "erin", decision.Actor)
	require.Equal(t, MigrationRetry, decision.Outcome)
	require.Equal(t, "retry: fixed the file", decision.Detail)
	require.Equal(t, 1, count(h.auditActions(), "schema.decision schema retry"), "refused Updates leave no trace")
	actions := h.auditActions()
	require.Less(t, indexOf(actions, "schema.dirty schema 5"), indexOf(actions, "schema.decision schema retry"))
	require.Less(t, indexOf(actions, "schema.decision schema retry"), indexOf(actions, "step.succeeded schema succeeded"))
	require.Equal(t, []string{"GET /announce", "GET /smoke"}, h.srv.requests())
	h.verifyAudit()
}

func TestDirtyMigrationForceThenUp(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "x", true)))
	fm.upErrs = []error{dirtyErr(), dirtyErr()}
	var again EnvironmentStatus
	var force *updateOutcome
	h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
	h.at(2*time.Minute, func() { fm.decide(MigrationDecisionInput{Action: MigrationRetry, Actor: "erin"}) })
	h.at(3*time.Minute, func() {
		again = h.envStatus()
		force = fm.decide(MigrationDecisionInput{Action: MigrationForce, Version: 4, Actor: "erin"})
	})
	h.runEnvironment(dirtyRelease(h))

	// A retry that fails again waits again: every Up follows a decision.
	require.Equal(t, StateWaiting, step(t, again, "schema").State)
	require.Equal(t, MigrationDecisionResult{Step: "schema", Action: MigrationForce}, force.result)
	st := succeeded(t, h)
	require.Equal(t, []string{"status", "up", "decide retry", "up", "decide force", "force 4", "up"}, fm.log())
	require.Equal(t, []migrate.ForceInput{{Target: testTarget, Version: 4}}, fm.forces())
	require.Len(t, fm.ups(), 3)
	require.Equal(t, StateSucceeded, step(t, st, "schema").State)
	require.Equal(t, 2, count(h.auditActions(), "schema.dirty schema 5"))
	f := auditEntry(t, h, "schema.decision")
	require.Equal(t, "retry", f.Outcome)
	var forced bool
	for _, e := range h.auditEntries() {
		if e.Action == "schema.decision" && e.Outcome == MigrationForce {
			forced = true
			require.Equal(t, "force version 4", e.Detail)
		}
	}
	require.True(t, forced, "no audit record of the force: %v", h.auditActions())
}

func TestAbortWhileMigrationIsDirty(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "x", true)))
	fm.upErrs = []error{dirtyErr()}
	var abort *updateOutcome
	h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
	h.at(2*time.Minute, func() {
		abort = h.update(UpdateAbort, ControlInput{Actor: "erin", Reason: "restore from backup"})
	})
	h.runEnvironment(dirtyRelease(h))

	requireControl(t, abort, StateRollingBack)
	st, appErr := h.failedEnv(ErrTypeAborted)
	// The dirty schema is left to a person, so the rollback is incomplete
	// and says so, instead of reporting a clean rollback.
	require.Equal(t, "aborted by erin: restore from backup; rollback incomplete: schema left (see leftovers in runbook status release/checkout/1.4.2)", appErr.Message())
	require.Equal(t, StateRollbackIncomplete, st.State)
	require.Equal(t, []string{"status", "up", "status"}, fm.log(), "no Up, Force or Down after the abort; the undo reads the schema")
	schema := step(t, st, "schema")
	require.Equal(t, StateInterrupted, schema.State)
	require.Equal(t, StateFailed, st.Compensations[0].State)
	require.Contains(t, st.Compensations[0].Error, "dirty at version 5")
	require.Len(t, st.Leftovers, 1)
	require.Equal(t, "schema", st.Leftovers[0].Step)
	require.Contains(t, st.Leftovers[0].What, "not back at version 3")
	require.Contains(t, st.Leftovers[0].Fix, `migrate -path /srv/migrations/checkout -database "$CHECKOUT_DB" force N`)
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Equal(t, StateCompensated, step(t, st, "announce").State)
	require.Equal(t, []string{"GET /announce", "POST /undo/announce"}, h.srv.requests())
	require.NotContains(t, h.auditActions(), "schema.decision schema retry")
}

// A schema another run left dirty at its newest version has nothing
// pending, but it is not migrated: the step must not report "nothing to
// migrate" and let the release shift traffic onto it. Up decides under the
// lock (ErrDirty, or a no-op if another migrator finished meanwhile).
func TestDirtySchemaWithNothingPendingIsNotSkipped(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, migrate.StatusResult{Version: 5, HasVersion: true, Dirty: true,
		Applied: []migrate.Migration{expandM(4, "add_sku", true), expandM(5, "x", true)}})
	fm.upErrs = []error{dirtyErr()}
	var waiting EnvironmentStatus
	h.at(2*time.Minute, func() {
		waiting = h.envStatus()
		h.update(UpdateAbort, ControlInput{Actor: "erin"})
	})
	h.runEnvironment(envInput(dbEnv(migrateStep("schema", "", 0), check("smoke", h.srv.url("/smoke")))))

	require.Error(t, h.env.GetWorkflowError(), "the release went on with a dirty schema")
	require.Equal(t, []string{"status", "up"}, fm.log())
	require.Equal(t, StateWaiting, step(t, waiting, "schema").State)
	h.failedEnv(ErrTypeAborted)
	require.Empty(t, h.srv.requests(), "no step after a dirty schema")
}

// --- 5. compensation ---------------------------------------------------------------

func TestRollbackMigratesDownToRecordedVersion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		before   migrate.StatusResult
		down     migrate.DownInput
		action   string
		readBack string
	}{
		{"to version", atVersion(3, expandM(4, "add_sku", true), expandM(5, "add_sku_index", true)),
			migrate.DownInput{Target: testTarget, To: 3}, "migrate the schema down to version 3", "schema at version 3"},
		{"to nothing", migrate.StatusResult{Pending: []migrate.Migration{expandM(1, "init", true), expandM(2, "add_sku", true)}},
			migrate.DownInput{Target: testTarget, ToNothing: true}, "migrate the schema down to empty", "schema empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.failPath("/fail", "boom")
			fm := newMigrate(h, tc.before)
			var during EnvironmentStatus
			h.at(time.Minute, func() {
				during = h.envStatus()
				h.update(UpdateApprove, DecisionInput{Actor: "carol"})
			})
			h.runEnvironment(envInput(dbEnv(migrateStep("schema", "", 0), gateStep("verify", 1), check("four", h.srv.url("/fail")))))

			require.Equal(t, []CompensationStatus{{Step: "schema", Action: tc.action, State: StatePending}}, during.Compensations)
			st, _ := h.failedEnv(ErrTypeStepFailed)
			require.Equal(t, StateRolledBack, st.State)
			require.Equal(t, []migrate.DownInput{tc.down}, fm.downs())
			require.Equal(t, []CompensationStatus{{Step: "schema", Action: tc.action, State: StateDone, ReadBack: tc.readBack}}, st.Compensations)
			require.Equal(t, StateCompensated, step(t, st, "schema").State)
			require.Contains(t, h.auditActions(), "compensation.ran schema done")
			require.Equal(t, []string{"down", "status"}, fm.log()[len(fm.log())-2:], "the schema is read back after Down")
			h.verifyAudit()
		})
	}
}

func TestRollbackKeepsIrreversibleMigrations(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "backfill_sku", false)))
	h.runEnvironment(envInput(dbEnv(
		undo(check("announce", h.srv.url("/announce")), h.srv.url("/undo/announce")),
		migrateStep("schema", "", 0),
		check("four", h.srv.url("/fail")))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State, "keeping an additive schema is a complete rollback")
	require.Empty(t, fm.downs(), "Down must not run over an irreversible migration")
	require.Len(t, st.Compensations, 2)
	c := st.Compensations[0]
	require.Equal(t, "schema", c.Step)
	require.Equal(t, StateKept, c.State)
	require.Empty(t, c.Error)
	require.Contains(t, c.Action, "keep the schema at version 5")
	require.Contains(t, c.Action, "000005_backfill_sku.up.sql not reversible")
	require.NotContains(t, c.Action, "000004_add_sku.up.sql")
	require.Contains(t, c.Action, "nothing is dropped")
	require.Equal(t, StateSucceeded, step(t, st, "schema").State, "a kept schema is not compensated")
	require.Equal(t, StateDone, st.Compensations[1].State)
	require.Equal(t, StateCompensated, step(t, st, "announce").State)
	actions := h.auditActions()
	require.Contains(t, actions, "compensation.ran schema kept")
	require.Less(t, indexOf(actions, "compensation.ran schema kept"), indexOf(actions, "compensation.ran announce done"))
}

// Finding 2 of the truthful-rollback issue: an abort while Up runs must not
// leave the schema migrated under a "rolled-back" environment. The abort
// comes after Up migrated and before its result is recorded; the
// compensation, registered before Up started, reads the schema, migrates
// down and reads it back.
func TestAbortWhileMigrationRunsUndoesWhatItApplied(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "add_sku_index", true)))
	fm.afterUp = h.abortMidCall("wrong build")
	h.runEnvironment(envInput(dbEnv(migrateStep("schema", "", 0), check("smoke", h.srv.url("/smoke")))))

	st, _ := h.failedEnv(ErrTypeAborted)
	require.Equal(t, []string{"status", "up", "status", "down", "status"}, fm.log(),
		"the undo reads the schema, migrates down and reads it back")
	require.Equal(t, []migrate.DownInput{{Target: testTarget, To: 3}}, fm.downs())
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, []CompensationStatus{{Step: "schema", Action: "migrate the schema down to version 3", State: StateDone,
		ReadBack: "schema at version 3"}}, st.Compensations)
}

// An abort while Up fails to change anything: the compensation reads the
// schema, finds it where the step found it, and says so.
func TestAbortBeforeMigrationRanHasNothingToUndo(t *testing.T) {
	h := newHarness(t)
	fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true)))
	fm.upErrs = []error{temporal.NewApplicationError("connection refused", "MigrationLocked")}
	fm.afterUp = h.abortMidCall("")
	h.runEnvironment(envInput(dbEnv(migrateStep("schema", "", 0))))

	st, _ := h.failedEnv(ErrTypeAborted)
	require.Empty(t, fm.downs())
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, StateNothingToUndo, st.Compensations[0].State)
	require.Equal(t, "schema at version 3", st.Compensations[0].ReadBack)
}

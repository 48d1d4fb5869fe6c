package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/runbooks"
)

// migrateActs is the typed nil receiver of the migration activities.
var migrateActs *migrate.Activities

// Decisions on a failed (dirty) migration, sent with the resolve-migration
// Update.
const (
	MigrationRetry = "retry"
	MigrationForce = "force"
)

// MigrationDecisionInput is the argument of the resolve-migration Update:
// retry the migrations (after the database or the file was fixed), or force
// the recorded version and continue. An abort goes through abort.
type MigrationDecisionInput struct {
	Action  string `json:"action"`
	Version int    `json:"version,omitempty"`
	Actor   string `json:"actor"`
	Comment string `json:"comment,omitempty"`
	// Proof signs MigrationClaim (see DecisionInput.Proof).
	Proof *identity.Proof `json:"proof,omitempty"`
}

// MigrationDecisionResult tells the caller what happens next.
type MigrationDecisionResult struct {
	Step   string `json:"step"`
	Action string `json:"action"`
}

// migrateKind is the migrate step kind (golang-migrate).
type migrateKind struct {
	// blocked is set while a failed migration waits for a decision.
	blocked *blockedMigration
}

// blockedMigration is a migrate step waiting for a person after a failure.
type blockedMigration struct {
	step     int
	decision *MigrationDecisionInput
}

// run records the version to roll back to,
// gate contract migrations, migrate, and on a dirty failure wait for a
// person's decision instead of retrying a half-applied change.
func (k *migrateKind) run(ctx workflow.Context, e *environment, i int) error {
	if e.in.Env.Database == nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"environment %s has a migrate step but no database section", e.in.Env.Name), ErrTypeInvalid, nil)
	}
	step := e.plan[i].step.Migrate
	target := e.migrateTarget()
	st := &e.status.Steps[i]
	before, err := e.schemaStatus(ctx, target)
	if err != nil {
		return err
	}
	todo := pendingUpTo(before.Pending, step.To)
	// A dirty schema with nothing pending still goes through Up: it refuses
	// with the failure, and a person decides; it must not pass as done.
	if len(todo) == 0 && !before.Dirty {
		st.Detail = fmt.Sprintf("schema at version %d; nothing to migrate", before.Version)
		return nil
	}
	st.Detail = fmt.Sprintf("schema at version %d; to apply: %s", before.Version, describeMigrations(todo))
	e.audit(ctx, auditRecord{action: "schema.planned", step: st.Name, outcome: fmt.Sprint(before.Version), detail: st.Detail})
	e.publish(ctx)
	contract := step.Phase == "contract"
	if reasons := contractReasons(todo); len(reasons) > 0 {
		if !contract {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"step %s (phase expand) would run contract migrations: %s; run them in a phase: contract step after the traffic moved",
				st.Name, strings.Join(reasons, "; ")), migrate.ErrContract, nil)
		}
		if f := k.gateContract(ctx, e, st, step, reasons); f != nil {
			return f
		}
	}
	if e.truthful && len(todo) > 0 {
		// Registered before Up starts: an Up interrupted at any moment may
		// have applied some of it, and the undo reads the schema to see.
		k.pushSchemaCompensation(e, st.Name, target, before, todo)
	}
	res, err := k.migrateUp(ctx, e, i, target, step.To, contract)
	if err != nil {
		return err
	}
	if !e.truthful && len(todo) > 0 {
		k.pushSchemaCompensation(e, st.Name, target, before, todo)
	}
	st.Detail = fmt.Sprintf("migrated %d → %d: %s", before.Version, res.To, describeMigrations(todo))
	return nil
}

// migrateTarget is the environment's database: a reference to its
// connection string, resolved only inside the activities.
func (e *environment) migrateTarget() migrate.Target {
	db := e.in.Env.Database
	return migrate.Target{URL: db.URL, Driver: db.Driver, Migrations: db.Migrations}
}

func (e *environment) schemaStatus(ctx workflow.Context, t migrate.Target) (migrate.StatusResult, error) {
	ctx = workflow.WithActivityOptions(ctx, migrateOptions(2*time.Minute, "schema status"))
	var res migrate.StatusResult
	err := workflow.ExecuteActivity(ctx, migrateActs.Status, migrate.StatusInput{Target: t}).Get(ctx, &res)
	return res, err
}

// migrateUp migrates, and on a dirty failure blocks the step until someone
// decides: retry or force a version (abort ends the wait through abort).
func (k *migrateKind) migrateUp(ctx workflow.Context, e *environment, i int, t migrate.Target, to int, contract bool) (migrate.UpResult, error) {
	for {
		opts := migrateOptions(time.Hour, "migrate "+e.in.Env.Name)
		if e.truthful {
			// An abort waits until Up stopped (between two migrations, or
			// with its statement rolled back): the undo must not race it.
			opts.HeartbeatTimeout, opts.WaitForCancellation = 15*time.Second, true
		}
		actx := workflow.WithActivityOptions(ctx, opts)
		var res migrate.UpResult
		err := workflow.ExecuteActivity(actx, migrateActs.Up, migrate.UpInput{Target: t, To: uint(to), AllowContract: contract}).Get(actx, &res)
		var appErr *temporal.ApplicationError
		if err == nil || !errors.As(err, &appErr) || appErr.Type() != migrate.ErrDirty {
			return res, err
		}
		if f := k.decideOnDirty(ctx, e, i, t, appErr); f != nil {
			return res, f
		}
	}
}

// decideOnDirty waits for a decision on a dirty schema and carries out a
// force. A force the activity refuses (a version not in the directory)
// shows its error and waits again, rather than ending the release. An abort
// leaves the dirty schema to a person, and the rollback says so.
func (k *migrateKind) decideOnDirty(ctx workflow.Context, e *environment, i int, t migrate.Target, failed *temporal.ApplicationError) *failure {
	for {
		d, f := k.awaitMigrationDecision(ctx, e, i, failed)
		if f != nil {
			if !e.truthful {
				var dd migrate.DirtyDetails
				_ = failed.Details(&dd)
				e.pushCompensation(compensation{step: e.status.Steps[i].Name, undo: &schemaUndo{target: t, dirty: true, to: dd.Version}})
			}
			return f
		}
		if d.Action != MigrationForce {
			return nil
		}
		fctx := workflow.WithActivityOptions(ctx, migrateOptions(2*time.Minute, fmt.Sprintf("force version %d", d.Version)))
		err := workflow.ExecuteActivity(fctx, migrateActs.Force, migrate.ForceInput{Target: t, Version: d.Version}).Get(fctx, nil)
		var appErr *temporal.ApplicationError
		if err == nil {
			return nil
		}
		if !errors.As(err, &appErr) || appErr.Type() != migrate.ErrInvalid {
			return &failure{cause: ErrTypeStepFailed, message: "force: " + rootMessage(err)}
		}
		failed = appErr
	}
}

// awaitMigrationDecision shows the failure and waits for resolve-migration
// or an abort.
func (k *migrateKind) awaitMigrationDecision(ctx workflow.Context, e *environment, i int, failed *temporal.ApplicationError) (MigrationDecisionInput, *failure) {
	st := &e.status.Steps[i]
	var d migrate.DirtyDetails
	_ = failed.Details(&d)
	st.State = StateWaiting
	st.Error = failed.Message()
	at := ""
	if stmt := firstLine(d.Statement); stmt != "" {
		at = " at `" + stmt + "`"
	}
	st.Detail = fmt.Sprintf("migration %s failed%s; the schema is dirty at version %d — decide: "+
		"runbook migrate retry %s | runbook migrate force %s --version N | runbook abort %s",
		d.File, at, d.Version, e.in.ReleaseID, e.in.ReleaseID, e.in.ReleaseID)
	k.blocked = &blockedMigration{step: i}
	e.upsertAttrs(ctx)
	e.audit(ctx, auditRecord{action: "schema.dirty", step: st.Name, outcome: fmt.Sprint(d.Version), detail: failed.Message()})
	e.publish(ctx)
	err := workflow.Await(ctx, func() bool { return k.blocked.decision != nil || e.abort != nil })
	if err != nil {
		e.abortFromCancel()
	}
	decision := k.blocked.decision
	k.blocked = nil
	if e.abort != nil {
		return MigrationDecisionInput{}, e.abortFailure()
	}
	e.settle(ctx) // the decision's record, before the retry or force
	st.State, st.Error = StateRunning, ""
	e.publish(ctx)
	return *decision, nil
}

// validateMigrationDecision refuses a decision when no migration waits.
func (e *environment) validateMigrationDecision(ctx workflow.Context, in MigrationDecisionInput) error {
	if strings.TrimSpace(in.Actor) == "" && in.Proof == nil {
		return fmt.Errorf("say who decides: pass --as NAME")
	}
	if err := e.migrationWaiting(); err != nil {
		return err
	}
	switch in.Action {
	case MigrationRetry:
	case MigrationForce:
		if in.Version < -1 {
			return fmt.Errorf("force needs the version the schema really is at (-1 for none)")
		}
	default:
		return fmt.Errorf("action %q is not retry or force", in.Action)
	}
	_, err := e.decider(ctx, in.Proof, MigrationClaim(e.status.WorkflowID, e.status.RunID, in), in.Actor, "cli", nil)
	return err
}

// migrationWaiting says why no migration decision can be taken now, if
// none can.
func (e *environment) migrationWaiting() error {
	if err := e.active(); err != nil {
		return err
	}
	if k := e.migrating(); k == nil || k.blocked == nil || k.blocked.decision != nil {
		return fmt.Errorf("no failed migration is waiting for a decision in environment %s", e.status.Name)
	}
	return nil
}

// migrating is the migrate step running now, nil when none is.
func (e *environment) migrating() *migrateKind {
	k, _ := e.runningKind().(*migrateKind)
	return k
}

// resolveMigration records the decision; the step acts on it.
func (e *environment) resolveMigration(ctx workflow.Context, in MigrationDecisionInput) (MigrationDecisionResult, error) {
	if err := e.recheckSigned(ctx, UpdateResolveMigration, in.Proof, in.Actor, e.migrationWaiting); err != nil {
		return MigrationDecisionResult{}, err
	}
	id := e.identify(in.Proof, in.Actor, nil)
	in.Actor = id.Name
	blocked := e.migrating().blocked
	blocked.decision = &in
	step := e.status.Steps[blocked.step].Name
	detail := in.Action
	if in.Action == MigrationForce {
		detail = fmt.Sprintf("force version %d", in.Version)
	}
	if in.Comment != "" {
		detail += ": " + in.Comment
	}
	e.audit(ctx, auditRecord{action: "schema.decision", actor: id.Name, step: step, outcome: in.Action, detail: detail, identity: auditIdentity(id)})
	return MigrationDecisionResult{Step: step, Action: in.Action}, nil
}

// gateContract asks for an approval before drops and rewrites.
func (k *migrateKind) gateContract(ctx workflow.Context, e *environment, st *StepStatus, step *runbooks.MigrateStep, reasons []string) *failure {
	st.Gate = &GateStatus{
		Name: st.Name, Approvers: step.Approvers, MinApprovals: 1,
		Instructions: "Contract migrations drop or rewrite data: " + strings.Join(reasons, "; ") +
			". Approve once no running version needs what they remove.",
	}
	f := e.awaitGate(ctx, st, e.in.Policy.ApprovalTimeout.Or(defaultApprovalTimeout))
	if f == nil {
		st.State = StateRunning
		e.publish(ctx)
	}
	return f
}

// migrateOptions: migrations are not retried blindly (a dirty schema needs a
// person); a held lock and lost connections are.
func migrateOptions(timeout time.Duration, summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 20,
			NonRetryableErrorTypes: []string{migrate.ErrDirty, migrate.ErrContract, migrate.ErrInvalid, migrate.ErrIrreversible},
		},
		Summary: summary,
	}
}

// pendingUpTo returns the pending migrations up to version to (0 = all).
func pendingUpTo(pending []migrate.Migration, to int) []migrate.Migration {
	var out []migrate.Migration
	for _, m := range pending {
		if to == 0 || m.Version <= uint(to) {
			out = append(out, m)
		}
	}
	return out
}

func contractReasons(ms []migrate.Migration) []string {
	var out []string
	for _, m := range ms {
		if m.Class == "contract" {
			out = append(out, m.Reasons...)
		}
	}
	return out
}

func describeMigrations(ms []migrate.Migration) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%s (%s)", m.File, m.Class)
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// assess reads the pending migrations for the risk assessment: a contract
// migration, or no schema status at all, is high risk.
func (k *migrateKind) assess(ctx workflow.Context, e *environment, s runbooks.Step, preview *changePreview) []riskFact {
	st, err := e.schemaStatus(ctx, e.migrateTarget())
	if err != nil {
		preview.migrations = append(preview.migrations, "schema: no status ("+rootMessage(err)+")")
		return []riskFact{{level: runbooks.RiskHigh, reason: "no schema status for " + s.Name + ": " + rootMessage(err)}}
	}
	var facts []riskFact
	for _, m := range pendingUpTo(st.Pending, s.Migrate.To) {
		preview.migrations = append(preview.migrations, fmt.Sprintf("%s (%s)", m.File, m.Class))
		if m.Class == migrate.Contract {
			facts = append(facts, riskFact{level: runbooks.RiskHigh, reason: "contract migration " + m.File})
		}
	}
	return facts
}

// gatePreview lists the pending migrations of the first migrate step after
// a gate, with their class, for its message.
func (k *migrateKind) gatePreview(ctx workflow.Context, e *environment, s runbooks.Step, preview *changePreview) {
	if preview.migrations != nil {
		return
	}
	st, err := e.schemaStatus(ctx, e.migrateTarget())
	if err != nil {
		preview.migrations = []string{"schema: no status (" + rootMessage(err) + ")"}
		return
	}
	out := []string{}
	for _, m := range pendingUpTo(st.Pending, s.Migrate.To) {
		out = append(out, fmt.Sprintf("%s (%s)", m.File, strings.ToLower(m.Class)))
	}
	if len(out) == 0 {
		out = append(out, "schema: up to date")
	}
	preview.migrations = out
}

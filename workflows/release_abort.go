package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// soakAbortChange versions the abort a release takes while it soaks
// between two environments (no environment runs then to take it): runs
// from before it replay without the trust roots' load it adds.
const soakAbortChange = "soak-abort"

// acceptSoakAbort loads the trust roots (once) and serves the release's
// abort Update while it soaks: cancel ends the soak's timer.
func (r *release) acceptSoakAbort(ctx workflow.Context, cancel workflow.CancelFunc) error {
	first := !r.sig.loaded
	r.sig.load(ctx)
	r.cancelSoak = cancel
	if !first {
		return nil
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAbort, r.abortSoak,
		workflow.UpdateHandlerOptions{Validator: r.validateSoakAbort})
}

// validateSoakAbort refuses an abort unless the release soaks now: at any
// other time the running environment takes it.
func (r *release) validateSoakAbort(ctx workflow.Context, in ControlInput) error {
	if r.status.Soak == nil || r.abort != nil || r.cancelSoak == nil {
		return fmt.Errorf("release %s is not soaking between environments; an abort goes to its running environment (runbook abort %s@ENV)",
			r.status.ReleaseID, r.status.ReleaseID)
	}
	if strings.TrimSpace(in.Reason) == "" {
		return fmt.Errorf("an abort needs --reason: say why (it goes to the audit log)")
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	_, err := r.sig.verify(ctx, in.Proof, ControlClaim(info.ID, info.RunID, UpdateAbort, in), in.Actor, "this release")
	return err
}

// abortSoak ends the soak: the next environment never starts, and the
// release ends aborted, naming who and why.
func (r *release) abortSoak(ctx workflow.Context, in ControlInput) (ControlResult, error) {
	id := r.sig.identify(in.Proof, in.Actor, nil)
	r.abort = &Decision{Actor: id.Name, Comment: in.Reason, At: workflow.Now(ctx), Verified: auditIdentity(id)}
	r.audit(ctx, "release.aborted", id.Name, StateAborted, fmt.Sprintf("during the soak of %s, before %s: %s (%s)",
		r.status.Soak.Environment, r.status.Soak.Next, in.Reason, r.abort.Verified))
	if r.cancelSoak != nil {
		r.cancelSoak()
	}
	return ControlResult{State: StateAborted}, nil
}

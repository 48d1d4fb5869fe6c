package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/internal/identity"
)

// FlagOffWorkflowName is the kill switch: one flag turned off at once,
// without a release, signed and audited like any decision.
const FlagOffWorkflowName = "FlagOff"

// ActionFlagOff is what a kill switch's signature covers.
const ActionFlagOff = "flag.off"

// FlagOffID is the workflow ID of a kill switch of flag in service's env.
func FlagOffID(service, env, flag string) string {
	return "flag-off/" + service + "/" + env + "/" + flag
}

// FlagOffInput is the kill switch: which flag, where its provider is (from
// the environment's runbook), who and why.
type FlagOffInput struct {
	Service     string            `json:"service"`
	Environment string            `json:"environment"`
	Flag        string            `json:"flag"`
	Provider    string            `json:"provider"`
	Options     map[string]string `json:"options,omitempty"`
	Actor       string            `json:"actor"`
	Reason      string            `json:"reason"`
	Proof       *identity.Proof   `json:"proof,omitempty"`
}

// FlagOffResult is what the provider showed before and after.
type FlagOffResult struct {
	Flag     string `json:"flag"`
	Before   string `json:"before"`
	After    string `json:"after"`
	Actor    string `json:"actor"`
	Verified string `json:"verified,omitempty"`
}

// FlagOffClaim is what the person turning a flag off signs.
func FlagOffClaim(id string, in FlagOffInput) identity.Claim {
	return identity.Claim{Action: ActionFlagOff, Workflow: id, Target: in.Flag,
		Detail: in.Service + "/" + in.Environment, Comment: in.Reason}
}

// FlagOff verifies who asks, reads the flag, turns it off (read back) and
// audits it. A refused request changes nothing and says why.
func FlagOff(ctx workflow.Context, in FlagOffInput) (FlagOffResult, error) {
	if in.Reason == "" {
		return FlagOffResult{}, temporal.NewNonRetryableApplicationError("turning a flag off needs a reason", ErrTypeInvalid, nil)
	}
	var sig decisionSigning
	sig.load(ctx)
	info := workflow.GetInfo(ctx).WorkflowExecution
	id, err := sig.verify(ctx, in.Proof, FlagOffClaim(info.ID, in), in.Actor, "the kill switch")
	if err != nil {
		return FlagOffResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeUnverified, nil)
	}
	who := sig.identify(in.Proof, in.Actor, nil)
	target := flags.Target{Provider: in.Provider, Options: in.Options, Flags: []string{in.Flag}}
	var before, after flags.ReadFlagsResult
	if err := workflow.ExecuteActivity(flagCtx(ctx, "read flag "+in.Flag), flagActs.ReadFlags, target).Get(ctx, &before); err != nil {
		return FlagOffResult{}, err
	}
	err = workflow.ExecuteActivity(flagCtx(ctx, "turn "+in.Flag+" off"), flagActs.SetFlags,
		flags.SetFlagsInput{Target: target, Rollout: flags.Rollout{}}).Get(ctx, &after)
	res := FlagOffResult{Flag: in.Flag, Before: before.Definitions[0].Describe(), Actor: id.Name, Verified: auditIdentity(who)}
	outcome := StateSucceeded
	if err != nil {
		outcome = StateFailed
	} else {
		res.After = after.Definitions[0].Describe()
	}
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID: info.ID + "/" + info.RunID, Time: workflow.Now(ctx).UTC(), Actor: who.Name, Action: ActionFlagOff,
		Release: info.ID, Service: in.Service, Environment: in.Environment, Step: in.Flag, Outcome: outcome,
		Detail: fmt.Sprintf("%s: %s → off: %s", in.Flag, res.Before, in.Reason), Channel: "cli", Identity: auditIdentity(who),
	}}, nil)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** turned off in %s/%s by %s (%s): %s", in.Flag, in.Service, in.Environment, who.Name, res.Before, in.Reason))
	return res, err
}

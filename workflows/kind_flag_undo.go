package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/flags"
)

// flagUndo puts every flag of a flag step back to the definition the step
// found, read back from the provider afterwards.
type flagUndo struct {
	target flags.Target
	before []flags.Definition
	// after is what the provider showed after the restore.
	after []flags.Definition
}

func (u *flagUndo) describe() string {
	parts := make([]string, len(u.before))
	for i, d := range u.before {
		parts[i] = fmt.Sprintf("%s back to %s", d.Flag, d.Describe())
	}
	return "restore " + strings.Join(parts, ", ")
}

// undo restores the definitions; restoring twice is harmless.
func (u *flagUndo) undo(ctx workflow.Context, e *environment) (undone, error) {
	var res flags.ReadFlagsResult
	err := workflow.ExecuteActivity(flagCtx(ctx, "restore flags "+strings.Join(u.target.Flags, ", ")), flagActs.RestoreFlags,
		flags.RestoreFlagsInput{Provider: u.target.Provider, Options: u.target.Options, Definitions: u.before}).Get(ctx, &res)
	u.after = res.Definitions
	return reverted, err
}

// readBack reads the flags again: undone only when each shows the
// definition the step found.
func (u *flagUndo) readBack(ctx workflow.Context, e *environment, _ undone) (observed, error) {
	var res flags.ReadFlagsResult
	in := flags.ReadBackInput{Target: u.target, Expect: u.before}
	if err := workflow.ExecuteActivity(flagCtx(ctx, "read back flags"), flagActs.ReadBackFlags, in).Get(ctx, &res); err != nil {
		return observed{}, err
	}
	var found []string
	for _, d := range res.Definitions {
		found = append(found, d.Flag+" "+d.Describe())
		for j := range e.status.Flags {
			if f := &e.status.Flags[j]; f.Flag == d.Flag {
				f.Rollout = d.Describe()
			}
		}
	}
	return observed{ok: res.Same, found: "flags " + strings.Join(found, ", ")}, nil
}

func (u *flagUndo) leftover(e *environment) Leftover {
	return Leftover{
		What: fmt.Sprintf("flags %s may not be back where the release found them (%s)", strings.Join(u.target.Flags, ", "), u.describe()),
		Fix:  fmt.Sprintf("check them in the %s flag provider and set them back by hand; runbook flag off SERVICE FLAG --env %s turns one off", u.target.Provider, e.in.Env.Name),
	}
}

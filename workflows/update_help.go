package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
)

// updateExample is one Update an environment accepts, with a payload to
// paste into the Web UI's "Send an Update" form.
type updateExample struct {
	name, what string
	payload    any
}

// updateExamples are marshalled from the Updates' own input types, so the
// help cannot drift from what the handlers decode.
var updateExamples = []updateExample{
	{UpdateApprove, "approve the waiting gate (gate may be left out when one waits)",
		DecisionInput{Gate: "GATE", Actor: "YOUR-NAME", Comment: "looks good"}},
	{UpdateReject, "reject it; the environment rolls back", DecisionInput{Gate: "GATE", Actor: "YOUR-NAME", Comment: "why"}},
	{UpdatePause, "pause before the next step or weight", ControlInput{Actor: "YOUR-NAME", Reason: "why"}},
	{UpdateResume, "resume a pause or an inconclusive analysis", ControlInput{Actor: "YOUR-NAME"}},
	{UpdatePromote, "end the current weight's bake (traffic steps)", ControlInput{Actor: "YOUR-NAME"}},
	{UpdateAbort, "stop and roll back", ControlInput{Actor: "YOUR-NAME", Reason: "why"}},
	{UpdateResolveMigration, "after a failed migration: retry, or force the version the schema is at",
		MigrationDecisionInput{Action: MigrationRetry, Actor: "YOUR-NAME"}},
}

// UpdateHelp is the markdown the Web UI shows in a release's details: which
// workflows take the decisions, and each Update's payload. Environments
// whose identity is signed refuse the Web UI's unsigned Updates, so the
// help says to use the CLI or Slack there.
func UpdateHelp(release string, envWorkflowIDs []string) string {
	var b strings.Builder
	b.WriteString("**Decisions** are Updates on the environment's workflow")
	if len(envWorkflowIDs) > 0 {
		fmt.Fprintf(&b, " (`%s`)", strings.Join(envWorkflowIDs, "`, `"))
	}
	fmt.Fprintf(&b, ". From a terminal: `runbook approve %[1]s`, `runbook abort %[1]s --reason …` (signed with your key). "+
		"In environments with `identity: signed` the Web UI cannot sign: use the CLI or the Slack buttons there.\n\n", release)
	b.WriteString("| Update | does | payload |\n|---|---|---|\n")
	for i, u := range updateExamples {
		fmt.Fprintf(&b, "| %s | %s | `%s` |\n", u.name, u.what, updatePayloads[i])
	}
	return b.String()
}

// updatePayloads are the examples' JSON, encoded once when the package
// loads: workflow code renders the help and must not call encoding/json,
// whose type cache workflowcheck cannot prove deterministic.
var updatePayloads = func() []string {
	out := make([]string, len(updateExamples))
	for i, u := range updateExamples {
		p, _ := json.Marshal(u.payload) // plain structs: cannot fail
		out[i] = string(p)
	}
	return out
}()

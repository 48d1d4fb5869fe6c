package workflows

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// A release keeps RunbookEnvironment at the last environment it reached
// once it ends: new releases record keepLastEnvironmentChange, and a
// history without the marker from a build not listed in
// unsetEnvironmentBuilds keeps it too (the code between 8b359c8 and the
// version). The listed builds that unset it are proven by replaying
// test/testdata/histories/v0-release-*.json.
func TestEnvironmentAttrKeepsLastReached(t *testing.T) {
	envs := func(states ...string) []EnvironmentStatus {
		var out []EnvironmentStatus
		for i, s := range states {
			out = append(out, EnvironmentStatus{Name: []string{"staging", "production"}[i], State: s})
		}
		return out
	}
	cases := []struct {
		name    string
		current string
		envs    []EnvironmentStatus
		want    string
	}{
		{"not started", "", envs(StatePending, StatePending), ""},
		{"in staging", "staging", envs(StateRunning, StatePending), "staging"},
		{"succeeded", "", envs(StateSucceeded, StateSucceeded), "production"},
		{"rolled back in staging", "", envs(StateRolledBack, StateNotReached), "staging"},
	}
	for _, version := range []workflow.Version{1, workflow.DefaultVersion} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/version %d", tc.name, version), func(t *testing.T) {
				var suite testsuite.WorkflowTestSuite
				env := suite.NewTestWorkflowEnvironment()
				env.OnGetVersion(keepLastEnvironmentChange, workflow.DefaultVersion, 1).Return(version)
				env.ExecuteWorkflow(func(ctx workflow.Context) (string, error) {
					r := &release{status: ReleaseStatus{CurrentEnvironment: tc.current, Environments: tc.envs}}
					return r.environmentAttr(ctx), nil
				})
				var got string
				require.NoError(t, env.GetWorkflowResult(&got))
				require.Equal(t, tc.want, got)
			})
		}
	}
}

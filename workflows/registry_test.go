package workflows

import (
	"testing"

	"go.temporal.io/sdk/workflow"
)

// A versioned worker refuses to start with a workflow of no versioning
// behavior, so a new registration without one must fail here first.
func TestEveryRegistrationHasAVersioningBehavior(t *testing.T) {
	for _, r := range Registrations {
		if r.Behavior == workflow.VersioningBehaviorUnspecified {
			t.Errorf("workflow %s has no versioning behavior (Pinned or AutoUpgrade)", r.Name)
		}
	}
}

// The workflows that wait at gates for days are pinned: a new build must
// never replay their history. The ones that live for ever must not be.
func TestLongLivedWorkflowsArePinnedForeverOnesAutoUpgrade(t *testing.T) {
	want := map[string]workflow.VersioningBehavior{
		ReleaseWorkflowName:     workflow.VersioningBehaviorPinned,
		EnvironmentWorkflowName: workflow.VersioningBehaviorPinned,
		TrainWorkflowName:       workflow.VersioningBehaviorPinned,
		WatchWorkflowName:       workflow.VersioningBehaviorPinned,
		"Freezes":               workflow.VersioningBehaviorAutoUpgrade,
	}
	for _, r := range Registrations {
		if b, ok := want[r.Name]; ok && r.Behavior != b {
			t.Errorf("workflow %s: behavior %v, want %v", r.Name, r.Behavior, b)
		}
		delete(want, r.Name)
	}
	if len(want) > 0 {
		t.Errorf("not registered: %v", want)
	}
}

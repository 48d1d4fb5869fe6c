//go:build versioningtest

package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// versioningTestChange makes Release start with a timer that no other
// build emits, deliberately outside workflow.GetVersion: a history made by
// a build without the tag fails to replay on this one. Only the Worker
// Versioning test (test/e2e_versioning_test.go) builds with the tag.
func versioningTestChange(ctx workflow.Context) {
	_ = workflow.Sleep(ctx, time.Millisecond)
}

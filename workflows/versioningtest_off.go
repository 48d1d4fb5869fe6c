//go:build !versioningtest

package workflows

import "go.temporal.io/sdk/workflow"

// versioningTestChange is where the Worker Versioning test's second build
// (-tags versioningtest, test/e2e_versioning_test.go) makes Release emit a
// command the first build's histories do not have. In every other build it
// does nothing and emits nothing.
func versioningTestChange(workflow.Context) {}

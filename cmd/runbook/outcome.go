package main

import (
	"fmt"
	"strings"

	"github.com/runbookhq/runbook/workflows"
)

// Exit codes of deploy --wait and watch.
const (
	// exitFailed: the release did not succeed and its rollback (if any)
	// is complete.
	exitFailed = 1
	// exitRollbackIncomplete: the rollback could not undo, or read back,
	// every effect; `runbook status` lists what is left and how to finish.
	exitRollbackIncomplete = 3
)

// outcome turns a final status into the command's exit: 0 only on success,
// 3 when the rollback is incomplete, 1 otherwise.
func outcome(st workflows.ReleaseStatus) error {
	if st.State == workflows.StateSucceeded {
		return nil
	}
	// One line, whatever the reason holds: scripts read the last line.
	reason := strings.Join(strings.Fields(st.Reason), " ")
	code := exitFailed
	if st.State == workflows.StateRollbackIncomplete {
		code = exitRollbackIncomplete
	}
	return &exitError{code: code, msg: fmt.Sprintf("release %s %s: %s", st.ReleaseID, st.State, reason)}
}

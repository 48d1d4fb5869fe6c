package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// follower polls a release and shows its progress: redrawn in place on a
// terminal, one line per change otherwise (logs, CI, pipes).
type follower struct {
	out      io.Writer
	redraw   bool
	interval time.Duration
	// onStatus, if set, sees every status (the demo uses it to approve).
	onStatus func(workflows.ReleaseStatus)
}

func newFollower(out io.Writer) *follower {
	f := &follower{out: out, interval: 500 * time.Millisecond}
	if file, ok := out.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		f.redraw = true
	}
	return f
}

// follow returns the final status once the release has ended.
func (f *follower) follow(ctx context.Context, rc *releases.Client, id string) (workflows.ReleaseStatus, error) {
	var tr releases.Tracker
	var lastErr string
	for {
		st, err := rc.Status(ctx, id)
		switch {
		case err != nil:
			if err.Error() != lastErr {
				fmt.Fprintf(f.out, "waiting for status: %v\n", err)
				lastErr = err.Error()
			}
		default:
			lastErr = ""
			f.show(st, &tr)
			if f.onStatus != nil {
				f.onStatus(st)
			}
			if st.Finished() {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(f.interval):
		}
	}
}

func (f *follower) show(st workflows.ReleaseStatus, tr *releases.Tracker) {
	if f.redraw {
		fmt.Fprint(f.out, "\033[H\033[2J")
		releases.Render(f.out, st)
		return
	}
	for _, line := range tr.Changes(st) {
		fmt.Fprintf(f.out, "%s  %s\n", time.Now().Format("15:04:05"), line)
	}
}

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

package statusview

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/runbookhq/runbook/workflows"
)

// StatusSource answers a release's status; the release client is one.
type StatusSource interface {
	Status(ctx context.Context, id string) (workflows.ReleaseStatus, error)
}

// Follower polls a release and shows its progress: redrawn in place on a
// terminal, one line per change otherwise (logs, CI, pipes).
type Follower struct {
	Out      io.Writer
	Redraw   bool
	Interval time.Duration
	// OnStatus, if set, sees every status (the demo uses it to approve).
	OnStatus func(workflows.ReleaseStatus)
}

// NewFollower writes to out, redrawing when out is a terminal.
func NewFollower(out io.Writer) *Follower {
	f := &Follower{Out: out, Interval: 500 * time.Millisecond}
	if file, ok := out.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		f.Redraw = true
	}
	return f
}

// Follow returns the final status once the release has ended.
func (f *Follower) Follow(ctx context.Context, src StatusSource, id string) (workflows.ReleaseStatus, error) {
	var tr Tracker
	var lastErr string
	for {
		st, err := src.Status(ctx, id)
		switch {
		case err != nil:
			if err.Error() != lastErr {
				fmt.Fprintf(f.Out, "waiting for status: %v\n", err)
				lastErr = err.Error()
			}
		default:
			lastErr = ""
			f.show(st, &tr)
			if f.OnStatus != nil {
				f.OnStatus(st)
			}
			if st.Finished() {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(f.Interval):
		}
	}
}

func (f *Follower) show(st workflows.ReleaseStatus, tr *Tracker) {
	if f.Redraw {
		fmt.Fprint(f.Out, "\033[H\033[2J")
		Render(f.Out, st)
		return
	}
	for _, line := range tr.Changes(st) {
		fmt.Fprintf(f.Out, "%s  %s\n", time.Now().Format("15:04:05"), line)
	}
}

package statusview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// TestFollowerNotOnTerminal: output to a buffer (a pipe, a CI log) is one
// line per change, never the terminal redraw.
func TestFollowerNotOnTerminal(t *testing.T) {
	var b bytes.Buffer
	f := NewFollower(&b)
	if f.Redraw {
		t.Fatal("follower redraws on a buffer")
	}
	f.show(workflows.ReleaseStatus{ReleaseID: "release/checkout/1.4.2", State: workflows.StateRunning}, &Tracker{})
	if strings.Contains(b.String(), "\033[") || !strings.HasSuffix(b.String(), "  release release/checkout/1.4.2: running\n") {
		t.Errorf("follower output %q; want one time-stamped line, no escape codes", b.String())
	}
}

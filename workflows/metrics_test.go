package workflows

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/internal/telemetry"
)

// A gate rejected a minute after it opened records a one-minute wait with
// outcome rejected, and the rollback it starts records its duration with
// the state it ended in; both by service and environment.
func TestGateWaitAndRollbackMetrics(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, func() {
		h.update(UpdateReject, DecisionInput{Actor: "carol", Comment: "no"})
	})
	h.runEnvironment(envInput(envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		gateStep("sign-off", 1, "carol"))))
	st, _ := h.failedEnv(ErrTypeRejected)
	require.Equal(t, StateRolledBack, st.State)

	var b strings.Builder
	require.NoError(t, h.metrics.WriteText(&b))
	out := b.String()
	gate := series(t, out, telemetry.GateWaitSeconds+"_sum", `environment="production"`, `outcome="rejected"`)
	require.InDelta(t, 60, gate, 1, "the gate waited a minute of workflow time:\n%s", out)
	require.Equal(t, 1.0, series(t, out, telemetry.GateWaitSeconds+"_count", `outcome="rejected"`))
	require.Equal(t, 1.0, series(t, out, telemetry.RollbackSeconds+"_count", `environment="production"`, `outcome="rolled-back"`))
}

// series is the value of the one series of name whose labels include all
// of labels.
func series(t *testing.T, text, name string, labels ...string) float64 {
	t.Helper()
	var found []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			found = append(found, line)
		}
	}
	require.Len(t, found, 1, "series %s%v in:\n%s", name, labels, text)
	var v float64
	_, err := fmt.Sscan(found[0][strings.LastIndexByte(found[0], ' ')+1:], &v)
	require.NoError(t, err)
	return v
}

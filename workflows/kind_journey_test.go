package workflows

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/runbooks"
)

func journeyStep(name string, deadline time.Duration, urls ...string) runbooks.Step {
	j := &runbooks.JourneyStep{Interval: runbooks.Duration(time.Second), Deadline: runbooks.Duration(deadline)}
	for i, u := range urls {
		r := runbooks.JourneyRequest{Name: []string{"login", "order", "read"}[i], URL: u}
		if i == 1 {
			r.Method = http.MethodPost
		}
		j.Requests = append(j.Requests, r)
	}
	return runbooks.Step{Name: name, Journey: j}
}

// A journey runs its requests in order in one activity, each with its own
// idempotency key, and says so in the step's detail and the audit log.
func TestJourneyStepPasses(t *testing.T) {
	h := newHarness(t)
	s := journeyStep("buy", time.Minute, h.srv.url("/j/login"), h.srv.url("/j/order/${version}"), h.srv.url("/j/read"))
	h.runEnvironment(envInput(envSpec("staging", s)))
	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	buy := step(t, res.Status, "buy")
	require.Equal(t, StateSucceeded, buy.State)
	require.Regexp(t, regexp.MustCompile(`^journey: 3 requests passed in \d+ ms \(attempt 1\)$`), buy.Detail)
	require.Equal(t, []string{"GET /j/login", "POST /j/order/" + testVersion, "GET /j/read"}, h.srv.requests())
	keys := map[string]bool{}
	for _, hit := range h.srv.all() {
		require.Regexp(t, `/buy/(login|order|read)$`, hit.IdempotencyKey)
		keys[hit.IdempotencyKey] = true
	}
	require.Len(t, keys, 3)
	var audited bool
	for _, en := range h.auditEntries() {
		audited = audited || (en.Action == "step.succeeded" && en.Step == "buy" && en.Detail == buy.Detail)
	}
	require.True(t, audited, "no step.succeeded audit record for the journey")
}

// A failing request fails the step after the deadline, names the request,
// and the step's on-rollback hook runs.
func TestJourneyStepFailsAndRollsBack(t *testing.T) {
	h := newHarness(t)
	h.srv.answer("/j/order", http.StatusUnauthorized)
	s := undo(journeyStep("buy", 3*time.Second, h.srv.url("/j/login"), h.srv.url("/j/order")), h.srv.url("/undo/buy"))
	h.runEnvironment(envInput(envSpec("staging", s)))
	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Contains(t, appErr.Error(), "step buy failed: request order: got 401, want 200")
	buy := step(t, st, "buy")
	require.Equal(t, "journey: request order: got 401, want 200", buy.Detail)
	require.Equal(t, StateRolledBack, st.State)
	reqs := h.srv.requests()
	require.Equal(t, "POST /undo/buy", reqs[len(reqs)-1])
	require.GreaterOrEqual(t, len(reqs), 5, "the journey was not retried: %v", reqs)
}

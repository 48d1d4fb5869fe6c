package releases

import (
	"context"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/workflows"
)

// addLiveEnvironment replaces the release's copy of the running
// environment with the environment's own status when it is newer: an
// environment that reports by phase (PhasesOnly) tells its release little
// between phases. An environment that cannot answer (it just closed, its
// worker is busy) leaves the copy as it was.
func (c *Client) addLiveEnvironment(ctx context.Context, st *workflows.ReleaseStatus) {
	for i := range st.Environments {
		e := &st.Environments[i]
		if e.Name != st.CurrentEnvironment || e.WorkflowID == "" || e.RunID == "" {
			continue
		}
		v, err := c.Temporal.QueryWorkflow(ctx, e.WorkflowID, e.RunID, workflows.QueryStatus)
		if err != nil {
			return
		}
		var live workflows.EnvironmentStatus
		if v.Get(&live) == nil && live.RunID == e.RunID && live.Revision >= e.Revision {
			*e = live
		}
	}
}

// addLiveRounds adds the analysis rounds of a bake still running to the
// current environment's traffic status. The workflow only learns a bake's
// rounds when the bake ends; until then they are in the Bake activity's
// heartbeat, which this reads, so `status` and `watch` show every round as
// it is measured. Errors only mean no live rounds: the status stays valid.
func (c *Client) addLiveRounds(ctx context.Context, st *workflows.ReleaseStatus) {
	for i := range st.Environments {
		e := &st.Environments[i]
		if e.Name != st.CurrentEnvironment || e.Traffic == nil || e.Traffic.Phase == 0 || e.WorkflowID == "" {
			continue
		}
		desc, err := c.Temporal.DescribeWorkflow(ctx, e.WorkflowID, e.RunID)
		if err != nil || desc.RawResponse == nil {
			return
		}
		for _, pa := range desc.RawResponse.GetPendingActivities() {
			if pa.GetActivityType().GetName() != metrics.BakeActivityName || pa.GetHeartbeatDetails() == nil {
				continue
			}
			var p metrics.BakeProgress
			if err := c.dataConverter().FromPayloads(pa.GetHeartbeatDetails(), &p); err != nil {
				continue
			}
			e.Traffic.Rounds = mergeRounds(e.Traffic.Rounds, p.Rounds)
		}
	}
}

// mergeRounds appends the rounds of live that rounds does not have yet.
func mergeRounds(rounds, live []metrics.MeasureResult) []metrics.MeasureResult {
	last := 0
	if n := len(rounds); n > 0 {
		last = rounds[n-1].Round
	}
	for _, r := range live {
		if r.Round > last {
			rounds = append(rounds, r)
			last = r.Round
		}
	}
	return rounds
}

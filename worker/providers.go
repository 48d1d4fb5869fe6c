package worker

// The metrics providers register themselves with metrics.New when linked in;
// the worker links every one the runbook format names.
import (
	_ "github.com/runbookhq/runbook/activities/metrics/cloudwatch"
	_ "github.com/runbookhq/runbook/activities/metrics/edgestats"
	_ "github.com/runbookhq/runbook/activities/metrics/prometheus"
)

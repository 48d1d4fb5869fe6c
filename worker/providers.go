package worker

import (
	"maps"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/metrics/cloudwatch"
	"github.com/runbookhq/runbook/activities/metrics/edgestats"
	"github.com/runbookhq/runbook/activities/metrics/prometheus"
	"github.com/runbookhq/runbook/activities/metrics/web"
)

// metricsProviders is the registry of metrics providers this worker builds,
// by the name runbooks use (internal/providers lists the same names; a test
// checks that they agree). It lives here rather than in activities/metrics
// because the providers import that package for Query and Sample; the
// traffic routers do not, so their table is activities/traffic/factory.go.
var metricsProviders = metrics.Factories{
	"edge":       metrics.FactoryOf(edgestats.New),
	"prometheus": metrics.FactoryOf(prometheus.New),
	"cloudwatch": metrics.FactoryOf(cloudwatch.New),
	"web":        metrics.FactoryOf(web.New),
}

// MetricsProviders is the worker's table of metrics providers, for the CLI
// verbs that measure in-process (`runbook slo check`) exactly as the worker
// would. Each call returns a new copy, so a caller cannot change the worker's.
func MetricsProviders() metrics.Factories {
	return maps.Clone(metricsProviders)
}

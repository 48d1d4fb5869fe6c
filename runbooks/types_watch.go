package runbooks

import "time"

// Watch is one journey an environment keeps running after a release
// succeeded there (environments[].watch): every interval, for the
// environment's watch-after. A failure acts on the release as an alert of
// severity AlertSeverityJourney would.
type Watch struct {
	Name    string      `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z][a-z0-9-]{0\\,62}$,description=Names the journey in the watch's status\\, the audit and its alert fingerprint."`
	Every   Duration    `yaml:"every,omitempty" json:"every,omitempty" jsonschema:"description=How often the journey runs (default 1m\\, at least 10s)."`
	Journey JourneyStep `yaml:"journey" json:"journey" jsonschema:"required,description=The journey\\, as a journey step writes it; interval and deadline are not used (each run is one attempt)."`
}

// AlertSeverityJourney is the severity a failing watch journey acts with:
// on-alert: {journey: rollback} rolls the release back, else on-alert's
// default applies, else notify.
const AlertSeverityJourney = "journey"

// Watch intervals (environments[].watch[].every).
const (
	DefaultWatchEvery = time.Minute
	MinWatchEvery     = 10 * time.Second
)

// EveryOr is how often the journey runs.
func (w Watch) EveryOr() time.Duration {
	return w.Every.Or(DefaultWatchEvery)
}

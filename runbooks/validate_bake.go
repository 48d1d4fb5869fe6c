package runbooks

import "time"

// Caps on how long a traffic shift may analyse. Without them a typo
// ("2400h" for "24h", or "106751d") validates and leaves a release holding
// an environment for years.
const (
	// maxBake caps a bake (canary bake, linear every, all-at-once bake), a
	// blue-green rollback window and an SLO's measurement window (a bake is
	// stretched to the longest one). While a weight bakes, users are on the
	// new version and the environment is locked to this release; a day is
	// more than any weight needs to show its errors and latency. A longer
	// soak belongs in an approval gate (with its own timeout) or a later
	// release.
	maxBake = 24 * time.Hour
	// maxAnalysisInterval caps the analysis interval: a round is recorded
	// and shown in status once per interval, and the bake defaults to one
	// interval, so an interval over an hour hides for that long whether the
	// new version is healthy. The floor is minInterval (1s).
	maxAnalysisInterval = time.Hour
)

// bakeAtMost reports a set duration at path longer than maxBake; what names
// the field in the message.
func (v *validator) bakeAtMost(path, what string, d Duration) {
	if v.set(path) && d.D() > maxBake {
		v.errf(path, "%s %s is longer than the 24h cap; while it bakes, users are on the new version and the environment is held by this release, so use 24h or less and soak longer behind an approval gate", what, d)
	}
}

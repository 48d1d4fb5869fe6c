package runbooks

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// maxWatchAfter caps watch-after: past a day an alert is unlikely to be
// about the release, and a rollback would undo more than one change.
const maxWatchAfter = 7 * 24 * time.Hour

// severityRe is what an on-alert key may be: Alertmanager label values
// are free text, but severities are short words.
var severityRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// alerting checks watch-after and on-alert. The worker reads them when an
// alert arrives, so a bad action found then would leave the alert unhandled.
func (v *validator) alerting(path string, e *Environment) {
	if p := path + ".watch-after"; v.set(p) && (e.WatchAfter <= 0 || e.WatchAfter.D() > maxWatchAfter) {
		v.errf(p, "watch-after %s must be more than 0 and at most 7d", e.WatchAfter)
	}
	p := path + ".on-alert"
	if !v.ok(p) {
		return
	}
	if v.set(p) && len(e.OnAlert) == 0 {
		v.errf(p, "on-alert is empty; map severities to actions, e.g. {default: notify, critical: rollback, warning: pause}")
	}
	for _, k := range slices.Sorted(maps.Keys(e.OnAlert)) {
		kp := join(p, k)
		if !severityRe.MatchString(k) {
			v.c.addf(v.keyAt(kp), "on-alert key %q is not a severity; use the alert's severity label value (e.g. critical) or default", k)
		}
		if a := e.OnAlert[k]; !slices.Contains(AlertActions, a) {
			v.errf(kp, "on-alert action %q for %s is not known; use %s", a, k, strings.Join(AlertActions, ", "))
		}
	}
}

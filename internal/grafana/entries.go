package grafana

import (
	"strings"

	"github.com/runbookhq/runbook/activities/audit"
)

// kinds are the audit actions that become annotations, and their kind tag.
// They ride the audit record the workflow writes anyway, so annotating
// adds no command to any workflow's history.
var kinds = map[string]string{
	"release.started":      "release-started",
	"rollback.started":     "rollback",
	"environment.finished": "environment-", // + the environment's end state
}

// maxDetail bounds the reason copied into an annotation's text.
const maxDetail = 200

// FromEntry is the annotation of an audit entry, if its action is one
// that a dashboard shows: a release's start, a rollback, an environment's
// end (succeeded, failed, rolled-back, ...). With details, its text ends
// with the entry's reason (a rejection's comment, a breach).
func FromEntry(e audit.Entry, details bool) (Annotation, bool) {
	kind, ok := kinds[e.Action]
	if !ok {
		return Annotation{}, false
	}
	if strings.HasSuffix(kind, "-") {
		kind += e.Outcome
	}
	tags := []string{"runbook", "service:" + e.Service, "release:" + e.Release, "kind:" + kind}
	text := e.Service + " " + e.Version + ": " + strings.ReplaceAll(kind, "-", " ")
	if e.Environment != "" {
		tags = append(tags, "env:"+e.Environment)
		text += " in " + e.Environment
	}
	if d := e.Detail; d != "" && details {
		if len(d) > maxDetail {
			d = d[:maxDetail] + "…"
		}
		text += ": " + d
	}
	return Annotation{Time: e.Time, Text: text, Tags: tags}, true
}

// Notify is the audit activity's hook: it queues the annotation of each
// entry that has one.
func (a *Annotator) Notify(e audit.Entry) {
	if an, ok := FromEntry(e, !a.noDetails); ok {
		a.Add(an)
	}
}

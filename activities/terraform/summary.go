package terraform

import (
	"fmt"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// maxListed bounds the resources String names, so a large plan still fits a
// Slack message or a UI summary.
const maxListed = 20

// Destructive reports whether applying the plan deletes anything, replacements
// included: those are the plans a person should look at before approving.
func (s PlanSummary) Destructive() bool { return s.Replace > 0 || s.Destroy > 0 }

// String is the count line followed by the changed resources, e.g.
// "2 to add, 0 to change, 1 to replace, 0 to destroy: null_resource.x (replace), ...".
func (s PlanSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d to add, %d to change, %d to replace, %d to destroy", s.Add, s.Change, s.Replace, s.Destroy)
	listed := s.Resources[:min(len(s.Resources), maxListed)]
	for i, r := range listed {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s (%s)", sep, r.Address, r.Action)
	}
	if n := len(s.Resources) - len(listed); n > 0 {
		fmt.Fprintf(&b, ", and %d more", n)
	}
	return b.String()
}

// changes counts the resources that need an apply, reads excluded.
func (s PlanSummary) changes() int { return s.Add + s.Change + s.Replace + s.Destroy }

// summarize builds the summary of a plan from `show -json`.
func summarize(p *tfjson.Plan) PlanSummary {
	var s PlanSummary
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		action := actionOf(rc.Change.Actions)
		if action == "" {
			continue
		}
		s.count(action)
		s.Resources = append(s.Resources, ResourceChange{Address: rc.Address, Action: action})
	}
	slices.SortStableFunc(s.Resources, func(a, b ResourceChange) int { return strings.Compare(a.Address, b.Address) })
	return s
}

func (s *PlanSummary) count(action string) {
	switch action {
	case "create":
		s.Add++
	case "update":
		s.Change++
	case "replace":
		s.Replace++
	case "delete":
		s.Destroy++
	}
}

// actionOf names a change: a delete and a create in either order is a
// replace; no-op is "" so the caller leaves it out. Anything else (forget,
// new combinations) keeps OpenTofu's words.
func actionOf(a tfjson.Actions) string {
	switch {
	case a.NoOp() || len(a) == 0:
		return ""
	case a.Replace():
		return "replace"
	case a.Create():
		return "create"
	case a.Update():
		return "update"
	case a.Delete():
		return "delete"
	case a.Read():
		return "read"
	}
	parts := make([]string, len(a))
	for i, x := range a {
		parts[i] = string(x)
	}
	return strings.Join(parts, "+")
}

// Package flagapi holds what the flag providers share with package flags
// (which builds them, so they cannot import it): the Rollout and Definition
// types and the option helpers every remote provider needs.
package flagapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Rollout is what one stage of a flag step sets: off for everyone, on for
// a percentage of subjects (100: everyone), or on for some segments only.
type Rollout struct {
	On         bool     `json:"on"`
	Percentage int      `json:"percentage,omitempty"`
	Segments   []string `json:"segments,omitempty"`
}

// String is the rollout as status and Slack show it.
func (r Rollout) String() string {
	switch {
	case !r.On:
		return "off"
	case len(r.Segments) > 0:
		return "on for " + strings.Join(r.Segments, ", ")
	case r.Percentage >= 100:
		return "on for everyone"
	}
	return fmt.Sprintf("on for %d%%", r.Percentage)
}

// Equal reports whether two rollouts are the same.
func (r Rollout) Equal(o Rollout) bool {
	return r.On == o.On && r.Percentage == o.Percentage && slices.Equal(r.Segments, o.Segments)
}

// Definition is a flag's whole definition as the provider holds it: Raw is
// the provider's own document (what a restore puts back, byte for byte in
// meaning), Rollout what runbook reads of it, when it can.
type Definition struct {
	Flag   string          `json:"flag"`
	Exists bool            `json:"exists"`
	Raw    json.RawMessage `json:"raw,omitempty"`
	// Rollout is nil when the definition is not one runbook's rollouts
	// produce (a person's own targeting): it is still restored as is.
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Describe is the definition in one line.
func (d Definition) Describe() string {
	switch {
	case !d.Exists:
		return "absent"
	case d.Rollout == nil:
		return "custom targeting"
	}
	return d.Rollout.String()
}

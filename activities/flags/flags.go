// Package flags changes feature flags for the flag step kind, through one
// small interface in front of each flag system (like the traffic routers):
// read a flag's whole definition, apply a rollout, put a definition back.
// Every change is read back before it counts.
package flags

import (
	"context"
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

// Provider is one flag system.
type Provider interface {
	// Read returns flag's current definition (Exists false when absent).
	Read(ctx context.Context, flag string) (Definition, error)
	// Apply sets flag's rollout, creating the flag when absent.
	Apply(ctx context.Context, flag string, r Rollout) error
	// Restore puts a definition Read returned back (deleting the flag when
	// it did not exist).
	Restore(ctx context.Context, d Definition) error
}

// Factory makes a provider from the environment's flags options (secret
// references already resolved by the caller).
type Factory func(options map[string]string) (Provider, error)

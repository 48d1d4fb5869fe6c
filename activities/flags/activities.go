package flags

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/flags/launchdarkly"
	"github.com/runbookhq/runbook/activities/flags/unleash"
	"github.com/runbookhq/runbook/internal/providers"
)

// ErrTypeInvalid marks errors no retry can fix (an unknown provider, bad
// options, a read-back that disagrees).
const ErrTypeInvalid = "FlagInvalid"

// factories are the flag providers by the name runbooks use
// (internal/providers lists the same names; a test checks they agree).
var factories = map[string]Factory{
	"file":         NewFileProvider,
	"flagd":        NewFlagdProvider,
	"unleash":      factory(unleash.New),
	"launchdarkly": factory(launchdarkly.New),
}

// factory adapts a provider subpackage's constructor to a Factory (and
// checks at compile time that it implements Provider). A failed
// constructor yields a nil Provider, not a typed nil pointer.
func factory[P Provider](newProvider func(map[string]string) (P, error)) Factory {
	return func(opts map[string]string) (Provider, error) {
		p, err := newProvider(opts)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// New builds the provider named from its options.
func New(provider string, options map[string]string) (Provider, error) {
	f, ok := factories[provider]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown flag provider %q; known: %s",
			provider, strings.Join(providers.Flags(), ", ")), ErrTypeInvalid, nil)
	}
	p, err := f(options)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, nil)
	}
	return p, nil
}

// Activities change flags for the flag step kind.
type Activities struct {
	// New builds providers (New when nil); tests may swap it.
	New func(provider string, options map[string]string) (Provider, error)
}

func (a *Activities) provider(name string, options map[string]string) (Provider, error) {
	if a != nil && a.New != nil {
		return a.New(name, options)
	}
	return New(name, options)
}

// Target names the provider and the flags an activity works on.
type Target struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options,omitempty"`
	Flags    []string          `json:"flags"`
}

// ReadFlagsResult is each flag's definition, in the order asked.
type ReadFlagsResult struct {
	Definitions []Definition `json:"definitions"`
	// Same, when the read was given Expect, says whether every flag reads
	// as expected (compared here: workflow code cannot compare JSON).
	Same bool `json:"same,omitempty"`
}

// ReadBackInput reads flags and compares them with what they should be.
type ReadBackInput struct {
	Target
	Expect []Definition `json:"expect"`
}

// ReadBackFlags reads each flag and says whether all read as expected: a
// rollback's proof.
func (a *Activities) ReadBackFlags(ctx context.Context, in ReadBackInput) (ReadFlagsResult, error) {
	res, err := a.ReadFlags(ctx, in.Target)
	if err != nil {
		return res, err
	}
	res.Same = len(res.Definitions) == len(in.Expect)
	for i, d := range res.Definitions {
		if i < len(in.Expect) && !SameDefinition(d, in.Expect[i]) {
			res.Same = false
		}
	}
	return res, nil
}

// ReadFlags reads each flag's whole definition: what a rollback restores.
func (a *Activities) ReadFlags(ctx context.Context, in Target) (ReadFlagsResult, error) {
	p, err := a.provider(in.Provider, in.Options)
	if err != nil {
		return ReadFlagsResult{}, err
	}
	var out ReadFlagsResult
	for _, f := range in.Flags {
		d, err := p.Read(ctx, f)
		if err != nil {
			return out, fmt.Errorf("read flag %s: %w", f, err)
		}
		out.Definitions = append(out.Definitions, d)
	}
	return out, nil
}

// SetFlagsInput is one stage: the rollout for every flag of the step.
type SetFlagsInput struct {
	Target
	Rollout Rollout `json:"rollout"`
}

// SetFlags applies the rollout to every flag and reads each back: the
// stage counts only when the provider shows it.
func (a *Activities) SetFlags(ctx context.Context, in SetFlagsInput) (ReadFlagsResult, error) {
	p, err := a.provider(in.Provider, in.Options)
	if err != nil {
		return ReadFlagsResult{}, err
	}
	var out ReadFlagsResult
	for _, f := range in.Flags {
		if err := p.Apply(ctx, f, in.Rollout); err != nil {
			return out, fmt.Errorf("set flag %s to %s: %w", f, in.Rollout, err)
		}
		d, err := p.Read(ctx, f)
		if err != nil {
			return out, fmt.Errorf("read flag %s back: %w", f, err)
		}
		if d.Rollout == nil || !d.Rollout.Equal(in.Rollout) {
			return out, fmt.Errorf("flag %s reads back as %s after setting it to %s", f, d.Describe(), in.Rollout)
		}
		out.Definitions = append(out.Definitions, d)
	}
	return out, nil
}

// RestoreFlagsInput puts definitions back.
type RestoreFlagsInput struct {
	Provider    string            `json:"provider"`
	Options     map[string]string `json:"options,omitempty"`
	Definitions []Definition      `json:"definitions"`
}

// RestoreFlags puts each definition back and reads it back: what it reads
// is the rollback's proof.
func (a *Activities) RestoreFlags(ctx context.Context, in RestoreFlagsInput) (ReadFlagsResult, error) {
	p, err := a.provider(in.Provider, in.Options)
	if err != nil {
		return ReadFlagsResult{}, err
	}
	var out ReadFlagsResult
	for _, d := range in.Definitions {
		if err := p.Restore(ctx, d); err != nil {
			return out, fmt.Errorf("restore flag %s to %s: %w", d.Flag, d.Describe(), err)
		}
		got, err := p.Read(ctx, d.Flag)
		if err != nil {
			return out, fmt.Errorf("read flag %s back: %w", d.Flag, err)
		}
		if !SameDefinition(got, d) {
			return out, fmt.Errorf("flag %s reads back as %s after restoring %s", d.Flag, got.Describe(), d.Describe())
		}
		out.Definitions = append(out.Definitions, got)
	}
	return out, nil
}

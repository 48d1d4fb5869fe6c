// Package ofprovider is an OpenFeature provider that evaluates flags from
// a flagd definitions file in process (internal/flagd), re-reading it when
// it changes: how the sample app evaluates the flags a flag step moves,
// through the OpenFeature Go SDK like a real service would.
package ofprovider

import (
	"context"
	"fmt"
	"os"
	"sync"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/runbookhq/runbook/internal/flagd"
)

// Provider evaluates boolean and string flags from a flagd file.
type Provider struct {
	Path string

	mu   sync.Mutex
	info os.FileInfo
	file flagd.File
}

// New is a provider of the file at path.
func New(path string) *Provider { return &Provider{Path: path} }

// Metadata names the provider.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: "runbook-flagd-file"} }

// Hooks are none.
func (p *Provider) Hooks() []of.Hook { return nil }

// current returns the file, re-read when its modification time or size
// changed (the file provider replaces it atomically).
func (p *Provider) current() (flagd.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fi, err := os.Stat(p.Path)
	if os.IsNotExist(err) {
		return flagd.File{Flags: map[string]flagd.Flag{}}, nil
	}
	if err != nil {
		return flagd.File{}, err
	}
	// The file provider replaces the file (a new inode) on every change.
	if p.info != nil && os.SameFile(p.info, fi) && fi.ModTime().Equal(p.info.ModTime()) && fi.Size() == p.info.Size() {
		return p.file, nil
	}
	f, err := flagd.Read(p.Path)
	if err != nil {
		return flagd.File{}, err
	}
	p.file, p.info = f, fi
	return f, nil
}

// resolve evaluates flag for the context and returns its variant's value.
func (p *Provider) resolve(flag string, flat of.FlattenedContext) (any, of.ProviderResolutionDetail) {
	f, err := p.current()
	if err != nil {
		return nil, of.ProviderResolutionDetail{Reason: of.ErrorReason, ResolutionError: of.NewGeneralResolutionError(err.Error())}
	}
	key, _ := flat[of.TargetingKey].(string)
	segment, _ := flat["segment"].(string)
	variant, reason := f.Evaluate(flag, key, segment)
	if reason == "FLAG_NOT_FOUND" {
		return nil, of.ProviderResolutionDetail{Reason: of.ErrorReason, ResolutionError: of.NewFlagNotFoundResolutionError(flag)}
	}
	v, ok := f.Flags[flag].Variants[variant]
	if !ok {
		return nil, of.ProviderResolutionDetail{Reason: of.ErrorReason,
			ResolutionError: of.NewGeneralResolutionError(fmt.Sprintf("variant %q of %s is not defined", variant, flag))}
	}
	return v, of.ProviderResolutionDetail{Reason: of.Reason(reason), Variant: variant}
}

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, flat of.FlattenedContext) of.BoolResolutionDetail {
	v, d := p.resolve(flag, flat)
	b, ok := v.(bool)
	if d.ResolutionError != (of.ResolutionError{}) {
		return of.BoolResolutionDetail{Value: def, ProviderResolutionDetail: d}
	}
	if !ok {
		return of.BoolResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.ErrorReason,
			ResolutionError: of.NewTypeMismatchResolutionError(flag + " is not a boolean flag")}}
	}
	return of.BoolResolutionDetail{Value: b, ProviderResolutionDetail: d}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, flat of.FlattenedContext) of.StringResolutionDetail {
	v, d := p.resolve(flag, flat)
	s, ok := v.(string)
	if d.ResolutionError != (of.ResolutionError{}) || !ok {
		return of.StringResolutionDetail{Value: def, ProviderResolutionDetail: d}
	}
	return of.StringResolutionDetail{Value: s, ProviderResolutionDetail: d}
}

// FloatEvaluation is not used by the sample app: the default.
func (p *Provider) FloatEvaluation(_ context.Context, _ string, def float64, _ of.FlattenedContext) of.FloatResolutionDetail {
	return of.FloatResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}

// IntEvaluation is not used by the sample app: the default.
func (p *Provider) IntEvaluation(_ context.Context, _ string, def int64, _ of.FlattenedContext) of.IntResolutionDetail {
	return of.IntResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}

// ObjectEvaluation is not used by the sample app: the default.
func (p *Provider) ObjectEvaluation(_ context.Context, _ string, def any, _ of.FlattenedContext) of.InterfaceResolutionDetail {
	return of.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{Reason: of.DefaultReason}}
}

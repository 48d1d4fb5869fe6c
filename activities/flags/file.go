package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/runbookhq/runbook/internal/flagd"
	"github.com/runbookhq/runbook/internal/secretref"
)

// FileProvider keeps flags in a flagd flag definitions file (option path):
// the file flagd's file sync serves, or an application reads directly.
type FileProvider struct {
	Path string
}

// fileLocks serialises read-modify-write of one file within a worker.
var fileLocks sync.Map

func (p *FileProvider) lock() func() {
	m, _ := fileLocks.LoadOrStore(p.Path, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// NewFileProvider is the file provider's Factory.
func NewFileProvider(options map[string]string) (Provider, error) {
	path, err := filePath(options)
	if err != nil {
		return nil, err
	}
	return &FileProvider{Path: path}, nil
}

// filePath is options.path, or the worker's variable it names as env:NAME
// (a path that differs per machine, like the demo's state directory).
func filePath(options map[string]string) (string, error) {
	p := options["path"]
	name, ref := strings.CutPrefix(p, secretref.Prefix)
	if !ref {
		if p == "" {
			return "", errors.New("the file flag provider needs options.path: the flagd flag definitions file")
		}
		return p, nil
	}
	v, ok, err := secretref.Lookup(name)
	switch {
	case err != nil:
		return "", err
	case !ok || v == "":
		return "", fmt.Errorf("options.path is %s, but the worker's %s is not set", p, name)
	}
	return v, nil
}

// Read returns the flag's definition from the file.
func (p *FileProvider) Read(_ context.Context, flag string) (Definition, error) {
	f, err := flagd.Read(p.Path)
	if err != nil {
		return Definition{}, fmt.Errorf("read %s: %w", p.Path, err)
	}
	return definitionOf(f, flag)
}

// definitionOf is flag's Definition in f.
func definitionOf(f flagd.File, flag string) (Definition, error) {
	d, ok := f.Flags[flag]
	if !ok {
		return Definition{Flag: flag}, nil
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return Definition{}, err
	}
	return Definition{Flag: flag, Exists: true, Raw: raw, Rollout: RolloutOf(d)}, nil
}

// RolloutOf reads the rollout a flagd definition expresses, nil when it is
// not one runbook writes.
func RolloutOf(d flagd.Flag) *Rollout {
	if d.State == "DISABLED" {
		return &Rollout{}
	}
	if len(d.Targeting) == 0 || string(d.Targeting) == "{}" || string(d.Targeting) == "null" {
		switch d.DefaultVariant {
		case flagd.VariantOn:
			return &Rollout{On: true, Percentage: 100}
		case flagd.VariantOff:
			return &Rollout{}
		}
		return nil
	}
	r, err := flagd.ParseRule(d.Targeting)
	if err != nil {
		return nil
	}
	if len(r.Segments) > 0 && r.Match == flagd.VariantOn && r.Else == flagd.VariantOff {
		return &Rollout{On: true, Segments: r.Segments}
	}
	if len(r.Split) == 2 && r.Split[0].Variant == flagd.VariantOn && r.Split[1].Variant == flagd.VariantOff {
		return &Rollout{On: r.Split[0].Weight > 0, Percentage: r.Split[0].Weight}
	}
	return nil
}

// Definition is the flagd definition of a rollout, keeping the flag's
// variants and metadata when it had them.
func flagFor(prev flagd.Flag, exists bool, r Rollout) flagd.Flag {
	f := prev
	if !exists || f.Variants == nil {
		f.Variants = map[string]any{flagd.VariantOn: true, flagd.VariantOff: false}
	}
	f.State, f.Targeting = "ENABLED", nil
	switch {
	case !r.On:
		f.DefaultVariant = flagd.VariantOff
	case len(r.Segments) > 0:
		f.DefaultVariant, f.Targeting = flagd.VariantOff, flagd.SegmentTargeting(r.Segments)
	case r.Percentage >= 100:
		f.DefaultVariant = flagd.VariantOn
	default:
		f.DefaultVariant, f.Targeting = flagd.VariantOff, flagd.SplitTargeting(r.Percentage)
	}
	return f
}

// Apply writes the rollout into the file.
func (p *FileProvider) Apply(_ context.Context, flag string, r Rollout) error {
	defer p.lock()()
	f, err := flagd.Read(p.Path)
	if err != nil {
		return fmt.Errorf("read %s: %w", p.Path, err)
	}
	prev, ok := f.Flags[flag]
	f.Flags[flag] = flagFor(prev, ok, r)
	return flagd.Write(p.Path, f)
}

// Restore puts the definition back, or removes the flag it did not exist.
func (p *FileProvider) Restore(_ context.Context, d Definition) error {
	defer p.lock()()
	f, err := flagd.Read(p.Path)
	if err != nil {
		return fmt.Errorf("read %s: %w", p.Path, err)
	}
	if !d.Exists {
		delete(f.Flags, d.Flag)
		return flagd.Write(p.Path, f)
	}
	var def flagd.Flag
	if err := json.Unmarshal(d.Raw, &def); err != nil {
		return fmt.Errorf("the definition of %s to restore: %w", d.Flag, err)
	}
	f.Flags[d.Flag] = def
	return flagd.Write(p.Path, f)
}

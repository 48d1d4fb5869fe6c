package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
)

// Every verb has one shape: a struct holding the app and its flags, a
// constructor that builds the cobra command and binds the flags to the
// struct, and a run method doing the work. Verbs that talk to Temporal go
// through withReleases; verbs with -o go through an outputFlag.

// withReleases connects, calls fn with the release client and closes the
// connection again.
func (a *app) withReleases(ctx context.Context, fn func(*releases.Client) error) error {
	rc, closeFn, err := a.releases(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(rc)
}

// untilSignal returns ctx cancelled on SIGINT or SIGTERM, so that the verbs
// that run until stopped (worker, dev, demo, edge) shut down cleanly on
// Ctrl-C or a service manager's stop; call stop when done.
func untilSignal(ctx context.Context) (_ context.Context, stop context.CancelFunc) {
	return signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
}

// loadRunbook loads the runbook at path. Its problems are the whole message
// (file:line:col: ...), without the "runbook:" prefix of other errors.
func loadRunbook(path string) (*runbooks.Runbook, error) {
	rb, err := runbooks.Load(path)
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	return rb, nil
}

// loadRunbookFor is loadRunbook for the verbs that act on one environment:
// --env must name it.
func loadRunbookFor(path, env string) (*runbooks.Runbook, error) {
	if env == "" {
		return nil, errors.New("name the environment with --env")
	}
	return loadRunbook(path)
}

// outputFlag is the -o/--output flag: text for people, json for scripts.
type outputFlag struct {
	format string
	// indent pretty-prints the JSON (status and metrics print one document).
	indent bool
}

// register adds -o/--output to fs.
func (o *outputFlag) register(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "output", "o", "text", "text or json")
}

// json reports whether JSON was asked for.
func (o *outputFlag) json() bool { return o.format == "json" }

// write prints v as JSON when asked, else calls text.
func (o *outputFlag) write(w io.Writer, v any, text func() error) error {
	if o.json() {
		return o.encode(w, v)
	}
	return text()
}

// encode prints v as one JSON document.
func (o *outputFlag) encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	if o.indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

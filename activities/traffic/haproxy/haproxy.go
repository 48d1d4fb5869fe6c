// Package haproxy is the traffic router for HAProxy 2.6+, driven through its
// runtime API on the admin socket.
//
// HAProxy configuration the provider expects:
//
//	global
//	    stats socket /run/haproxy/admin.sock mode 600 level admin  # option socket
//	    server-state-file /var/lib/haproxy/server-state            # option state-file
//	defaults
//	    load-server-state-from-file global
//	backend app                                                    # option backend
//	    balance random
//	    server blue  10.0.0.1:8080 weight 100
//	    server green 10.0.0.2:8080 weight 0
//
// Each server of the backend is one runbook backend, named by its server
// name. Weights set through the runtime API live only in the running
// process: a reload starts from the configuration again. With the state-file
// option the provider writes `show servers state` there after every change
// (atomically: temp file, then rename), and `load-server-state-from-file`
// restores the weights on reload. HAProxy restores a server's weight only if
// its configured weight still equals the one recorded in the file, so a
// changed configuration wins over stale runtime state.
//
// Weight mapping: the runbook's percentages 0..100 are used as HAProxy
// weights unchanged. HAProxy weights are relative (0..256), so 30/70 routes
// the same share as 77/179 would, and keeping them equal makes the read-back
// exact with no rounding. Servers configured with weights above 100 are
// reported as they are; set them from the runbook once to normalise.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Options a runbook may give the haproxy provider.
const (
	// OptSocket is the path of the admin socket (`stats socket ... level admin`).
	OptSocket = "socket"
	// OptBackend is the HAProxy backend whose servers are the runbook backends.
	OptBackend = "backend"
	// OptStateFile is the optional path of the server-state file HAProxy
	// loads on reload (`server-state-file` in global).
	OptStateFile = "state-file"
)

// ErrTypeInvalid equals traffic.ErrTypeInvalid (this package cannot import
// traffic, which imports it); a test keeps the two in step.
const ErrTypeInvalid = "TrafficInvalid"

// MaxWeight is the largest weight a runbook may set (a percentage).
const MaxWeight = 100

// callTimeout bounds every runtime API command.
const callTimeout = 10 * time.Second

// Router drives one backend of one HAProxy process.
type Router struct {
	socket    string
	backend   string
	stateFile string
}

// New builds a Router from options: socket and backend (required),
// state-file (optional).
func New(opts map[string]string) (*Router, error) {
	for k := range opts {
		if k != OptSocket && k != OptBackend && k != OptStateFile {
			return nil, invalid("haproxy: unknown option %q; known: %s, %s, %s", k, OptSocket, OptBackend, OptStateFile)
		}
	}
	r := &Router{socket: opts[OptSocket], backend: opts[OptBackend], stateFile: opts[OptStateFile]}
	if r.socket == "" {
		return nil, invalid("haproxy: option %s is required: the path of the admin socket (`stats socket <path> level admin`)", OptSocket)
	}
	if r.backend == "" || strings.ContainsAny(r.backend, " \t\n;/") {
		return nil, invalid("haproxy: option %s %q: want the name of the HAProxy backend whose servers receive the traffic", OptBackend, r.backend)
	}
	if r.stateFile != "" && !filepath.IsAbs(r.stateFile) {
		return nil, invalid("haproxy: option %s %q: want an absolute path, the same as `server-state-file` in HAProxy's global section", OptStateFile, r.stateFile)
	}
	return r, nil
}

// String names the socket and backend.
func (r *Router) String() string {
	return fmt.Sprintf("haproxy backend %s at %s", r.backend, r.socket)
}

// LogValue gives slog the same short description.
func (r *Router) LogValue() slog.Value { return slog.StringValue(r.String()) }

// SetWeights validates every name and weight first, so nothing changes on a
// bad request, then sets the weights (raises before cuts, so capacity never
// dips to zero in between), reads them back, and saves the state file.
func (r *Router) SetWeights(ctx context.Context, weights map[string]int) error {
	for name, w := range weights {
		if w < 0 || w > MaxWeight {
			return invalid("haproxy: backend %q: weight %d out of range 0..%d", name, w, MaxWeight)
		}
	}
	list, err := r.servers(ctx)
	if err != nil {
		return err
	}
	if err := known(r.backend, list, keys(weights)...); err != nil {
		return err
	}
	current := map[string]int{}
	for _, s := range list {
		current[s.name] = s.weight
	}
	for _, name := range order(weights, current) {
		if err := r.setWeight(ctx, name, weights[name]); err != nil {
			return err
		}
	}
	got, err := r.Weights(ctx)
	if err != nil {
		return fmt.Errorf("haproxy: weights sent, but reading them back failed: %w", err)
	}
	if err := verify(r.String(), weights, got); err != nil {
		return err
	}
	return r.saveState(ctx)
}

// order lists the names whose weight goes up first, then the rest, each
// group by name so the sequence is stable.
func order(want, current map[string]int) []string {
	names := keys(want)
	sort.SliceStable(names, func(i, j int) bool {
		return want[names[i]] > current[names[i]] && want[names[j]] <= current[names[j]]
	})
	return names
}

func (r *Router) setWeight(ctx context.Context, name string, w int) error {
	cmd := fmt.Sprintf("set weight %s/%s %d", r.backend, name, w)
	out, err := r.command(ctx, cmd)
	if err != nil {
		return err
	}
	return checkEmpty(cmd, out)
}

// Weights reports every server's weight in the backend.
func (r *Router) Weights(ctx context.Context) (map[string]int, error) {
	list, err := r.servers(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(list))
	for _, s := range list {
		out[s.name] = s.weight
	}
	return out, nil
}

// Drain sets the server's weight to 0 (so no new request picks it), saves
// the state file, and polls its current sessions and queue until they reach
// 0, timeout passes or ctx ends. It uses weight 0 rather than the runtime
// "drain" state because that state would outlive a later SetWeights and keep
// the server silently out of rotation.
func (r *Router) Drain(ctx context.Context, backend string, timeout time.Duration) (int, error) {
	if timeout < 0 {
		return 0, invalid("haproxy: drain %q: negative timeout %s", backend, timeout)
	}
	list, err := r.servers(ctx)
	if err != nil {
		return 0, err
	}
	if err := known(r.backend, list, backend); err != nil {
		return 0, err
	}
	if err := r.setWeight(ctx, backend, 0); err != nil {
		return 0, err
	}
	if err := r.saveState(ctx); err != nil {
		return 0, err
	}
	return r.waitIdle(ctx, backend, timeout)
}

// waitIdle polls until srv has nothing in flight or the deadline passes,
// returning the last count.
func (r *Router) waitIdle(ctx context.Context, srv string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		n, err := r.inFlight(ctx, srv)
		if err != nil || n == 0 || !time.Now().Before(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-tick.C:
		}
	}
}

// saveState writes `show servers state` (every backend, as
// load-server-state-from-file global expects) to the state file through a
// temp file and a rename, so a reload never reads half a file.
func (r *Router) saveState(ctx context.Context) error {
	if r.stateFile == "" {
		return nil
	}
	out, err := r.command(ctx, "show servers state")
	if err != nil {
		return fmt.Errorf("haproxy: weights set, but saving the state file failed: %w", err)
	}
	if _, err := parseServersState(r.backend, out); err != nil {
		return fmt.Errorf("haproxy: weights set, but `show servers state` answered unexpectedly: %w", err)
	}
	if err := writeAtomic(r.stateFile, []byte(out)); err != nil {
		return fmt.Errorf("haproxy: weights set, but writing state file %s failed: %w (weights will not survive a reload)", r.stateFile, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// known fails with TrafficInvalid, listing the backend's servers, when a
// name is not one of them.
func known(backend string, list []server, names ...string) error {
	have := map[string]bool{}
	all := make([]string, 0, len(list))
	for _, s := range list {
		have[s.name] = true
		all = append(all, s.name)
	}
	var unknown []string
	for _, n := range names {
		if !have[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return invalid("haproxy: backend %s has no server %s; its servers: %s",
		backend, strings.Join(unknown, ", "), strings.Join(all, ", "))
}

// verify lists mismatches in name order, so the message is stable.
func verify(where string, want, got map[string]int) error {
	var bad []string
	for _, name := range keys(want) {
		if g, ok := got[name]; !ok || g != want[name] {
			rb := "missing"
			if ok {
				rb = fmt.Sprint(g)
			}
			bad = append(bad, fmt.Sprintf("%s=%d (read back %s)", name, want[name], rb))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s: weights did not take effect: %s; another writer may be changing them", where, strings.Join(bad, ", "))
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalid, nil)
}

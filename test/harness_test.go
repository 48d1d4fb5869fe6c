// Package test holds the end-to-end tests of runbook: the real `runbook`
// binary (CLI and worker, as subprocesses) against one real Temporal dev
// server, with HTTP checks answered by servers inside the test process.
//
// Each test uses its own task queue, audit log and service name, so the tests
// run in parallel on the one server without seeing each other.
package test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/testenv"
)

// updateHistories makes the tests that finish a release export its workflow
// histories into testdata/histories for the replay test.
var updateHistories = flag.Bool("update-histories", false, "export the workflow histories of the end-to-end releases into testdata/histories (new names only; existing files are kept)")

const (
	// pollInterval and pollDeadline bound every wait for a state.
	pollInterval = 250 * time.Millisecond
	pollDeadline = 60 * time.Second
	// namespace is the dev server's default namespace.
	namespace = "default"
	// freezeNamespace is where the freeze tests run: a freeze holds every
	// release of the namespace it covers, so they get one of their own.
	freezeNamespace = "e2e-freezes"
	// freezeBoardNamespace is where a test cancels and terminates the
	// Freezes workflow itself, apart from the other freeze tests.
	freezeBoardNamespace = "e2e-freezes-board"
	// breakerNamespace is where the circuit breaker's test declares its
	// freezes: the Freezes workflow is per namespace, and workers of other
	// tests that come and go would serve it otherwise.
	breakerNamespace = "e2e-breaker"
	// versioningNamespace is where the Worker Versioning test puts its
	// task queues in a deployment: the freezes task queue is one per
	// namespace, and routing it to the test's builds would starve the
	// unversioned workers of the other tests.
	versioningNamespace = "e2e-versioning"
	// pinnedTemporal is the Makefile's pinned build, relative to the repo root.
	pinnedTemporal = ".tools/build/temporal-1.5.1/temporal"
)

// stack is what every test of the package shares: the built binaries and
// one Temporal dev server. It starts on first use, so tests that need none
// of it (replay) run without it.
var stack struct {
	once      sync.Once
	err       error // why the stack could not start
	missing   bool  // err is "the temporal CLI is missing"
	tmp       string
	bin       string // the runbook binary
	sampleapp string
	oidctoken string // the OIDC tests' token command (test/oidctoken)
	server    *devstack.Server
	client    client.Client
	serverLog string

	// address is the frontend's, on either server; server is nil on the
	// real one (realserver_test.go).
	address string
}

// build guards building the binaries, apart from the server, so the
// CLI-only tests need no server.
var build struct {
	once sync.Once
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if stack.client != nil {
		stack.client.Close()
	}
	if stack.server != nil {
		_ = stack.server.Stop() // by pid: SIGTERM, then SIGKILL
	}
	stopRealServer()
	if stack.tmp != "" {
		_ = os.RemoveAll(stack.tmp)
	}
	os.Exit(code)
}

// repoRoot is the module root; tests run in test/.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// binaries returns the runbook and sampleapp binaries, building them once
// unless RUNBOOK_BIN / RUNBOOK_SAMPLEAPP_BIN name them.
func binaries(t testing.TB) (runbook, sampleapp string) {
	t.Helper()
	build.once.Do(func() {
		if err := ensureTmp(); err != nil {
			build.err = err
			return
		}
		root, err := filepath.Abs("..")
		if err != nil {
			build.err = err
			return
		}
		stack.bin, stack.sampleapp, build.err = buildBinaries(root)
	})
	if build.err != nil {
		t.Fatalf("build binaries: %v", build.err)
	}
	return stack.bin, stack.sampleapp
}

var tmpOnce sync.Once

func ensureTmp() error {
	var err error
	tmpOnce.Do(func() { stack.tmp, err = os.MkdirTemp("", "runbook-e2e-") })
	return err
}

// buildBinaries returns the runbook and sampleapp binaries named by
// RUNBOOK_BIN and RUNBOOK_SAMPLEAPP_BIN, and builds the others (in one go
// build, so they compile in parallel). The OIDC token helper is always
// built, into stack.oidctoken: it is small and only the tests use it.
func buildBinaries(root string) (runbook, sampleapp string, err error) {
	bins := []struct {
		env, pkg, name string
		path           *string
	}{
		{"RUNBOOK_BIN", "./cmd/runbook", "runbook", &runbook},
		{"RUNBOOK_SAMPLEAPP_BIN", "./test/sampleapp", "sampleapp", &sampleapp},
		{"", "./test/oidctoken", "oidctoken", &stack.oidctoken},
	}
	var pkgs []string
	for _, b := range bins {
		if p := os.Getenv(b.env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", "", fmt.Errorf("%s=%s: %w", b.env, p, err)
			}
			if *b.path, err = filepath.Abs(p); err != nil {
				return "", "", err
			}
			continue
		}
		pkgs = append(pkgs, b.pkg)
		*b.path = filepath.Join(stack.tmp, b.name)
	}
	if len(pkgs) == 0 {
		return runbook, sampleapp, nil
	}
	args := append([]string{"build", "-o", stack.tmp + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return runbook, sampleapp, nil
}

// findTemporal locates the temporal CLI: $RUNBOOK_TEMPORAL_BIN, then
// devstack.FindTemporal, then the pinned build under the repo's .tools/.
func findTemporal() (string, error) {
	if p := os.Getenv("RUNBOOK_TEMPORAL_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("RUNBOOK_TEMPORAL_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	p, err := devstack.FindTemporal()
	if err == nil {
		return p, nil
	}
	for _, c := range []string{"../.tools/bin/temporal", "../" + pinnedTemporal} {
		if st, serr := os.Stat(c); serr == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	return "", err
}

// requireStack returns the shared Temporal client, starting the dev server
// on first use. Without the temporal CLI the test is skipped locally and
// fails in CI.
func requireStack(t testing.TB) client.Client {
	t.Helper()
	binaries(t)
	stack.once.Do(startStack)
	if stack.err != nil {
		if stack.missing && os.Getenv("CI") == "" {
			t.Skipf("no Temporal dev server: %v", stack.err)
		}
		t.Fatalf("Temporal dev server: %v", stack.err)
	}
	return stack.client
}

func startStack() {
	if onRealServer() {
		startRealStack()
		return
	}
	bin, err := findTemporal()
	if err != nil {
		stack.err, stack.missing = err, true
		return
	}
	stack.serverLog = filepath.Join(stack.tmp, "temporal.log")
	logf, err := os.Create(stack.serverLog)
	if err != nil {
		stack.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The Web UI runs too, on its own free port, for the tests that look at
	// it in a browser (e2e_webui_test.go). Another process can take the
	// probed port before the server binds it, so a start is tried again
	// with a new one.
	var srv *devstack.Server
	err = testenv.Retry(func() error {
		ui, err := testenv.FreePort()
		if err != nil {
			return err
		}
		srv, err = devstack.Start(ctx, devstack.Options{Bin: bin, Port: -1, UIPort: ui, Log: logf, Namespaces: extraNamespaces})
		return err
	})
	if err != nil {
		stack.err = fmt.Errorf("%w\n%s", err, tail(stack.serverLog, 40))
		return
	}
	stack.server, stack.address = srv, srv.Address
	connectStack(ctx)
}

// startRealStack is startStack on the real server on PostgreSQL.
func startRealStack() {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var err error
	stack.address, stack.serverLog, stack.missing, err = startRealServer(ctx, extraNamespaces)
	if err != nil {
		stack.err = err
		return
	}
	connectStack(ctx)
}

// extraNamespaces are the namespaces the tests use beside the default one:
// both servers register them, and the stack gives each the search
// attributes.
var extraNamespaces = []string{freezeNamespace, freezeBoardNamespace, breakerNamespace, versioningNamespace}

// connectStack dials the shared client and registers the search attributes.
func connectStack(ctx context.Context) {
	c, err := client.DialContext(ctx, client.Options{HostPort: stack.address, Namespace: namespace, Logger: quietLogger{}})
	if err != nil {
		stack.err = err
		return
	}
	stack.client = c
	for _, ns := range append([]string{namespace}, extraNamespaces...) {
		if err := releases.EnsureSearchAttributes(ctx, c, ns); err != nil {
			stack.err = err
			return
		}
	}
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// quietLogger keeps the SDK quiet in the test process.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// rig is one test's (or benchmark's) slice of the stack: its own task
// queue, audit log, service name, workers and CLI environment.
type rig struct {
	t        testing.TB
	dir      string
	service  string
	queue    string
	auditLog string
	env      []string
	rc       *releases.Client
	nworkers int
}

var serial atomic.Int64

// newRig prepares an isolated test. name becomes part of the service name,
// so it must be lowercase letters, digits and dashes.
func newRig(t testing.TB, name string) *rig {
	t.Helper()
	c := requireStack(t)
	n := serial.Add(1)
	r := &rig{
		t:       t,
		dir:     t.TempDir(),
		service: fmt.Sprintf("%s-%d", name, n),
		queue:   fmt.Sprintf("e2e-%s-%d", name, n),
	}
	r.auditLog = filepath.Join(r.dir, "audit.jsonl")
	r.env = append(cleanEnviron(),
		"TEMPORAL_ADDRESS="+stack.address,
		"TEMPORAL_NAMESPACE="+namespace,
		"TEMPORAL_CONFIG_FILE="+filepath.Join(r.dir, "no-temporal-config.toml"),
		"RUNBOOK_TASK_QUEUE="+r.queue,
		"RUNBOOK_AUDIT_LOG="+r.auditLog,
		"RUNBOOK_STATE_DIR="+filepath.Join(r.dir, "state"),
		// The names the e2e runbooks read with env:NAME; the worker resolves
		// no other (internal/secretref).
		"RUNBOOK_ENV_ALLOW="+e2eEnvAllow,
	)
	// Every person has a key the worker trusts (identity_harness_test.go).
	keys := theKeyring(t)
	r.env = append(r.env, keys.workerEnv()...)
	r.rc = &releases.Client{Temporal: c, Namespace: namespace, TaskQueue: r.queue, Signer: keys}
	return r
}

// e2eEnvAllow lists the variables the e2e runbooks reference.
const e2eEnvAllow = "RB_CHECK_TOKEN,E2E_*,DB_URL,RISK_DB,CHAOS_*"

// cleanEnviron is the test's environment without Temporal or runbook
// settings that could point the subprocesses elsewhere.
func cleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TEMPORAL_") || strings.HasPrefix(kv, "RUNBOOK_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// result is what a CLI run produced.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs `runbook args...` with the test's environment and returns its
// output and exit code.
func (r *rig) cli(args ...string) result {
	r.t.Helper()
	return runCLI(r.t, r.env, "", args...)
}

func runCLI(t testing.TB, env []string, dir string, args ...string) result {
	t.Helper()
	bin, _ := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = theKeyring(t).signingEnv(env, args), dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("runbook %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ runbook %s -> exit %d (%s)", strings.Join(args, " "), res.code, time.Since(start).Round(time.Millisecond))
	return res
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func (r *rig) mustCLI(args ...string) result {
	r.t.Helper()
	res := r.cli(args...)
	if res.code != 0 {
		r.t.Fatalf("runbook %s: %s", strings.Join(args, " "), res)
	}
	return res
}

// workerProc is a `runbook worker` subprocess.
type workerProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startWorker starts a `runbook worker` subprocess on the test's task queue
// and stops it (by pid) when the test ends. extraEnv (NAME=value) is added
// to the worker's environment only, not to the CLI's: a secret the worker
// needs stays out of every other process.
func (r *rig) startWorker(extraEnv ...string) *workerProc {
	r.t.Helper()
	bin, _ := binaries(r.t)
	return r.startWorkerCmd(bin, []string{"worker"}, extraEnv...)
}

// startWorkerCmd is startWorker with another worker binary and arguments
// (the chaos suite's worker).
func (r *rig) startWorkerCmd(bin string, args []string, extraEnv ...string) *workerProc {
	r.t.Helper()
	r.nworkers++
	w := &workerProc{done: make(chan struct{}), log: filepath.Join(r.dir, fmt.Sprintf("worker-%d.log", r.nworkers))}
	logf, err := os.Create(w.log)
	if err != nil {
		r.t.Fatal(err)
	}
	w.cmd = exec.Command(bin, args...)
	w.cmd.Env = append(append([]string(nil), r.env...), extraEnv...)
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		r.t.Fatalf("start worker: %v", err)
	}
	go func() {
		_ = w.cmd.Wait()
		logf.Close()
		close(w.done)
	}()
	t := r.t
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("worker log %s:\n%s", w.log, tail(w.log, 60))
		}
	})
	return w
}

// stop ends the worker gracefully, or kills it after 10 s.
func (w *workerProc) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = syscall.Kill(w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
}

// kill ends the worker with SIGKILL, as a crash would, and waits for it.
func (w *workerProc) kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(w.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 worker %d: %v", w.cmd.Process.Pid, err)
	}
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("worker %d did not die after SIGKILL", w.cmd.Process.Pid)
	}
}

package test

// Helpers the end-to-end tests share: runbooks from templates, waiting for
// a release's state, reading it back, and the HTTP servers the checks hit.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/workflows"
)

// writeRunbook renders a runbook template into the test's directory. The
// template sees .Service, .Artifact and whatever data adds under .X.
func (r *rig) writeRunbook(name, tmpl string, data any) (path, digest string) {
	r.t.Helper()
	art := filepath.Join(r.dir, "artifact.bin")
	if err := os.WriteFile(art, []byte("artifact of "+r.service+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	digest, err := artifact.FileDigest(art)
	if err != nil {
		r.t.Fatalf("digest: %v", err)
	}
	var b bytes.Buffer
	tp := template.Must(template.New(name).Option("missingkey=error").Parse(tmpl))
	if err := tp.Execute(&b, map[string]any{"Service": r.service, "Artifact": art, "X": data}); err != nil {
		r.t.Fatal(err)
	}
	path = filepath.Join(r.dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return path, digest
}

// deploy starts a release through the CLI and returns its ID.
func (r *rig) deploy(path, digest, version, as string) string {
	r.t.Helper()
	res := r.mustCLI("deploy", path, "--version", version, "--digest", digest, "--as", as)
	id := workflows.ReleaseID(r.service, version)
	if !strings.Contains(res.stdout, id) {
		r.t.Fatalf("deploy did not print the release ID %s:\n%s", id, res)
	}
	return id
}

// waitFor polls the release's status until cond holds, failing the test
// with the last status after the deadline.
func (r *rig) waitFor(id, what string, cond func(workflows.ReleaseStatus) bool) workflows.ReleaseStatus {
	r.t.Helper()
	start := time.Now()
	deadline := start.Add(pollDeadline)
	var last workflows.ReleaseStatus
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := r.rc.Status(ctx, id)
		cancel()
		if err == nil {
			last, lastErr = st, nil
			if cond(st) {
				r.t.Logf("%s (%s)", what, time.Since(start).Round(time.Millisecond))
				return st
			}
		} else {
			lastErr = err
		}
		time.Sleep(pollInterval)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	r.t.Fatalf("%s: not reached after %s (last error %v); last status:\n%s\n%s", what, pollDeadline, lastErr, b, r.historySummary(last))
	return last
}

// eventually polls cond until it holds, failing the test after the deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s", what, pollDeadline)
		}
		time.Sleep(pollInterval)
	}
}

// historySummary lists the events of the release's workflows, to explain a
// release that did not get where a test expected.
func (r *rig) historySummary(st workflows.ReleaseStatus) string {
	var b strings.Builder
	runs := [][2]string{{st.ReleaseID, ""}}
	for _, e := range st.Environments {
		if e.RunID != "" {
			runs = append(runs, [2]string{e.WorkflowID, e.RunID})
		}
	}
	for _, run := range runs {
		if run[0] == "" {
			continue
		}
		fmt.Fprintf(&b, "history of %s:\n", run[0])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		it := stack.client.GetWorkflowHistory(ctx, run[0], run[1], false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				fmt.Fprintf(&b, "  error: %v\n", err)
				break
			}
			fmt.Fprintf(&b, "  %d %s", ev.GetEventId(), ev.GetEventType())
			if f := ev.GetWorkflowTaskFailedEventAttributes(); f != nil {
				fmt.Fprintf(&b, " %s: %s", f.GetCause(), f.GetFailure().GetMessage())
			}
			b.WriteString("\n")
		}
		cancel()
	}
	return b.String()
}

// status reads the release through `runbook status ID -o json`.
func (r *rig) status(id string) workflows.ReleaseStatus {
	r.t.Helper()
	res := r.mustCLI("status", id, "-o", "json")
	var st workflows.ReleaseStatus
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		r.t.Fatalf("status -o json is not a release status: %v\n%s", err, res.stdout)
	}
	return st
}

// auditRecords reads the audit records of a release through the CLI.
func (r *rig) auditRecords(id string) []map[string]any {
	r.t.Helper()
	res := r.mustCLI("audit", "show", "--release", id)
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(res.stdout))
	for {
		var e map[string]any
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			r.t.Fatalf("audit show printed something that is not JSON lines: %v\n%s", err, res.stdout)
		}
		out = append(out, e)
	}
	return out
}

// env returns the named environment of a status, failing when absent.
func env(t testing.TB, st workflows.ReleaseStatus, name string) workflows.EnvironmentStatus {
	t.Helper()
	for _, e := range st.Environments {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("release %s has no environment %s", st.ReleaseID, name)
	return workflows.EnvironmentStatus{}
}

// step returns the named step of an environment, failing when absent.
func step(t testing.TB, e workflows.EnvironmentStatus, name string) workflows.StepStatus {
	t.Helper()
	for _, s := range e.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("environment %s has no step %s", e.Name, name)
	return workflows.StepStatus{}
}

// gateWaiting reports whether the named gate of env waits for a decision.
func gateWaiting(envName, gate string) func(workflows.ReleaseStatus) bool {
	return func(st workflows.ReleaseStatus) bool {
		for _, e := range st.Environments {
			if e.Name != envName {
				continue
			}
			for _, g := range e.PendingGates() {
				if g.Name == gate {
					return true
				}
			}
		}
		return false
	}
}

// request is one request an HTTP check made to a test server.
type request struct {
	Method, Path, Key string
}

// recorder is a test HTTP server that answers 200 (503 under its failing
// prefix, when set) and records requests in order.
type recorder struct {
	mu      sync.Mutex
	reqs    []request
	failing string
	srv     *httptest.Server
}

func newRecorder(t testing.TB) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{Method: req.Method, Path: req.URL.Path, Key: req.Header.Get("Idempotency-Key")})
		fail := rec.failing != "" && strings.HasPrefix(req.URL.Path, rec.failing)
		rec.mu.Unlock()
		if fail {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok %s\n", req.URL.Path)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// requests returns a copy of the requests seen so far, optionally only
// those whose path starts with prefix.
func (rec *recorder) requests(prefix string) []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []request
	for _, r := range rec.reqs {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func paths(rs []request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Path
	}
	return out
}

// startSampleApp runs the sample app (the service being "released") on a
// free port, reporting version, and returns its base URL. It is stopped by
// pid when the test ends. A port taken between probing and binding makes the
// app exit at once; another port is tried then.
func startSampleApp(t *testing.T, version string, args ...string) string {
	t.Helper()
	return startSampleAppOn(t, 0, version, args...)
}

// startSampleAppOn is startSampleApp on port (0: a free one), with args.
func startSampleAppOn(t *testing.T, port int, version string, args ...string) string {
	t.Helper()
	_, bin := binaries(t)
	var url string
	testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		p := port
		if p == 0 {
			var err error
			if p, err = testenv.FreePort(); err != nil {
				return testenv.Launch{}, err
			}
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		url = "http://" + addr
		cmd := exec.Command(bin, append([]string{"--addr", addr, "--version", version}, args...)...)
		return testenv.Launch{Name: "sampleapp", Dir: dir, Cmd: cmd, Ready: healthy(url), Timeout: 30 * time.Second}, nil
	})
	return url
}

// healthy is a readiness condition: GET url/healthz answers 200.
func healthy(url string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
}

// watchAsync starts `runbook watch ID` in the background; the channel yields
// its result. The process is killed (by pid) if the test ends first.
func (r *rig) watchAsync(id string) <-chan result {
	r.t.Helper()
	bin, _ := binaries(r.t)
	cmd := exec.Command(bin, "watch", id)
	cmd.Env = r.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start runbook watch: %v", err)
	}
	ch := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		res := result{stdout: out.String(), stderr: errb.String()}
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			res.code = exit.ExitCode()
		case err != nil:
			res.code, res.stderr = -1, err.Error()
		}
		close(done)
		ch <- res
	}()
	r.t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return ch
}

// runCLIQuiet is runCLI for polling loops: it cannot fail the test.
func runCLIQuiet(env []string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stack.bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		res.code, res.stderr = -1, err.Error()
	}
	return res
}

// awaitResult waits for a background CLI run.
func awaitResult(t testing.TB, ch <-chan result, what string) result {
	t.Helper()
	select {
	case res := <-ch:
		t.Logf("%s -> exit %d", what, res.code)
		return res
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not end", what)
	}
	return result{}
}

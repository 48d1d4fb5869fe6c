package test

// Provisioning end to end: releases whose provision step runs the repo's
// infra/local module through a real `runbook worker` and real OpenTofu, so
// every version of the service is a real sample app process started by
// OpenTofu, checked over HTTP, replaced behind an approval, restored or
// destroyed on rollback.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/workflows"
)

// provisionRunbook is one staging environment on infra/local: provision,
// check the version the new process reports, then a person's go-live gate.
const provisionRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.X.Binary}}
environments:
  - name: staging
    infra:
      module: {{.X.Module}}
      vars:
        binary: ${artifact}
        app_version: ${version}
        port: "{{.X.Port}}"
        run_dir: {{.X.RunDir}}
      on-rollback: {{.X.OnRollback}}
    steps:
      - name: provision
        provision: {}
      - name: version
        http-check:
          url: ${outputs.url}/version
          expect-body: ${version}
          interval: 250ms
      - name: go-live
        approval:
          approvers: [bob]
          instructions: Look at the new version.
`

// requester starts every release of these tests, so alice and bob may
// decide its gates.
const requester = "carol"

// infraApp is one release-able service on infra/local: its runbook, the
// sample app it ships, and where its process runs.
type infraApp struct {
	r       *rig
	path    string // the runbook
	digest  string // of the sample app binary
	port    int
	url     string
	runDir  string // the module's run_dir: pid and log files
	workdir string // the worker's OpenTofu working directory of staging
	tofu    string
}

// newInfraApp writes the runbook of a service provisioned with infra/local
// on a free port, registers the clean-up that destroys whatever the test
// leaves running, and starts a worker that can run OpenTofu. The clean-up is
// registered before the worker, so it runs after the worker has stopped.
func newInfraApp(t *testing.T, r *rig, onRollback string) *infraApp {
	t.Helper()
	tofu := tofuBin(t)
	_, sampleapp := binaries(t)
	digest, err := artifact.FileDigest(sampleapp)
	if err != nil {
		t.Fatalf("digest of the sample app: %v", err)
	}
	a := &infraApp{r: r, digest: digest, port: appPort(t), runDir: filepath.Join(r.dir, "run"), tofu: tofu}
	a.url = fmt.Sprintf("http://127.0.0.1:%d", a.port)
	a.workdir = filepath.Join(r.dir, "state", "state", r.service, "staging")
	a.path, _ = r.writeRunbook("runbook.yaml", provisionRunbook, map[string]any{
		"Binary": sampleapp, "Module": filepath.Join(repoRoot(t), "infra", "local"),
		"Port": a.port, "RunDir": a.runDir, "OnRollback": onRollback,
	})
	t.Cleanup(a.destroy)
	r.startWorker(terraform.BinEnv + "=" + tofu)
	return a
}

// tofuBin finds OpenTofu the way the worker does; the worker gets the path
// explicitly. Without one the test is skipped locally and fails in CI.
func tofuBin(t testing.TB) string {
	t.Helper()
	p, err := terraform.Discover()
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no OpenTofu: %v", err)
		}
		t.Fatalf("no OpenTofu: %v", err)
	}
	return p
}

var (
	appPortsMu sync.Mutex
	appPorts   = map[int]bool{18081: true, 18082: true} // the demo's
)

// appPort returns a free port no other test of this binary got, for a
// sample app that OpenTofu starts later.
func appPort(t testing.TB) int {
	t.Helper()
	appPortsMu.Lock()
	defer appPortsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !appPorts[port] {
			appPorts[port] = true
			return port
		}
	}
}

// destroy tears down what the releases left: OpenTofu destroy through the
// terraform activities, in the worker's working directory, then SIGKILL for
// any sample app still named in a pid file of run_dir.
func (a *infraApp) destroy() {
	t := a.r.t
	acts := &terraform.Activities{Bin: a.tofu, StateDir: filepath.Join(a.r.dir, "state", "state")}
	if _, err := os.Stat(a.workdir); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		ws := terraform.Workspace{
			Service: a.r.service, Environment: "staging", Module: filepath.Join(repoRoot(t), "infra", "local"),
			Vars:    map[string]string{"binary": "/bin/true", "app_version": "0.0.0", "port": strconv.Itoa(a.port), "run_dir": a.runDir},
			Version: "0.0.0",
		}
		if res, err := acts.Destroy(ctx, terraform.DestroyInput{Workspace: ws}); err != nil {
			t.Logf("cleanup: tofu destroy in %s: %v", a.workdir, err)
		} else if res.Destroyed > 0 {
			t.Logf("cleanup: tofu destroy in %s: %d destroyed", a.workdir, res.Destroyed)
		}
		cancel()
	}
	files, _ := filepath.Glob(filepath.Join(a.runDir, "*.pid"))
	for _, f := range files {
		if pid, err := readPid(f); err == nil && isSampleApp(pid) {
			t.Logf("cleanup: killing leftover sample app pid %d", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// pidFile is where infra/local keeps the pid of the app (slot blue).
func (a *infraApp) pidFile() string {
	return filepath.Join(a.runDir, fmt.Sprintf("sampleapp-blue-%d.pid", a.port))
}

// deploy starts a release of version as the requester.
func (a *infraApp) deploy(version string) string {
	return a.r.deploy(a.path, a.digest, version, requester)
}

// waitVersion polls the app until /version answers want.
func (a *infraApp) waitVersion(want string) {
	a.r.t.Helper()
	var last string
	deadline := time.Now().Add(pollDeadline)
	for {
		code, body, err := httpGet(a.url + "/version")
		if err == nil && code == http.StatusOK && body == want {
			return
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		if time.Now().After(deadline) {
			a.r.t.Fatalf("GET %s/version: want %q within %s, last answer %s\n%s", a.url, want, pollDeadline, last, a.logTail())
		}
		time.Sleep(pollInterval)
	}
}

// waitRefused polls until nothing accepts connections on the app's port.
func (a *infraApp) waitRefused() {
	a.r.t.Helper()
	eventually(a.r.t, fmt.Sprintf("port %d refuses connections", a.port), func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", a.port), time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

// pid reads the pid file of the running app.
func (a *infraApp) pid() int {
	a.r.t.Helper()
	pid, err := readPid(a.pidFile())
	if err != nil {
		a.r.t.Fatalf("pid file of the app: %v", err)
	}
	return pid
}

// logTail is the end of the app's log, for failure messages.
func (a *infraApp) logTail() string {
	return "app log:\n" + tail(filepath.Join(a.runDir, fmt.Sprintf("sampleapp-blue-%d.log", a.port)), 20)
}

// releaseFirst runs a first release of version to success: the plan only adds,
// so provision applies without a gate; bob approves go-live.
func (a *infraApp) releaseFirst(version string) (string, workflows.ReleaseStatus) {
	t := a.r.t
	t.Helper()
	id := a.deploy(version)
	a.r.waitFor(id, "gate go-live waiting", gateWaiting("staging", "go-live"))
	a.waitVersion(version)
	a.r.mustCLI("approve", id, "--gate", "go-live", "--as", "bob")
	st := a.r.waitFor(id, "release succeeded", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release %s is %s (%s), want succeeded", id, st.State, st.Reason)
	}
	return id, st
}

// TestProvisionReleases releases three versions of a service on infra/local
// through the CLI: a first one that creates the process, a second whose
// replacing plan waits for an approval on the provision step, and a third
// that is rejected at go-live, whose compensation restores the second
// version's process.
func TestProvisionReleases(t *testing.T) {
	t.Parallel()
	r := newRig(t, "provision")
	a := newInfraApp(t, r, "restore")

	// v1: the plan only adds, so no gate on provision.
	id1, _ := a.releaseFirst("1.0.0")
	st := r.status(id1)
	prov := step(t, env(t, st, "staging"), "provision")
	if prov.State != workflows.StateSucceeded || prov.Gate != nil {
		t.Errorf("v1 provision is %s with gate %+v, want succeeded without a gate", prov.State, prov.Gate)
	}
	planned := auditOf(r.auditRecords(id1), "infra.planned", "provision")
	if planned == nil {
		t.Fatalf("v1: the audit log has no infra.planned record for step provision")
	}
	hash, _ := planned["outcome"].(string)
	if !strings.HasPrefix(hash, "sha256:") || !strings.Contains(prov.Detail, "applied plan "+strings.TrimPrefix(hash, "sha256:")[:12]) ||
		!strings.Contains(prov.Detail, "1 to add, 0 to change, 0 to replace, 0 to destroy: terraform_data.app (create)") {
		t.Errorf("v1 provision detail %q, want \"applied plan <hash>: 1 to add ...\" with the audited plan hash %q", prov.Detail, hash)
	}
	if d, _ := planned["detail"].(string); !strings.Contains(d, "terraform_data.app (create)") {
		t.Errorf("infra.planned detail %q, want the plan summary", d)
	}
	pid1 := a.pid()

	// v2: replacing the process is destructive, so the provision step waits
	// for a person; the gate shows the plan's summary.
	id2 := a.deploy("2.0.0")
	r.waitFor(id2, "gate provision waiting", gateWaiting("staging", "provision"))
	prov = step(t, env(t, r.status(id2), "staging"), "provision")
	if prov.State != workflows.StateWaiting || prov.Gate == nil || prov.Gate.Name != "provision" ||
		!strings.Contains(prov.Gate.Instructions, "0 to add, 0 to change, 1 to replace, 0 to destroy: terraform_data.app (replace)") {
		t.Fatalf("v2 provision while waiting: %s, gate %+v; want a waiting gate provision whose instructions show the replacing plan", prov.State, prov.Gate)
	}
	a.waitVersion("1.0.0") // nothing was applied yet
	if res := r.cli("approve", id2, "--gate", "provision", "--as", requester); res.code == 0 || !strings.Contains(res.stderr, "separation of duties") {
		t.Errorf("the requester approving the provision gate: want a refusal (separation of duties), got %s", res)
	}
	r.mustCLI("approve", id2, "--gate", "provision", "--as", "alice")
	a.waitVersion("2.0.0")
	r.waitFor(id2, "gate go-live waiting", gateWaiting("staging", "go-live"))
	r.mustCLI("approve", id2, "--gate", "go-live", "--as", "bob")
	st = r.waitFor(id2, "release succeeded", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release %s is %s (%s), want succeeded", id2, st.State, st.Reason)
	}
	prov = step(t, env(t, r.status(id2), "staging"), "provision")
	if !strings.Contains(prov.Detail, "applied plan") || prov.Gate == nil || prov.Gate.State != workflows.StateApproved ||
		len(prov.Gate.Approvals) != 1 || prov.Gate.Approvals[0].Actor != "alice" {
		t.Errorf("v2 provision after approval: detail %q, gate %+v; want applied, approved by alice", prov.Detail, prov.Gate)
	}
	pid2 := a.pid()
	if pid2 == pid1 {
		t.Errorf("v2 runs as pid %d, the pid of v1: want a new process", pid2)
	}
	if !hasAudit(r.auditRecords(id2), "gate.approved", "alice", "provision") {
		t.Errorf("audit log has no gate.approved record by alice for the provision gate")
	}
	r.exportRelease(t, st, "staging", "provision-destructive-gate-approved")

	// v3: applied, then rejected at go-live; the compensation re-applies
	// v2's variables, so OpenTofu starts v2 again.
	id3 := a.deploy("3.0.0")
	r.waitFor(id3, "gate provision waiting", gateWaiting("staging", "provision"))
	r.mustCLI("approve", id3, "--gate", "provision", "--as", "alice")
	a.waitVersion("3.0.0")
	r.waitFor(id3, "gate go-live waiting", gateWaiting("staging", "go-live"))
	watch := r.watchAsync(id3)
	r.mustCLI("reject", id3, "--gate", "go-live", "--as", "bob", "--comment", "not today")
	res := awaitResult(t, watch, "runbook watch "+id3)
	if res.code == 0 || !strings.Contains(res.stderr, "rejected by bob") {
		t.Fatalf("watch of the rejected release: want a non-zero exit saying rejected by bob, got %s", res)
	}
	a.waitVersion("2.0.0")
	if pid := a.pid(); pid == pid2 || !isSampleApp(pid) {
		t.Errorf("restored v2 runs as pid %d (v2 ran as %d): want a new, running process", pid, pid2)
	}
	st = r.status(id3)
	stg := env(t, st, "staging")
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "rejected by bob at gate go-live") {
		t.Errorf("v3 is %s (%s), want rolled-back: rejected by bob at gate go-live", st.State, st.Reason)
	}
	if len(stg.Compensations) != 1 || stg.Compensations[0].Step != "provision" || stg.Compensations[0].State != workflows.StateDone ||
		!strings.Contains(stg.Compensations[0].Action, "restore staging infrastructure to 2.0.0") {
		t.Errorf("v3 compensations %+v, want provision: restore staging infrastructure to 2.0.0, done", stg.Compensations)
	}
	if got := step(t, stg, "provision").State; got != workflows.StateCompensated {
		t.Errorf("v3 provision is %s, want compensated", got)
	}
	r.exportRelease(t, st, "staging", "provision-gate-rejected-restored")
	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}
}

// TestProvisionDestroyOnRollback: with on-rollback destroy, a release
// rejected after its provision step removes the process it created and
// leaves an empty state.
func TestProvisionDestroyOnRollback(t *testing.T) {
	t.Parallel()
	r := newRig(t, "provision-destroy")
	a := newInfraApp(t, r, "destroy")

	id := a.deploy("1.0.0")
	r.waitFor(id, "gate go-live waiting", gateWaiting("staging", "go-live"))
	a.waitVersion("1.0.0")
	pid := a.pid()
	if res, err := a.stateList(); err != nil || !strings.Contains(res, "terraform_data.app") {
		t.Fatalf("tofu state list after the apply: %v, want terraform_data.app\n%s", err, res)
	}
	r.mustCLI("reject", id, "--gate", "go-live", "--as", "bob", "--comment", "roll it back")
	st := r.waitFor(id, "release finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	a.waitRefused()
	eventually(t, fmt.Sprintf("pid %d exits", pid), func() bool { return !isSampleApp(pid) })
	if _, err := os.Stat(a.pidFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after the destroy: %v, want none", err)
	}
	if res, err := a.stateList(); err != nil || strings.TrimSpace(res) != "" {
		t.Errorf("tofu state list after the destroy: %v, want no resources\n%s", err, res)
	}
	if _, err := os.Stat(filepath.Join(a.workdir, "runbook-last-applied.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runbook-last-applied.json after the destroy: %v, want none (nothing deployed)", err)
	}
	stg := env(t, r.status(id), "staging")
	if len(stg.Compensations) != 1 || stg.Compensations[0].State != workflows.StateDone ||
		!strings.Contains(stg.Compensations[0].Action, "destroy the staging infrastructure") {
		t.Errorf("compensations %+v, want provision: destroy the staging infrastructure, done", stg.Compensations)
	}
}

// stateList runs `tofu state list` in the worker's working directory.
func (a *infraApp) stateList() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.tofu, "state", "list", "-no-color")
	cmd.Dir = a.workdir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TF_CLI_CONFIG_FILE="+filepath.Join(a.workdir, "runbook.tfrc"), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// auditOf returns the first audit record with action for step, or nil.
func auditOf(recs []map[string]any, action, stepName string) map[string]any {
	for _, e := range recs {
		if e["action"] == action && (stepName == "" || e["step"] == stepName) {
			return e
		}
	}
	return nil
}

// httpGet fetches url and returns the status and the trimmed body.
func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// isSampleApp reports whether pid runs a sample app (not a zombie, not a
// recycled pid of another program).
func isSampleApp(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("--addr\x00127.0.0.1:")) || bytes.Contains(cmdline, []byte("supervise")) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

package infra

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to create the app's table
)

// TestFormat keeps both modules in `tofu fmt` style; infra/aws is checked only this way
// (and by review), since its provider cannot be downloaded here.
func TestFormat(t *testing.T) {
	t.Parallel()
	bin := tofuBin(t)
	tf := &tofu{t: t, bin: bin, dir: filepath.Join(repoRoot(t), "infra"), env: tofuEnv(t)}
	if out, err := tf.run("fmt", "-check", "-recursive", "-diff", "-no-color"); err != nil {
		t.Fatalf("tofu fmt -check -recursive infra/: %v (run `tofu fmt -recursive infra` to fix)\n%s", err, out)
	}
}

// TestLocalValidate runs init and validate on a copy of the embedded local module.
func TestLocalValidate(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	if out := tf.must("validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
		t.Fatalf("tofu validate:\n%s", out)
	}
}

// TestLocalVariableValidation checks each validation block rejects a bad value with its
// own message, at plan time, before anything starts.
func TestLocalVariableValidation(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	good := map[string]string{"app_version": "1.0.0", "port": "8080", "binary": "/bin/true"}
	cases := []struct {
		name, value, want string
	}{
		{"slot", "purple", `The slot must be "blue" or "green".`},
		{"app_version", "", "The app_version must be 1-128 characters"},
		{"app_version", "1.0 beta", "The app_version must be 1-128 characters"},
		{"port", "0", "The port must be a whole number from 1 to 65535."},
		{"port", "65536", "The port must be a whole number from 1 to 65535."},
		{"port", "80.5", "The port must be a whole number from 1 to 65535."},
		{"binary", "bin/sampleapp", "The binary must be an absolute path"},
		{"run_dir", " ", "The run_dir must be null (the default) or a non-empty path."},
		{"db_path", " ", "The db_path must be empty or a file path, not a URL"},
		{"db_path", "sqlite:///tmp/checkout.db", "The db_path must be empty or a file path, not a URL"},
		{"health_timeout_seconds", "0", "The health_timeout_seconds must be a whole number from 1 to 600."},
	}
	for _, c := range cases {
		vars := map[string]string{}
		for k, v := range good {
			vars[k] = v
		}
		vars[c.name] = c.value
		out, err := tf.run(append([]string{"plan", "-input=false", "-no-color"}, varArgs(vars)...)...)
		if err == nil || !strings.Contains(oneLine(out), c.want) {
			t.Errorf("%s=%q: plan err=%v, want an error saying %q; output:\n%s", c.name, c.value, err, c.want, out)
		}
	}
}

// TestLocalLifecycle drives one slot through create, a version change, a failed port
// change and destroy, with a real sample app process each time.
func TestLocalLifecycle(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	port := freePort(t)
	vars := func(version string, port int) map[string]string {
		return map[string]string{"slot": "green", "app_version": version, "port": strconv.Itoa(port), "binary": sampleApp(t)}
	}

	// Create.
	tf.mustApply(vars("1.0.0", port))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitVersion(t, url, "1.0.0")
	out := tf.outputs()
	for k, want := range map[string]string{"url": url, "slot": "green", "version": "1.0.0"} {
		if out[k] != want {
			t.Errorf("output %s = %v, want %q", k, out[k], want)
		}
	}
	pidFile, _ := out["pid_file"].(string)
	if !filepath.IsAbs(pidFile) || !strings.HasPrefix(pidFile, tf.dir) {
		t.Fatalf("output pid_file = %q, want an absolute path in the working directory %s", pidFile, tf.dir)
	}
	pid1 := mustPid(t, pidFile)
	if code, body, err := get(url + "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("GET /healthz = %d %q %v, want 200", code, body, err)
	}
	if code, body, err := post(url+"/orders", `{"item":"book"}`); err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "no database configured") {
		t.Errorf("POST /orders without db_path = %d %q %v, want 503 no database configured", code, body, err)
	}

	// A new version replaces the process: the old one stops, a new one answers.
	tf.mustApply(vars("1.1.0", port))
	waitVersion(t, url, "1.1.0")
	pid2 := mustPid(t, pidFile)
	if pid2 == pid1 {
		t.Fatalf("pid stayed %d after a version change, want a new process", pid1)
	}
	waitGone(t, pid1)

	// Moving to a port another process holds fails with a clear message. The
	// replacement stops the old process first, so the state ends with a tainted
	// resource and nothing of ours running: the next apply replaces it.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	applyOut, err := tf.apply(vars("1.1.0", takenPort))
	want := fmt.Sprintf("port %d on 127.0.0.1 is already in use", takenPort)
	if err == nil || !strings.Contains(oneLine(applyOut), want) {
		t.Fatalf("apply on a taken port: err=%v, want an error saying %q; output:\n%s", err, want, applyOut)
	}
	waitGone(t, pid2)
	if got := tf.tainted(); len(got) != 1 || !got["terraform_data.app"] {
		t.Fatalf("state after the failed apply = %v, want only terraform_data.app, tainted", got)
	}
	takenPidFile := filepath.Join(filepath.Dir(pidFile), fmt.Sprintf("sampleapp-green-%d.pid", takenPort))
	if _, err := os.Stat(takenPidFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file %s after the failed apply: %v, want none", takenPidFile, err)
	}
	// OpenTofu says "is tainted, so it must be replaced", Terraform 1.5 "so must be".
	if out, err := tf.run(append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, varArgs(vars("1.1.0", takenPort))...)...); !isExit(err, 2) || !regexp.MustCompile(`is tainted, so (it )?must be replaced`).MatchString(out) {
		t.Fatalf("plan after the failed apply: %v, want exit 2 replacing the tainted resource\n%s", err, out)
	}

	// Once the port is free the same apply recovers.
	taken.Close()
	tf.mustApply(vars("1.1.0", takenPort))
	url = fmt.Sprintf("http://127.0.0.1:%d", takenPort)
	waitVersion(t, url, "1.1.0")
	pid3 := mustPid(t, takenPidFile)

	// Destroy stops the process; a second destroy has nothing to do.
	if out, err := tf.destroy(); err != nil {
		t.Fatalf("tofu destroy: %v\n%s", err, out)
	}
	waitRefused(t, takenPort)
	waitGone(t, pid3)
	if _, err := os.Stat(takenPidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after destroy: %v, want it removed", err)
	}
	if out, err := tf.destroy(); err != nil {
		t.Fatalf("second tofu destroy: %v\n%s", err, out)
	}
	if got := tf.tainted(); len(got) != 0 {
		t.Fatalf("state after destroy = %v, want empty", got)
	}
}

// TestLocalDrift kills the app outside OpenTofu, as a crash or an operator would: its
// supervisor removes the pid file, so the next plan replaces terraform_data.app (what
// runbook's drift check reports), and an apply brings the app back. Plans of a healthy
// slot, right after a create and after that recovery, show no changes.
func TestLocalDrift(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	port := freePort(t)
	vars := map[string]string{"app_version": "1.0.0", "port": strconv.Itoa(port), "binary": sampleApp(t)}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	plan := func() (string, error) {
		return tf.run(append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, varArgs(vars)...)...)
	}

	tf.mustApply(vars)
	waitVersion(t, url, "1.0.0")
	pidFile := tf.outputs()["pid_file"].(string)
	pid := mustPid(t, pidFile)
	if out, err := plan(); err != nil {
		t.Fatalf("plan of a running slot: %v, want exit 0 (no changes)\n%s", err, out)
	}
	supervisor := parentPid(t, pid)
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", supervisor)); !bytes.Contains(cmdline, []byte("sampleapp.sh\x00supervise\x00")) {
		t.Fatalf("parent of the app (pid %d) is %q, want the script's supervisor", supervisor, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}

	// Killed outside OpenTofu: the supervisor notices and removes the pid file.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	eventually(t, 10*time.Second, "pid file removed after kill -9", func() error {
		if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stat %s: %v", pidFile, err)
		}
		return nil
	})
	waitGone(t, supervisor)
	waitRefused(t, port)

	out, err := plan()
	if !isExit(err, 2) || !strings.Contains(out, "terraform_data.app must be replaced") ||
		!strings.Contains(oneLine(out), `process = "running" -> (known after apply)`) {
		t.Fatalf("plan after the app was killed: %v, want exit 2 replacing terraform_data.app for its process\n%s", err, out)
	}

	// An apply brings it back, and the state converges: the next plan is clean.
	tf.mustApply(vars)
	waitVersion(t, url, "1.0.0")
	if pid2 := mustPid(t, pidFile); pid2 == pid {
		t.Fatalf("pid %d after the repair, want a new process", pid2)
	}
	if out, err := plan(); err != nil {
		t.Fatalf("plan after the repair: %v, want exit 0 (no changes)\n%s", err, out)
	}

	// Destroy stops app and supervisor alike.
	if out, err := tf.destroy(); err != nil {
		t.Fatalf("tofu destroy: %v\n%s", err, out)
	}
	waitRefused(t, port)
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after destroy: %v, want it removed", err)
	}
}

// parentPid is pid's parent process, from /proc.
func parentPid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read the parent pid from /proc: %v", err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state, ppid, ...
	if len(fields) < 2 {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return ppid
}

// TestLocalFailingApp starts the app with --fail: the apply waits on /version, since
// /healthz answers 500 by design.
func TestLocalFailingApp(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	port := freePort(t)
	tf.mustApply(map[string]string{"slot": "blue", "app_version": "2.0.0-bad", "port": strconv.Itoa(port), "binary": sampleApp(t), "fail": "true"})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitVersion(t, url, "2.0.0-bad")
	if code, _, err := get(url + "/healthz"); err != nil || code != http.StatusInternalServerError {
		t.Errorf("GET /healthz = %d %v, want 500 from a --fail app", code, err)
	}
	pid := mustPid(t, tf.outputs()["pid_file"].(string))
	if out, err := tf.destroy(); err != nil {
		t.Fatalf("tofu destroy: %v\n%s", err, out)
	}
	waitRefused(t, port)
	waitGone(t, pid)
}

// TestLocalStartFailures checks a failed start leaves nothing running: OpenTofu does not
// run destroy provisioners for the tainted resource, so the script must clean up.
func TestLocalStartFailures(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	port := strconv.Itoa(freePort(t))

	// A binary that never listens: the health wait times out and stops it.
	fakeDir := t.TempDir()
	fake := filepath.Join(fakeDir, "never-listens")
	script := "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/fake.pid\"\necho starting but never listening\nexec sleep 300\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := tf.apply(map[string]string{"app_version": "1.0.0", "port": port, "binary": fake, "health_timeout_seconds": "1"})
	want := "did not answer 200 at http://127.0.0.1:" + port + "/healthz within 1s; stopped it"
	if err == nil || !strings.Contains(oneLine(out), want) || !strings.Contains(out, "starting but never listening") {
		t.Fatalf("apply with a silent binary: err=%v, want an error saying %q with the log tail; output:\n%s", err, want, out)
	}
	t.Logf("health timeout reported after %s", time.Since(start).Round(time.Millisecond))
	fakePid := mustReadPid(t, filepath.Join(fakeDir, "fake.pid"))
	t.Cleanup(func() {
		if processAlive(fakePid) {
			t.Logf("cleanup: killing leftover fake app pid %d", fakePid)
			killPid(fakePid)
		}
	})
	waitGone(t, fakePid)

	// A missing binary fails before anything starts.
	out, err = tf.apply(map[string]string{"app_version": "1.0.0", "port": port, "binary": filepath.Join(fakeDir, "missing")})
	if err == nil || !strings.Contains(oneLine(out), "is missing or not executable") {
		t.Fatalf("apply with a missing binary: err=%v, want it to say the binary is missing; output:\n%s", err, out)
	}
	if out, err := tf.destroy(); err != nil {
		t.Fatalf("tofu destroy of the tainted resource: %v\n%s", err, out)
	}
}

// mustPid reads a pid file and checks the process runs; the test's cleanup kills it if
// the module does not.
func mustPid(t *testing.T, path string) int {
	t.Helper()
	pid := mustReadPid(t, path)
	if !processAlive(pid) {
		t.Fatalf("pid %d from %s is not running", pid, path)
	}
	t.Cleanup(func() { killIfSampleApp(t, pid) })
	return pid
}

func mustReadPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := readPid(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	return pid
}

func isExit(err error, code int) bool {
	var ee interface{ ExitCode() int }
	return errors.As(err, &ee) && ee.ExitCode() == code
}

// TestLocalDatabase starts the app with a relative db_path: the module passes it as an
// absolute --db, and the app answers POST /orders with 503 until the orders table
// exists, then stores orders in that file, with the note once the column is there.
func TestLocalDatabase(t *testing.T) {
	t.Parallel()
	tf := newLocalModule(t)
	port := freePort(t)
	vars := map[string]string{"app_version": "1.0.0", "port": strconv.Itoa(port), "binary": sampleApp(t), "db_path": "orders.db"}
	tf.mustApply(vars)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitVersion(t, url, "1.0.0")

	dbFile := filepath.Join(tf.dir, "orders.db")
	pid := mustPid(t, tf.outputs()["pid_file"].(string))
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("read the parent pid from /proc: %v", err)
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if i := slices.Index(args, "--db"); i < 0 || i+1 >= len(args) || !filepath.IsAbs(args[i+1]) || !sameFile(args[i+1], dbFile) {
		t.Fatalf("app arguments %q, want --db %s (absolute)", args, dbFile)
	}

	const gift = `{"item":"book","note":"gift wrap"}`
	if code, body, err := post(url+"/orders", gift); err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "run the migrations: table orders does not exist") {
		t.Fatalf("POST /orders before the migrations = %d %q %v, want 503 asking for the migrations", code, body, err)
	}

	db, err := sql.Open("sqlite", dbFile+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrate := func(file string) {
		t.Helper()
		text, err := os.ReadFile(filepath.Join(repoRoot(t), "runbooks", "examples", "migrations", "checkout", file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(text)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	migrate("000001_create_orders.up.sql")
	if code, body, err := post(url+"/orders", gift); err != nil || code != http.StatusCreated || !strings.Contains(body, `"item":"book"`) || strings.Contains(body, "note") {
		t.Fatalf("POST /orders after 000001 = %d %q %v, want 201 with the order and no note", code, body, err)
	}
	migrate("000002_add_order_note.up.sql")
	if code, body, err := post(url+"/orders", gift); err != nil || code != http.StatusCreated || !strings.Contains(body, `"note":"gift wrap"`) {
		t.Fatalf("POST /orders after 000002 = %d %q %v, want 201 with the note", code, body, err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM orders WHERE note = 'gift wrap'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("orders with a note in %s: %d (%v), want 1", dbFile, n, err)
	}

	// The database is part of what the slot runs: another one replaces the process.
	without := maps.Clone(vars)
	delete(without, "db_path")
	if out, err := tf.run(append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, varArgs(without)...)...); !isExit(err, 2) || !strings.Contains(out, "terraform_data.app must be replaced") || !strings.Contains(out, "db_path") {
		t.Fatalf("plan without db_path: %v, want exit 2 replacing terraform_data.app for db_path\n%s", err, out)
	}

	if out, err := tf.destroy(); err != nil {
		t.Fatalf("tofu destroy: %v\n%s", err, out)
	}
	waitRefused(t, port)
	waitGone(t, pid)
}

// sameFile reports whether a and b name the same file, which need not exist yet: the
// temp dir may be reached through a symlink.
func sameFile(a, b string) bool {
	da, errA := filepath.EvalSymlinks(filepath.Dir(a))
	db, errB := filepath.EvalSymlinks(filepath.Dir(b))
	return errA == nil && errB == nil && da == db && filepath.Base(a) == filepath.Base(b)
}

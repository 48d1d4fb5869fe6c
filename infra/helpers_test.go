package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sampleAppDir holds the sample app built once for the whole test binary.
var (
	sampleAppDir  string
	sampleAppOnce sync.Once
	sampleAppPath string
	sampleAppErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sampleAppDir != "" {
		os.RemoveAll(sampleAppDir)
	}
	os.Exit(code)
}

// repoRoot walks up from the package directory to the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the infra package")
		}
		dir = parent
	}
}

// tofuBin finds OpenTofu: $RUNBOOK_TOFU_BIN, then the pinned build under .tools/, then
// tofu on PATH. Without one the test is skipped locally and fails in CI.
func tofuBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RUNBOOK_TOFU_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("RUNBOOK_TOFU_BIN=%s: %v", p, err)
		}
		return p
	}
	pinned := filepath.Join(repoRoot(t), ".tools", "bin", "tofu")
	if st, err := os.Stat(pinned); err == nil && !st.IsDir() {
		return pinned
	}
	if p, err := exec.LookPath("tofu"); err == nil {
		return p
	}
	msg := "no OpenTofu: set RUNBOOK_TOFU_BIN, run `make tools` or put tofu on PATH"
	if os.Getenv("CI") == "" {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// sampleApp builds ./test/sampleapp once per test binary and returns its absolute path.
func sampleApp(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	sampleAppOnce.Do(func() {
		sampleAppDir, sampleAppErr = os.MkdirTemp("", "infra-sampleapp-")
		if sampleAppErr != nil {
			return
		}
		sampleAppPath = filepath.Join(sampleAppDir, "sampleapp")
		cmd := exec.Command("go", "build", "-o", sampleAppPath, "./test/sampleapp")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			sampleAppErr = fmt.Errorf("go build ./test/sampleapp: %v\n%s", err, out)
		}
	})
	if sampleAppErr != nil {
		t.Fatal(sampleAppErr)
	}
	return sampleAppPath
}

// tofu runs OpenTofu in one working directory holding a copy of the local module.
type tofu struct {
	t    testing.TB
	bin  string
	dir  string
	env  []string
	last map[string]string // the variables of the latest apply, for destroys
}

// newLocalModule copies the local module (its .tf files and scripts, not the state or
// pid files a run leaves beside them) into a fresh working directory, runs init there,
// and on cleanup destroys whatever is left and kills any process still listed in a pid
// file.
func newLocalModule(t testing.TB) *tofu {
	t.Helper()
	tf := &tofu{t: t, bin: tofuBin(t), dir: t.TempDir()}
	copyModule(t, filepath.Join(repoRoot(t), "infra", "local"), tf.dir)
	tf.env = tofuEnv(t)
	tf.must("init", "-input=false", "-no-color")
	t.Cleanup(tf.cleanup)
	return tf
}

// tofuEnv is the environment without any TF_* setting of the caller (TF_VAR_*,
// TF_CLI_ARGS*, a TF_CLI_CONFIG_FILE pointing nowhere), with an empty CLI config.
func tofuEnv(t testing.TB) []string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	return append(env, "TF_CLI_CONFIG_FILE="+cfg, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
}

// run runs one tofu command and returns its combined output.
func (tf *tofu) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf.bin, args...)
	cmd.Dir = tf.dir
	cmd.Env = tf.env
	// A provisioner that leaked the output pipe to the app would hold it open forever.
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (tf *tofu) must(args ...string) string {
	tf.t.Helper()
	out, err := tf.run(args...)
	if err != nil {
		tf.t.Fatalf("tofu %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// varArgs turns variables into sorted -var flags.
func varArgs(vars map[string]string) []string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		args = append(args, "-var", k+"="+vars[k])
	}
	return args
}

// apply runs apply with vars and returns its output and error.
func (tf *tofu) apply(vars map[string]string) (string, error) {
	tf.last = vars
	return tf.run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, varArgs(vars)...)...)
}

func (tf *tofu) mustApply(vars map[string]string) {
	tf.t.Helper()
	if out, err := tf.apply(vars); err != nil {
		tf.t.Fatalf("tofu apply %v: %v\n%s", vars, err, out)
	}
}

func (tf *tofu) destroy() (string, error) {
	return tf.run(append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, varArgs(tf.last)...)...)
}

// outputs returns the root module's outputs by name.
func (tf *tofu) outputs() map[string]any {
	tf.t.Helper()
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(tf.must("output", "-json", "-no-color")), &raw); err != nil {
		tf.t.Fatal(err)
	}
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = v.Value
	}
	return out
}

// tainted reports, per resource address in state, whether it is tainted.
func (tf *tofu) tainted() map[string]bool {
	tf.t.Helper()
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string `json:"address"`
					Tainted bool   `json:"tainted"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(tf.must("show", "-json", "-no-color")), &st); err != nil {
		tf.t.Fatal(err)
	}
	res := map[string]bool{}
	for _, r := range st.Values.RootModule.Resources {
		res[r.Address] = r.Tainted
	}
	return res
}

// cleanup destroys what the test left and kills, by pid, any sample app still running.
func (tf *tofu) cleanup() {
	if tf.last != nil {
		if out, err := tf.destroy(); err != nil {
			tf.t.Logf("cleanup: tofu destroy: %v\n%s", err, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(tf.dir, ".run", "*.pid"))
	for _, f := range files {
		if pid, err := readPid(f); err == nil {
			killIfSampleApp(tf.t, pid)
		}
	}
}

// killIfSampleApp kills pid when it still runs a sample app, so a recycled pid is safe.
func killIfSampleApp(t testing.TB, pid int) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("--addr\x00127.0.0.1:")) || !processAlive(pid) {
		return
	}
	t.Logf("cleanup: killing leftover sample app pid %d", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}

func killPid(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// processAlive reports whether pid runs. A zombie counts as gone: nobody may reap the
// detached app on this machine once it exits.
func processAlive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return true
	}
	state := s[i+2]
	return state != 'Z' && state != 'X'
}

// eventually polls cond every 50 ms until it returns nil or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches url and returns the status code and the trimmed body.
func get(url string) (int, string, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// post sends body to url as JSON and returns the status code and the trimmed body.
func post(url, body string) (int, string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// waitVersion polls base/version until it answers want.
func waitVersion(t testing.TB, base, want string) {
	t.Helper()
	eventually(t, 10*time.Second, base+"/version = "+want, func() error {
		code, body, err := get(base + "/version")
		if err != nil {
			return err
		}
		if code != http.StatusOK || body != want {
			return fmt.Errorf("got %d %q", code, body)
		}
		return nil
	})
}

// waitRefused polls until nothing accepts connections on 127.0.0.1:port.
func waitRefused(t testing.TB, port int) {
	t.Helper()
	eventually(t, 15*time.Second, fmt.Sprintf("port %d refuses connections", port), func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		return errors.New("still accepting")
	})
}

// waitGone polls until pid no longer runs.
func waitGone(t testing.TB, pid int) {
	t.Helper()
	eventually(t, 15*time.Second, fmt.Sprintf("pid %d exits", pid), func() error {
		if processAlive(pid) {
			return errors.New("still running")
		}
		return nil
	})
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freePort returns a port nothing listens on now and no other test of this binary got.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports[port] {
			ports[port] = true
			return port
		}
	}
}

// oneLine joins text's words with single spaces: OpenTofu wraps diagnostics.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// copyModule copies a module's *.tf and scripts/*.sh from src to dst.
func copyModule(t testing.TB, src, dst string) {
	t.Helper()
	for _, pattern := range []string{"*.tf", "scripts/*.sh"} {
		files, err := filepath.Glob(filepath.Join(src, pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("module %s has no %s (%v)", src, pattern, err)
		}
		for _, f := range files {
			rel, _ := filepath.Rel(src, f)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Package haproxyd starts a real HAProxy for tests: the Debian binary
// (or RUNBOOK_HAPROXY_BIN) in master-worker mode with a generated config in
// a temp dir, a frontend on 127.0.0.1 and a free port, one backend (Backend)
// using `balance random` whose servers point at the given URLs, an admin
// socket and a server-state file.
//
//	a, b := httptest.NewServer(ha), httptest.NewServer(hb)
//	srv := haproxyd.Start(t, haproxyd.Server{Name: "a", URL: a.URL}, haproxyd.Server{Name: "b", URL: b.URL})
//	opts := srv.Options() // socket, backend, state-file for the haproxy provider
//	srv.Reload(t)         // SIGUSR2: re-reads the config and the state file
//
// Without the binary Start skips the test, unless CI is set, where it fails.
package haproxyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv"
)

// EnvBin names the environment variable that overrides the binary's path.
const EnvBin = "RUNBOOK_HAPROXY_BIN"

// Backend is the name of the generated backend.
const Backend = "app"

// InitialWeight is every server's configured weight.
const InitialWeight = 50

// ErrNotInstalled means no haproxy binary was found.
var ErrNotInstalled = errors.New("haproxy binary not found: install the Debian package haproxy or set " + EnvBin)

// Server is one server of the backend: a name and the base URL it forwards to.
type Server struct {
	Name string
	URL  string
}

// HAProxy is a running HAProxy master owned by the test process.
type HAProxy struct {
	// URL is the frontend's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Socket is the admin socket path; StateFile the server-state file.
	Socket, StateFile string
	// Dir holds haproxy.cfg, the sockets, the state file and haproxy.log.
	Dir string

	master string // master CLI socket
	proc   *testenv.Server
}

// Bin returns the binary to run: $RUNBOOK_HAPROXY_BIN, else haproxy on PATH
// or in /usr/sbin.
func Bin() (string, error) {
	return testenv.FindBin(EnvBin, ErrNotInstalled, "haproxy", "/usr/sbin/haproxy")
}

// Start runs HAProxy in front of servers, waits until the admin socket
// answers and stops it when the test ends.
func Start(t testing.TB, servers ...Server) *HAProxy {
	t.Helper()
	bin := testenv.RequireBin(t, Bin)
	var h *HAProxy
	proc := testenv.Serve(t, func(dir string) (testenv.Launch, error) {
		h = &HAProxy{
			Socket:    filepath.Join(dir, "admin.sock"),
			StateFile: filepath.Join(dir, "servers.state"),
			master:    filepath.Join(dir, "master.sock"),
			Dir:       dir,
		}
		return h.launch(bin, servers)
	})
	h.proc = proc
	return h
}

// launch writes the config for a free port and describes the command.
func (h *HAProxy) launch(bin string, servers []Server) (testenv.Launch, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return testenv.Launch{}, err
	}
	h.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	cfgText, err := h.config(port, servers)
	if err != nil {
		return testenv.Launch{}, err
	}
	cfg := filepath.Join(h.Dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		return testenv.Launch{}, err
	}
	// -W: master-worker, so SIGUSR2 reloads; -db: stay in the foreground;
	// -S: the master CLI, which answers only once the master's loop (and
	// with it its SIGUSR2 handler) runs: a signal sent earlier is lost.
	cmd := exec.Command(bin, "-W", "-db", "-S", h.master, "-f", cfg)
	return testenv.Launch{Name: "haproxy", Dir: h.Dir, Cmd: cmd, Ready: h.workerOtherThan("")}, nil
}

func (h *HAProxy) config(port int, servers []Server) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n    stats socket %s mode 600 level admin\n    server-state-file %s\n\n", h.Socket, h.StateFile)
	b.WriteString("defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n    load-server-state-from-file global\n\n")
	fmt.Fprintf(&b, "frontend fe\n    bind 127.0.0.1:%d\n    default_backend %s\n\n", port, Backend)
	fmt.Fprintf(&b, "backend %s\n    balance random\n", Backend)
	for _, s := range servers {
		u, err := url.Parse(s.URL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("server %s: URL %q: want http://host:port", s.Name, s.URL)
		}
		fmt.Fprintf(&b, "    server %s %s weight %d\n", s.Name, u.Host, InitialWeight)
	}
	return b.String(), nil
}

// Options are the haproxy provider's options for this instance.
func (h *HAProxy) Options() map[string]string {
	return map[string]string{"socket": h.Socket, "backend": Backend, "state-file": h.StateFile}
}

// Command sends one runtime API command and returns the answer.
func (h *HAProxy) Command(cmd string) (string, error) {
	return send(h.Socket, cmd)
}

func send(socket, cmd string) (string, error) {
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", err
	}
	data, err := io.ReadAll(conn)
	return string(data), err
}

// WorkerPid is the pid of the worker currently answering the admin socket.
func (h *HAProxy) WorkerPid() (string, error) {
	out, err := h.Command("show info")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Pid: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no Pid in show info: %q", out)
}

// Reload sends SIGUSR2 to the master, which re-reads the config (and with
// it the state file) and starts a new worker; Reload returns once that new
// worker answers on the admin socket.
func (h *HAProxy) Reload(t testing.TB) {
	t.Helper()
	old, err := h.WorkerPid()
	if err != nil {
		t.Fatalf("before reload: %v", err)
	}
	if err := h.proc.Signal(syscall.SIGUSR2); err != nil {
		t.Fatalf("reload: signalling pid %d: %v", h.proc.Pid(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testenv.ReadyTimeout)
	defer cancel()
	if err := h.proc.WaitFor(ctx, h.workerOtherThan(old)); err != nil {
		t.Fatalf("reload: %v\n%s", err, h.proc.LogTail())
	}
}

// workerOtherThan is a readiness condition: a worker other than old
// answers on the admin socket and the master CLI answers too.
func (h *HAProxy) workerOtherThan(old string) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) {
		pid, err := h.WorkerPid()
		return err == nil && pid != old && h.masterReady(), nil
	}
}

// masterReady reports whether the master CLI answers `show proc`. The
// master CLI keeps the connection open after answering, so it reads until
// the answer names the master or a short deadline passes.
func (h *HAProxy) masterReady() bool {
	conn, err := net.DialTimeout("unix", h.master, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show proc\n"); err != nil {
		return false
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if strings.Contains(string(got), "master") {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// Stop terminates the master by its pid (SIGTERM, which also stops its
// workers; SIGKILL after 10 s) and waits for it. Calling it twice is fine.
func (h *HAProxy) Stop() error { return h.proc.Stop() }

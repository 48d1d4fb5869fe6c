// Package devstack starts the embedded local stack: a Temporal dev server
// (with its Web UI) as a child process bound to 127.0.0.1. `runbook dev`,
// `runbook demo` and the end-to-end tests all use it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
)

// Options configure the dev server.
type Options struct {
	// Bin is the temporal CLI; empty means FindTemporal.
	Bin string
	// Port is the gRPC port (default 7233); UIPort the Web UI port (default
	// 8233). UIPort < 0 runs without the UI. Port < 0 picks a free port and
	// tries again with another one if it is taken before the server binds
	// it (tests run side by side).
	Port, UIPort int
	// DBFile keeps state across restarts; empty keeps it in memory.
	DBFile string
	// Log receives the server's output; nil discards it.
	Log io.Writer
	// ReadyTimeout bounds the wait for the server (default 90s).
	ReadyTimeout time.Duration
	// Namespaces are created at start besides "default".
	Namespaces []string
	// DynamicConfig are server settings as KEY=VALUE (passed as
	// --dynamic-config-value; VALUE is YAML), e.g. a low
	// limit.historyCount.suggestContinueAsNew to see long-lived workflows
	// continue as new within a test.
	DynamicConfig []string
	// UICodecEndpoint, when set, is the codec server the Web UI sends
	// payloads to for decoding (--ui-codec-endpoint).
	UICodecEndpoint string
}

// Server is a running dev server.
type Server struct {
	cmd *exec.Cmd
	// exited is closed when the process has ended, with its Wait error in
	// waitErr: closed rather than sent, so start-up and Stop can both see it.
	exited  chan struct{}
	waitErr error
	Address string
	UIURL   string
}

// FindTemporal locates the temporal CLI: $RUNBOOK_TEMPORAL_BIN, then the
// pinned build in .tools/bin (next to the working directory or the runbook
// binary), then PATH.
func FindTemporal() (string, error) {
	if p := os.Getenv("RUNBOOK_TEMPORAL_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("RUNBOOK_TEMPORAL_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	var candidates []string
	if wd, err := os.Getwd(); err == nil {
		candidates = append(candidates, upward(wd, ".tools/bin/temporal")...)
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, upward(filepath.Dir(exe), ".tools/bin/temporal")...)
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", errors.New("the temporal CLI was not found: run `make tools` (builds the pinned v1.5.1 into .tools/bin), " +
		"or `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, or set RUNBOOK_TEMPORAL_BIN")
}

// upward lists rel joined to dir and to each of its parents, so the pinned
// tools are found from any directory of the checkout (tests run in theirs).
func upward(dir, rel string) []string {
	var out []string
	for {
		out = append(out, filepath.Join(dir, rel))
		parent := filepath.Dir(dir)
		if parent == dir {
			return out
		}
		dir = parent
	}
}

// freePortAttempts bounds the retries of a Start with Port < 0.
const freePortAttempts = 3

// Start launches the dev server and waits until it answers health checks.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Port >= 0 {
		return start(ctx, o)
	}
	var err error
	for i := 0; i < freePortAttempts; i++ {
		try := o
		if try.Port, err = FreePort(); err != nil {
			return nil, err
		}
		var s *Server
		if s, err = start(ctx, try); err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func start(ctx context.Context, o Options) (*Server, error) {
	if o.Bin == "" {
		bin, err := FindTemporal()
		if err != nil {
			return nil, err
		}
		o.Bin = bin
	}
	if o.Port == 0 {
		o.Port = 7233
	}
	if o.UIPort == 0 {
		o.UIPort = 8233
	}
	if err := portFree(o.Port); err != nil {
		return nil, err
	}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.Port), "--log-level", "warn"}
	if o.UIPort > 0 {
		if err := portFree(o.UIPort); err != nil {
			return nil, err
		}
		args = append(args, "--ui-port", strconv.Itoa(o.UIPort))
		if o.UICodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", o.UICodecEndpoint)
		}
	} else {
		args = append(args, "--headless")
	}
	for _, ns := range o.Namespaces {
		args = append(args, "--namespace", ns)
	}
	for _, kv := range o.DynamicConfig {
		args = append(args, "--dynamic-config-value", kv)
	}
	if o.DBFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.DBFile), 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--db-filename", o.DBFile)
	}
	s := &Server{Address: fmt.Sprintf("127.0.0.1:%d", o.Port), exited: make(chan struct{})}
	if o.UIPort > 0 {
		s.UIURL = fmt.Sprintf("http://127.0.0.1:%d", o.UIPort)
	}
	s.cmd = exec.Command(o.Bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = orDiscard(o.Log), orDiscard(o.Log)
	// Own process group, so a Ctrl-C in the terminal reaches us first and we
	// stop the server in order.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, o.ReadyTimeout); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the health endpoint until it answers or the deadline.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("temporal dev server exited during start-up: %v", s.waitErr)
		default:
		}
		if err := Ping(ctx, s.Address); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("temporal dev server at %s not ready after %s: %w", s.Address, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Ping reports whether a Temporal frontend answers at address.
func Ping(ctx context.Context, address string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Logger: quietLogger{}})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// Stop terminates the server (SIGTERM, then SIGKILL after 10s) by its pid.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return nil
}

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("port %d on 127.0.0.1 is in use (is `runbook dev` already running?); pick another with --port/--ui-port", port)
	}
	return l.Close()
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// quietLogger drops the SDK's connection logs during health polling.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

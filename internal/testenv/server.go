package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// PollInterval is how often a readiness condition is asked again.
const PollInterval = 50 * time.Millisecond

// ReadyTimeout is how long StartServer waits for a server to become ready
// when its Launch sets no Timeout.
const ReadyTimeout = time.Minute

// logTailBytes is how much of a server's log a failure message quotes.
const logTailBytes = 4000

// Launch describes one start of a server binary.
type Launch struct {
	// Name names the server in messages and its log file, Dir/Name.log.
	Name string
	// Dir is the directory the server's files and its log go in.
	Dir string
	// Cmd is the command to run; StartServer sends its output to the log.
	Cmd *exec.Cmd
	// Ready reports whether the server answers; it is polled until it
	// says so or fails, the process exits, or Timeout passes.
	Ready func(ctx context.Context) (bool, error)
	// Timeout bounds the wait for Ready (ReadyTimeout when zero).
	Timeout time.Duration
}

// Server is a server process started by StartServer, with its log.
type Server struct {
	*Proc
	// Name is the Launch's name; Log the path of the server's log.
	Name, Log string
}

// Serve starts the server launch describes, for a test: launch is called
// with a new directory for each attempt (so it can choose a new port, see
// StartAttempts), the test fails when no attempt brings the server up, and
// the server is stopped by its pid when the test ends.
func Serve(t testing.TB, launch func(dir string) (Launch, error)) *Server {
	t.Helper()
	var s *Server
	err := Retry(func() error {
		l, err := launch(t.TempDir())
		if err != nil {
			return err
		}
		s, err = StartServer(l)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping %s: %v", s.Name, err)
		}
	})
	return s
}

// StartServer starts l.Cmd with its output in Dir/Name.log and waits until
// l.Ready says the server is ready. A server that exits or is not ready in
// time is stopped, and the error quotes the end of its log.
func StartServer(l Launch) (*Server, error) {
	s := &Server{Name: l.Name, Log: filepath.Join(l.Dir, l.Name+".log")}
	logf, err := os.Create(s.Log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }() // the child keeps its own descriptor
	l.Cmd.Stdout, l.Cmd.Stderr = logf, logf
	if s.Proc, err = Start(l.Cmd); err != nil {
		return nil, err
	}
	timeout := l.Timeout
	if timeout == 0 {
		timeout = ReadyTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.WaitFor(ctx, l.Ready); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%s not ready: %v\n%s", s.Name, err, s.LogTail())
	}
	return s, nil
}

// WaitFor polls cond every PollInterval until it reports done or fails,
// the process exits, or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func(ctx context.Context) (bool, error)) error {
	return Poll(ctx, func(ctx context.Context) (bool, error) {
		select {
		case <-s.Exited():
			return false, errors.New(s.Name + " exited")
		default:
		}
		return cond(ctx)
	})
}

// Poll calls cond every PollInterval until it reports done or fails, or
// ctx ends: the way tests wait for a state, instead of sleeping.
func Poll(ctx context.Context, cond func(ctx context.Context) (bool, error)) error {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		if done, err := cond(ctx); err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(s.Log)
	return s.Name + " log (tail):\n" + string(b[max(0, len(b)-logTailBytes):])
}

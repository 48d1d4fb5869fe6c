package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartServerWaitsForReadyAndStopsByPid(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ready")
	s, err := StartServer(Launch{
		Name: "touch", Dir: dir,
		Cmd: exec.Command("sh", "-c", `sleep 0.2; echo started; touch "$0"; exec sleep 60`, flag),
		Ready: func(context.Context) (bool, error) {
			_, err := os.Stat(flag)
			return err == nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(flag); err != nil {
		t.Fatalf("StartServer returned before the server was ready: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Exited():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	if !strings.Contains(s.LogTail(), "started") {
		t.Errorf("log tail %q lacks the server's output", s.LogTail())
	}
}

func TestStartServerReportsAnExitWithTheLog(t *testing.T) {
	_, err := StartServer(Launch{
		Name: "crasher", Dir: t.TempDir(),
		Cmd:   exec.Command("sh", "-c", "echo port in use >&2; exit 3"),
		Ready: func(context.Context) (bool, error) { return false, nil },
	})
	if err == nil || !strings.Contains(err.Error(), "crasher exited") || !strings.Contains(err.Error(), "port in use") {
		t.Fatalf("err = %v, want the exit and the log's last lines", err)
	}
}

func TestStartServerGivesUpAtTheDeadlineAndStopsTheServer(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	_, err := StartServer(Launch{
		Name: "silent", Dir: dir, Timeout: 300 * time.Millisecond,
		Cmd:   exec.Command("sh", "-c", `echo $$ > "$0"; exec sleep 60`, pidFile),
		Ready: func(context.Context) (bool, error) { return false, nil },
	})
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d after StartServer gave up: kill -0 says %v, want no such process", pid, err)
	}
}

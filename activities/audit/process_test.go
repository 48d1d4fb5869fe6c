package audit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The helper process re-runs this test binary as a separate appender, so the
// flock between real processes is exercised, not only between descriptors.
const (
	helperPathEnv  = "RUNBOOK_AUDIT_HELPER_PATH"
	helperIndexEnv = "RUNBOOK_AUDIT_HELPER_INDEX"
	perProcess     = 40
)

// appendAsHelper is the body of a helper process: it appends its share of
// entries to the log named in the environment.
func appendAsHelper(t *testing.T, path string) {
	idx, _ := strconv.Atoi(os.Getenv(helperIndexEnv))
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	for i := range perProcess {
		e := entry(i)
		e.ID = fmt.Sprintf("proc-%d-%d", idx, i)
		if _, err := l.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSeparateProcessesAppend(t *testing.T) {
	// The test binary runs itself as the helper processes: with the
	// variable set it is one of them.
	if path := os.Getenv(helperPathEnv); path != "" {
		appendAsHelper(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	const procs = 3
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSeparateProcessesAppend$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperPathEnv+"="+path, helperIndexEnv+"="+strconv.Itoa(i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v", i, err)
		}
	}
	assertUniqueComplete(t, path, procs*perProcess)
}

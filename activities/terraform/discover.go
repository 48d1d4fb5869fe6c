package terraform

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"go.temporal.io/sdk/temporal"
)

// BinEnv names the environment variable that points at the binary to use.
const BinEnv = "RUNBOOK_TOFU_BIN"

const installHint = "run `make tools` (it builds the pinned OpenTofu into .tools/bin) or set " + BinEnv + " to an OpenTofu or Terraform binary"

// toolsTofu is where `make tools` links the pinned OpenTofu, relative to the repository root.
var toolsTofu = filepath.Join(".tools", "bin", "tofu")

// Discover finds the binary to run: $RUNBOOK_TOFU_BIN, then `tofu` on PATH,
// then .tools/bin/tofu in the working directory or any parent of it, then the
// same next to the executable, then `terraform` on PATH. OpenTofu comes first
// because it is what the project pins and tests against.
//
// A RUNBOOK_TOFU_BIN that names no executable is an error rather than a reason
// to look further: whoever set it meant that binary.
func Discover() (string, error) {
	if p := os.Getenv(BinEnv); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file: %s", BinEnv, p, installHint)
		}
		return filepath.Abs(p)
	}
	if p, err := exec.LookPath("tofu"); err == nil {
		return filepath.Abs(p)
	}
	for _, dir := range searchRoots() {
		if p := findUp(dir, toolsTofu); p != "" {
			return p, nil
		}
	}
	if p, err := exec.LookPath("terraform"); err == nil {
		return filepath.Abs(p)
	}
	return "", errors.New("no OpenTofu or Terraform binary found ($" + BinEnv +
		", tofu on PATH, .tools/bin/tofu above the working directory or the executable, terraform on PATH): " + installHint)
}

// searchRoots returns the working directory and the executable's directory:
// tests run in a package directory, a worker is usually started from the
// repository or from bin/ inside it.
func searchRoots() []string {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
	}
	return dirs
}

// findUp returns dir/rel for the first of dir and its parents where that is
// an executable file, or "".
func findUp(dir, rel string) string {
	for {
		if p := filepath.Join(dir, rel); isExecutable(p) {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// binary returns the configured binary or discovers one, as a non-retryable
// ErrNotFound when there is none: waiting will not install it.
func (a *Activities) binary() (string, error) {
	if a.Bin == "" {
		p, err := Discover()
		if err != nil {
			return "", temporal.NewNonRetryableApplicationError(err.Error(), ErrNotFound, nil)
		}
		return p, nil
	}
	if !isExecutable(a.Bin) {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the worker's OpenTofu binary %s is not an executable file: fix the worker's OpenTofu path; to install one, %s", a.Bin, installHint), ErrNotFound, nil)
	}
	return a.Bin, nil
}

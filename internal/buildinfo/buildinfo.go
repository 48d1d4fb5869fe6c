// Package buildinfo says which build of runbook is running: the version a
// release build stamps in, else the VCS revision Go records, and the build
// ID a versioned worker reports to Temporal (Worker Versioning).
package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
)

// version is stamped by `make build`:
// -ldflags "-X github.com/runbookhq/runbook/internal/buildinfo.version=$(git describe --always --dirty)".
var version string

// Devel is the version of a build with neither a stamp nor VCS information
// (go run, go test, a build outside the git checkout).
const Devel = "devel"

// Version is this binary's version: the stamp of `make build`, else the VCS
// revision Go recorded (12 hex digits, "-dirty" when the tree had changes),
// else Devel. It is never empty.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Devel
	}
	return fromSettings(bi.Settings)
}

// fromSettings is the version the VCS settings of a build name.
func fromSettings(settings []debug.BuildSetting) string {
	var rev string
	dirty := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Devel
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// BuildID is the build ID a worker reports when none is configured: the
// version, for a clean build. Two builds of a dirty tree (or two devel
// builds) share a version but not their code, and Worker Versioning must
// never route a pinned workflow to different code under the same ID, so
// those get a digest of the executable appended ("abc123-dirty+1f2e3d4c").
func BuildID() string {
	v := Version()
	if v != Devel && !strings.HasSuffix(v, "-dirty") {
		return v
	}
	if d := executableDigest(); d != "" {
		return v + "+" + d
	}
	return v
}

var digest struct {
	once sync.Once
	hex  string
}

// executableDigest is the first 8 hex digits of the SHA-256 of the running
// executable, or "" when it cannot be read.
func executableDigest() string {
	digest.once.Do(func() {
		path, err := os.Executable()
		if err != nil {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return
		}
		digest.hex = hex.EncodeToString(h.Sum(nil))[:8]
	})
	return digest.hex
}

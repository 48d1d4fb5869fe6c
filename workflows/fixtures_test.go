package workflows_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// manifestName is the append-only list of the captured histories and their
// SHA-256, in sha256sum's format (`sha256sum -c SHA256SUMS` checks it too).
const manifestName = "SHA256SUMS"

var manifestLine = regexp.MustCompile(`^([0-9a-f]{64})  ([A-Za-z0-9._-]+\.json)$`)

// TestReplayFixturesAppendOnly keeps the captured histories evidence: every
// fixture is listed in the manifest with the hash of its bytes, every
// listed fixture exists, and (from git) no line a commit ever had has left
// the manifest, so a fixture cannot be edited, regenerated or deleted by
// changing its line too.
func TestReplayFixturesAppendOnly(t *testing.T) {
	lines := readManifest(t, filepath.Join(historiesDir, manifestName))
	listed := map[string]bool{}
	for _, l := range lines {
		sum, name := l.sum, l.name
		listed[name] = true
		b, err := os.ReadFile(filepath.Join(historiesDir, name))
		if err != nil {
			t.Errorf("%s lists %s, which cannot be read (%v): captured histories are never deleted; restore it from git", manifestName, name, err)
			continue
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != sum {
			t.Errorf("%s changed (sha256 %s, %s says %s): captured histories are never edited or regenerated; restore it from git and capture the new behaviour as a new file", name, got, manifestName, sum)
		}
	}
	for _, f := range historyFiles(t) {
		if name := filepath.Base(f); !listed[name] {
			t.Errorf("%s is not in %s: add its line (sha256sum %s >> %s) so it can never change unnoticed", name, manifestName, name, manifestName)
		}
	}
	t.Run("git", func(t *testing.T) { manifestOnlyGrew(t, lines) })
}

// manifestOnlyGrew fails when a line of any committed version of the
// manifest is missing from the one on disk.
func manifestOnlyGrew(t *testing.T, current []sumLine) {
	versions, err := committedManifests()
	if err != nil {
		// A source tree without git history cannot show how the manifest
		// grew. CI runs on a full clone, so there it is a failure; a local
		// export or shallow clone skips only this part.
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the manifest's git history cannot be read: %v", err)
		}
		t.Skipf("CI is not set; not checking the manifest against git: %v", err)
	}
	have := map[sumLine]bool{}
	for _, l := range current {
		have[l] = true
	}
	for _, v := range versions {
		for _, l := range v.lines {
			if !have[l] {
				t.Errorf("%s no longer has the line for %s (sha256 %s) that commit %s committed: a captured history was edited, regenerated or deleted. Restore it (git show %s:%s) and add the new behaviour as a new fixture",
					manifestName, l.name, l.sum, v.commit, v.commit, filepath.ToSlash(filepath.Join("test/testdata/histories", l.name)))
			}
		}
	}
	t.Logf("checked against %d committed versions of %s", len(versions), manifestName)
}

// sumLine is one manifest line.
type sumLine struct{ sum, name string }

type manifestVersion struct {
	commit string
	lines  []sumLine
}

func readManifest(t *testing.T, path string) []sumLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: the manifest of the captured histories is missing; it is append-only, restore it from git", err)
	}
	lines, err := parseManifest(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lines
}

// parseManifest reads sha256sum lines; a name may appear once.
func parseManifest(b []byte) ([]sumLine, error) {
	var lines []sumLine
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		m := manifestLine.FindStringSubmatch(sc.Text())
		if m == nil {
			return nil, fmt.Errorf("line %d %q is not `<sha256>  <name>.json`", n, sc.Text())
		}
		if seen[m[2]] {
			return nil, fmt.Errorf("line %d lists %s a second time", n, m[2])
		}
		seen[m[2]] = true
		lines = append(lines, sumLine{sum: m[1], name: m[2]})
	}
	return lines, sc.Err()
}

// committedManifests reads every version of the manifest in the git
// history of this checkout; an error when git or the history is missing.
func committedManifests() ([]manifestVersion, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("git is not installed: %w", err)
	}
	shallow, err := git("rev-parse", "--is-shallow-repository")
	if err != nil {
		return nil, fmt.Errorf("not a git checkout: %w", err)
	}
	if strings.TrimSpace(shallow) == "true" {
		return nil, fmt.Errorf("shallow clone: run git fetch --unshallow to check the manifest's history")
	}
	log, err := git("log", "--format=%H", "--", manifestName)
	if err != nil {
		return nil, err
	}
	var versions []manifestVersion
	for _, c := range strings.Fields(log) {
		b, err := git("show", c+":./"+manifestName)
		if err != nil {
			// The commit deleted the manifest: its parent's version is
			// checked, and the missing file fails readManifest.
			continue
		}
		lines, err := parseManifest([]byte(b))
		if err != nil {
			return nil, fmt.Errorf("%s at commit %s: %w", manifestName, c, err)
		}
		versions = append(versions, manifestVersion{commit: c, lines: lines})
	}
	return versions, nil
}

// git runs git in the histories directory.
func git(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", historiesDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// The manifest parser refuses what sha256sum would not write and a second
// line for one file, so a changed fixture cannot hide behind two lines.
func TestReplayManifestFormat(t *testing.T) {
	sum := hex.EncodeToString(make([]byte, 32))
	good := sum + "  a.json\n" + strings.Replace(sum, "0", "1", 1) + "  b.json\n"
	lines, err := parseManifest([]byte(good))
	if err != nil || !slices.Equal(lines, []sumLine{{sum, "a.json"}, {strings.Replace(sum, "0", "1", 1), "b.json"}}) {
		t.Fatalf("parse %q: %v, %v", good, lines, err)
	}
	for _, bad := range []string{
		sum + " a.json\n",                       // one space
		sum[:63] + "  a.json\n",                 // short hash
		sum + "  ../a.json\n",                   // outside the directory
		sum + "  a.json\n" + sum + "  a.json\n", // listed twice
	} {
		if _, err := parseManifest([]byte(bad)); err == nil {
			t.Errorf("parse %q: accepted", bad)
		}
	}
}

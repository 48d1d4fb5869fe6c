package terraform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"go.temporal.io/sdk/temporal"
)

const (
	metaDir      = ".runbook"
	manifestName = "module.json" // top-level names copied from the module, under metaDir
	appliedDir   = "applied"     // configuration of the last successful apply, under metaDir
	plansDir     = "plans"       // per-plan metadata and configuration, under metaDir
	recordName   = "runbook-last-applied.json"
	cliConfig    = "runbook.tfrc"
	varFileGlob  = "runbook-vars-*.json"
	planPrefix   = "runbook-"
	planSuffix   = ".tfplan"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// busy holds one mutex per working directory in this process. Two activities
// of one worker must not copy files into the same directory at once; the
// state lock only covers OpenTofu's own part.
var busy sync.Map

// workdir is one workspace's working directory, held for one activity call.
type workdir struct {
	dir     string
	ws      Workspace
	bin     string
	observe func(Progress)
}

// open validates the workspace, creates its working directory and takes this
// process's lock on it. The caller must call release.
func (a *Activities) open(ws Workspace) (w *workdir, release func(), err error) {
	if a.StateDir == "" {
		return nil, nil, invalid("the worker has no state directory configured for OpenTofu working directories; set Activities.StateDir")
	}
	for _, n := range []struct{ what, v string }{{"service", ws.Service}, {"environment", ws.Environment}, {"slot", ws.Slot}} {
		if n.what == "slot" && n.v == "" {
			continue
		}
		if !nameRE.MatchString(n.v) || strings.Trim(n.v, ".") == "" {
			return nil, nil, invalid(fmt.Sprintf("%s name %q must be letters, digits, '.', '_' or '-' (it names a directory)", n.what, n.v))
		}
	}
	bin, err := a.binary()
	if err != nil {
		return nil, nil, err
	}
	root, err := filepath.Abs(a.StateDir)
	if err != nil {
		return nil, nil, invalid(fmt.Sprintf("state directory %q: %v", a.StateDir, err))
	}
	w = &workdir{dir: filepath.Join(root, ws.Service, ws.key()), ws: ws, bin: bin, observe: a.observe}
	// 0700 even if it existed: saved plans and the state hold variable values,
	// and OpenTofu creates plan files world-readable.
	if err := os.MkdirAll(filepath.Join(w.dir, metaDir, plansDir), 0o700); err != nil {
		return nil, nil, failed(fmt.Sprintf("create working directory %s: %v", w.dir, err), true)
	}
	if err := os.Chmod(w.dir, 0o700); err != nil {
		return nil, nil, failed(fmt.Sprintf("working directory %s: %v", w.dir, err), true)
	}
	mu, _ := busy.LoadOrStore(w.dir, &sync.Mutex{})
	if !mu.(*sync.Mutex).TryLock() {
		return nil, nil, temporal.NewApplicationError(fmt.Sprintf(
			"%s: another activity on this worker is using the working directory %s; retried when it finishes", w.name(), w.dir), ErrLocked)
	}
	removeVarFiles(w.dir)
	return w, mu.(*sync.Mutex).Unlock, nil
}

// name is "service/environment" for messages.
func (w *workdir) name() string { return w.ws.Service + "/" + w.ws.key() }

// key names the workspace within its service: the environment, or
// environment@slot for an environment whose slots have their own state.
func (ws Workspace) key() string {
	if ws.Slot == "" {
		return ws.Environment
	}
	return ws.Environment + "@" + ws.Slot
}

func (w *workdir) meta(parts ...string) string {
	return filepath.Join(append([]string{w.dir, metaDir}, parts...)...)
}

// useModule copies the module of the workspace into the working directory.
func (w *workdir) useModule() (string, error) {
	m := w.ws.Module
	if m == "" || !filepath.IsAbs(m) {
		return "", invalid(fmt.Sprintf("%s: module path %q must be an absolute directory", w.name(), m))
	}
	if fi, err := os.Stat(m); err != nil || !fi.IsDir() {
		return "", invalid(fmt.Sprintf("%s: module directory %s does not exist on this worker; check the runbook's module path", w.name(), m))
	}
	return w.useConfig(m)
}

// useApplied copies the configuration of the last successful apply into the
// working directory, or the workspace's module when there is none yet.
func (w *workdir) useApplied() (string, error) {
	if fi, err := os.Stat(w.meta(appliedDir)); err == nil && fi.IsDir() {
		return w.useConfig(w.meta(appliedDir))
	}
	return w.useModule()
}

// useConfig replaces the configuration files of the working directory with
// those of src - removing files an earlier copy brought that src no longer
// has, so the module as it is now wins - and returns src's digest.
func (w *workdir) useConfig(src string) (string, error) {
	var old []string
	if b, err := os.ReadFile(w.meta(manifestName)); err == nil {
		_ = json.Unmarshal(b, &old)
	}
	for _, name := range old {
		// Only plain top-level names: a damaged manifest must not reach the
		// state, .terraform or the lock file (init keeps that one current).
		if filepath.Base(name) == name && isModuleEntry(name, true) {
			if err := os.RemoveAll(filepath.Join(w.dir, name)); err != nil {
				return "", failed(fmt.Sprintf("%s: remove old module file: %v", w.name(), err), true)
			}
		}
	}
	digest, names, err := copyConfig(src, w.dir)
	if err != nil {
		return "", failed(fmt.Sprintf("%s: copy module %s: %v", w.name(), src, err), true)
	}
	b, _ := json.Marshal(names)
	if err := writeFileAtomic(w.meta(manifestName), b); err != nil {
		return "", failed(fmt.Sprintf("%s: %v", w.name(), err), true)
	}
	return digest, nil
}

// isModuleEntry tells which top-level entries of a module are configuration:
// the files OpenTofu reads and subdirectories (local modules, templates,
// scripts). Hidden directories, .terraform and state are not.
func isModuleEntry(name string, dir bool) bool {
	if dir {
		return !strings.HasPrefix(name, ".") && name != "terraform.tfstate.d"
	}
	if name == ".terraform.lock.hcl" {
		return true
	}
	for _, ext := range []string{".tf", ".tf.json", ".tftpl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// copyConfig copies the configuration entries of src into dst and returns
// the digest of what it copied and the top-level names.
func copyConfig(src, dst string) (string, []string, error) {
	h := sha256.New()
	entries, err := os.ReadDir(src) // sorted, so the digest is stable
	if err != nil {
		return "", nil, err
	}
	var names []string
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(src, e.Name())) // follows symlinks
		if err != nil || !isModuleEntry(e.Name(), fi.IsDir()) {
			continue
		}
		if err := copyEntry(h, src, dst, e.Name(), fi.IsDir()); err != nil {
			return "", nil, err
		}
		names = append(names, e.Name())
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), names, nil
}

// copyEntry copies rel (a file, or a directory tree minus hidden entries and
// state files) from src to dst, hashing paths and contents into h.
func copyEntry(h hash.Hash, src, dst, rel string, dir bool) error {
	if !dir {
		return copyFile(h, src, dst, rel)
	}
	if err := os.MkdirAll(filepath.Join(dst, rel), 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(src, rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), ".tfstate") {
			continue
		}
		fi, err := os.Stat(filepath.Join(src, rel, e.Name()))
		if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
			continue
		}
		if err := copyEntry(h, src, dst, filepath.Join(rel, e.Name()), fi.IsDir()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(h hash.Hash, src, dst, rel string) error {
	in, err := os.Open(filepath.Join(src, rel))
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(dst, rel), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), fi.Size())
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// writeFileAtomic replaces path with data (0600) so a crash leaves the old or
// the new content, never a torn file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// removeVarFiles deletes var files a killed worker left behind: they hold
// resolved secrets.
func removeVarFiles(dir string) {
	left, _ := filepath.Glob(filepath.Join(dir, varFileGlob))
	for _, f := range left {
		_ = os.Remove(f)
	}
}

// invalid is the non-retryable error for input that can never plan.
func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrInvalid, nil)
}

// failed is ErrFailed, retryable or not.
func failed(msg string, retryable bool) error {
	if retryable {
		return temporal.NewApplicationError(msg, ErrFailed)
	}
	return temporal.NewNonRetryableApplicationError(msg, ErrFailed, nil)
}

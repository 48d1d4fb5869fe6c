package edgeproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// MaxWeight is the largest weight a backend may carry; weights are relative,
// so 100 reads naturally as a percentage when they add up to 100.
const MaxWeight = 100

// BackendSpec is one backend as the state file and the admin API hold it.
type BackendSpec struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// state is the document persisted in the state file.
type state struct {
	Backends []BackendSpec `json:"backends"`
}

// ErrInvalid marks a request the proxy refuses as written (bad name, URL or
// weight; unknown backend); the admin API answers it with 400 or 404.
var ErrInvalid = errors.New("invalid")

// ErrNotFound marks an unknown backend name.
var ErrNotFound = errors.New("backend not found")

// Names go into metric labels and URL paths, so they stay plain.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// validate checks a spec before anything is changed or written.
func (b BackendSpec) validate() error {
	if !nameRE.MatchString(b.Name) {
		return fmt.Errorf("%w: backend name %q: use 1-64 letters, digits, '_', '.', '-'", ErrInvalid, b.Name)
	}
	if err := validateWeight(b.Name, b.Weight); err != nil {
		return err
	}
	_, err := parseBackendURL(b.URL)
	return err
}

func validateWeight(name string, w int) error {
	if w < 0 || w > MaxWeight {
		return fmt.Errorf("%w: backend %q: weight %d out of range 0..%d", ErrInvalid, name, w, MaxWeight)
	}
	return nil
}

// parseBackendURL accepts absolute http(s) URLs with a host.
func parseBackendURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: backend url %q: want an absolute http:// or https:// URL", ErrInvalid, raw)
	}
	return u, nil
}

// loadState reads the state file; a missing file is an empty state so the
// first start needs no setup.
func loadState(path string) (state, error) {
	var st state
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("state file %s: %w (fix or remove it)", path, err)
	}
	for _, b := range st.Backends {
		if err := b.validate(); err != nil {
			return st, fmt.Errorf("state file %s: %w", path, err)
		}
	}
	return st, nil
}

// saveState writes the state atomically: a temporary file in the same
// directory, fsync, rename, then fsync of the directory so the rename itself
// survives a crash. A reader never sees a half-written file.
func saveState(path string, st state) error {
	sort.Slice(st.Backends, func(i, j int) bool { return st.Backends[i].Name < st.Backends[j].Name })
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".edge-state-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := writeSync(f, append(data, '\n')); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func writeSync(f *os.File, data []byte) error {
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

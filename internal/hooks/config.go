// Package hooks starts releases from signed webhook deliveries: a tag or
// release event of GitHub or GitLab, or an OCI registry's push notification,
// posted to the worker's POST /hooks/release. A trigger file
// (RUNBOOK_TRIGGERS_FILE) maps each event to a runbook; the release it
// starts is an ordinary one (same gates, windows and freezes) whose
// requester is trigger:<name> and whose ReleaseInput.Trigger names the
// delivery, so its status and audit say what started it.
package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/runbooks"
)

// Sources a trigger listens to.
const (
	SourceGitHub = "github"
	SourceGitLab = "gitlab"
	SourceOCI    = "oci"
)

// Git events a trigger starts on.
const (
	EventTag     = "tag"     // a tag pushed
	EventRelease = "release" // a release published (GitHub) or created (GitLab)
)

// How a trigger derives the release's version from the tag.
const (
	VersionStripV = "tag-without-v" // the default: v1.4.2 → 1.4.2
	VersionTag    = "tag"           // the tag as it is
)

// Where a trigger takes the artifact's digest from.
const (
	DigestRunbook = "runbook" // artifact.digest of the runbook
	DigestFile    = "file"    // sha256 of the local artifact file, computed at the delivery
	DigestEvent   = "event"   // the pushed manifest's digest (oci only)
)

// maxFileSize bounds the trigger file, as runbooks.MaxSize bounds a runbook.
const maxFileSize = 1 << 20

// Trigger is one entry of the trigger file.
type Trigger struct {
	Name       string   `yaml:"name"`
	Source     string   `yaml:"source"`
	Repository string   `yaml:"repository"`
	Events     []string `yaml:"events,omitempty"`
	Tags       string   `yaml:"tags,omitempty"`
	Version    string   `yaml:"version,omitempty"`
	Runbook    string   `yaml:"runbook"`
	Digest     string   `yaml:"digest,omitempty"`
	Secret     string   `yaml:"secret"`

	// secret is the resolved value of Secret; it never leaves the package.
	secret string
	// line is where the trigger starts in its file, for errors.
	line int
}

// File is a parsed trigger file.
type File struct {
	Path     string
	Triggers []Trigger
}

type fileDoc struct {
	Triggers []Trigger `yaml:"triggers"`
}

var (
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	envRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Load reads, checks and resolves the trigger file at p: every problem is
// reported with the file and line of its trigger, each trigger's runbook is
// loaded and validated, and each secret is read from the worker's
// environment (getenv nil means os.LookupEnv).
func Load(p string, getenv func(string) (string, bool)) (*File, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	data, err := readLimited(p)
	if err != nil {
		return nil, err
	}
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty; write triggers: [{name, source, repository, runbook, secret}, ...]", p)
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(doc.Triggers) == 0 {
		return nil, fmt.Errorf("%s: no triggers; write triggers: [{name, source, repository, runbook, secret}, ...]", p)
	}
	setLines(data, doc.Triggers)
	var problems []string
	seen := map[string]bool{}
	for i := range doc.Triggers {
		t := &doc.Triggers[i]
		for _, msg := range t.check(getenv) {
			problems = append(problems, fmt.Sprintf("%s:%d: trigger %q: %s", p, t.line, t.Name, msg))
		}
		if seen[t.Name] {
			problems = append(problems, fmt.Sprintf("%s:%d: trigger %q: the name is used twice; names must be unique", p, t.line, t.Name))
		}
		seen[t.Name] = true
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return &File{Path: p, Triggers: doc.Triggers}, nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("RUNBOOK_TRIGGERS_FILE: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("RUNBOOK_TRIGGERS_FILE: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; is it the trigger file?", p, maxFileSize)
	}
	return data, nil
}

// setLines records the line each trigger starts on (a second, untyped
// decode: the typed one has no positions).
func setLines(data []byte, ts []Trigger) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "triggers" {
			continue
		}
		for j, n := range m.Content[i+1].Content {
			if j < len(ts) {
				ts[j].line = n.Line
			}
		}
	}
}

// check fills the defaults and returns what is wrong with t.
func (t *Trigger) check(getenv func(string) (string, bool)) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if !nameRe.MatchString(t.Name) {
		add("name must be lowercase letters, digits and dashes (it names the requester trigger:<name>)")
	}
	if t.Repository == "" {
		add("repository is required (github owner/name, gitlab group/project, or the OCI repository)")
	}
	if t.Tags == "" {
		t.Tags = "*"
	}
	if _, err := path.Match(t.Tags, "x"); err != nil {
		add("tags %q is not a valid glob: %v", t.Tags, err)
	}
	if t.Version == "" {
		t.Version = VersionStripV
	}
	if t.Version != VersionStripV && t.Version != VersionTag {
		add("version must be %s (the default) or %s", VersionStripV, VersionTag)
	}
	out = append(out, t.checkSource()...)
	out = append(out, t.checkSecret(getenv)...)
	if t.Runbook == "" {
		add("runbook is required: the path of the runbook on the worker's host")
	} else if _, err := t.LoadRunbook(); err != nil {
		add("%v", err)
	}
	return out
}

// checkSource checks the source, its events and its digest rule.
func (t *Trigger) checkSource() []string {
	switch t.Source {
	case SourceGitHub, SourceGitLab:
		if len(t.Events) == 0 {
			t.Events = []string{EventTag}
		}
		for _, e := range t.Events {
			if e != EventTag && e != EventRelease {
				return []string{fmt.Sprintf("event %q: a %s trigger starts on %s or %s", e, t.Source, EventTag, EventRelease)}
			}
		}
		if t.Digest != "" && t.Digest != DigestRunbook && t.Digest != DigestFile {
			return []string{fmt.Sprintf("digest must be %s or %s for a %s trigger (only an oci push carries a digest)", DigestRunbook, DigestFile, t.Source)}
		}
	case SourceOCI:
		if len(t.Events) > 0 {
			return []string{"events: an oci trigger starts on a pushed tag only; remove events"}
		}
		if t.Digest == "" {
			t.Digest = DigestEvent
		}
		if t.Digest != DigestEvent && t.Digest != DigestRunbook {
			return []string{fmt.Sprintf("digest must be %s (the default) or %s for an oci trigger", DigestEvent, DigestRunbook)}
		}
	default:
		return []string{fmt.Sprintf("source %q: use github, gitlab or oci", t.Source)}
	}
	return nil
}

// checkSecret resolves env:NAME. The secret is the worker's, not a
// runbook's: a name RUNBOOK_ENV_ALLOW hands to runbooks is refused, since
// any runbook could then read it and sign deliveries of its own.
func (t *Trigger) checkSecret(getenv func(string) (string, bool)) []string {
	name, ok := strings.CutPrefix(t.Secret, secretref.Prefix)
	switch {
	case t.Secret == "":
		return []string{"secret is required: env:NAME, the variable holding the webhook's shared secret"}
	case !ok:
		return []string{"secret must be env:NAME; a secret written in the trigger file is refused"}
	case !envRe.MatchString(name):
		return []string{fmt.Sprintf("secret env:%s is not an environment variable name", name)}
	case secretref.Check(name) == nil:
		return []string{fmt.Sprintf("secret env:%s is readable by runbooks (%s allows it), so any runbook could sign deliveries; use a variable %s does not list", name, secretref.AllowEnv, secretref.AllowEnv)}
	}
	v, set := getenv(name)
	if !set || v == "" {
		return []string{fmt.Sprintf("secret env:%s is not set in the worker's environment", name)}
	}
	t.secret = v
	return nil
}

// LoadRunbook loads and validates the trigger's runbook, and refuses one
// that a trigger could never release: an environment that needs signed
// decisions needs a signed deploy, and a trigger has no person's key.
func (t *Trigger) LoadRunbook() (*runbooks.Runbook, error) {
	rb, err := runbooks.Load(t.Runbook)
	if err != nil {
		return nil, fmt.Errorf("runbook %s: %w", t.Runbook, err)
	}
	var signed []string
	for i := range rb.Environments {
		if rb.Policy.IdentityMode(&rb.Environments[i]) == runbooks.IdentitySigned {
			signed = append(signed, rb.Environments[i].Name)
		}
	}
	if len(signed) > 0 {
		return nil, fmt.Errorf("runbook %s: environment %s needs signed decisions (identity: signed, the default for production), "+
			"and a webhook trigger cannot sign a deploy; release it with `runbook deploy`, or set identity: unsigned for it",
			t.Runbook, strings.Join(signed, ", "))
	}
	if t.Source == SourceOCI && t.Digest == DigestEvent && !strings.HasPrefix(rb.Artifact.Reference, "oci://") {
		return nil, fmt.Errorf("runbook %s: artifact.reference %s is not oci://; an oci trigger's pushed digest pins an image", t.Runbook, rb.Artifact.Reference)
	}
	return rb, nil
}

// wantsEvent reports whether t starts on git event e.
func (t *Trigger) wantsEvent(e string) bool { return slices.Contains(t.Events, e) }

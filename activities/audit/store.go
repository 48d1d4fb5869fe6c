package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/runbooks"
)

// Reader reads and verifies an audit log.
type Reader interface {
	// Read returns the entries matching filter, in order, verifying the
	// whole chain as it goes; on a broken chain it returns the entries before
	// the break together with a *ChainError.
	Read(ctx context.Context, filter Filter) ([]Entry, error)
	// Verify re-computes every hash and link; a broken chain is a *ChainError
	// naming the first broken entry.
	Verify(ctx context.Context) (VerifyResult, error)
	// String names the log for people, without secrets.
	String() string
	// Close releases the log.
	Close() error
}

// Store is an audit log that can be written: the file Log or Postgres. Both
// keep the same chain and the same rules: Append is idempotent on Entry.ID and
// serialised across processes; Prune removes a prefix and anchors the rest.
type Store interface {
	Reader
	// Append writes e as the next entry and returns it with Seq, Prev and
	// Hash set, or returns the stored entry if e.ID is already in the log.
	Append(ctx context.Context, e Entry) (Entry, error)
	// Prune removes the oldest entries as PruneInput says and appends an
	// ActionPruned entry recording them and the anchor.
	Prune(ctx context.Context, in PruneInput) (PruneResult, error)
}

var (
	_ Store  = (*Log)(nil)
	_ Store  = (*Postgres)(nil)
	_ Reader = File("")
)

// Environment variables the worker and the CLI read (see worker.LoadConfig).
const (
	// EnvDSN holds a PostgreSQL connection string; when set, the audit log
	// lives in PostgreSQL instead of the file.
	EnvDSN = "RUNBOOK_AUDIT_DSN"
	// EnvDSNFile names a file holding the connection string (a mounted secret).
	EnvDSNFile = "RUNBOOK_AUDIT_DSN_FILE"
	// EnvRetention, e.g. 400d, makes the worker prune older entries at start
	// and daily.
	EnvRetention = "RUNBOOK_AUDIT_RETENTION"
)

// KeyConfig is where the worker's signing key and checkpoint are: the file
// names of EnvKeyFile and EnvCheckpoint. The zero value signs nothing.
type KeyConfig struct {
	KeyFile    string
	Checkpoint string
}

// OpenStore opens the log the worker writes to: PostgreSQL when dsn is set,
// else the file at path, signing with the key keys names. In PostgreSQL it
// refuses a role that could alter the log (ErrOwnerRole) unless
// EnvDSNAllowOwner is 1, and a signing store keeps its checkpoints in the
// table runbook_audit_checkpoint and, if keys.Checkpoint is set, in that
// file as well. Like Open, it verifies the whole chain first (and, signing,
// that the log reaches its checkpoints), so a tampered log is noticed when
// the worker starts, not at the next release.
func OpenStore(ctx context.Context, path string, dsn DSN, keys KeyConfig) (Store, error) {
	var signer *Signer
	if keys.KeyFile != "" {
		s, err := LoadSigner(keys.KeyFile)
		if err != nil {
			return nil, err
		}
		signer = s
	}
	if dsn == "" && signer != nil {
		return OpenSigned(path, Signing{Signer: signer, Checkpoint: keys.Checkpoint})
	}
	if dsn == "" {
		return Open(path)
	}
	// The writer must not be able to undo what it writes (EnvDSNAllowOwner).
	p, err := openPostgres(ctx, string(dsn), &roleRule{allowOwner: os.Getenv(EnvDSNAllowOwner) == "1"})
	if err != nil {
		return nil, err
	}
	if _, err := p.Verify(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("audit log %s: %w; run `runbook audit verify` and restore the table from backup", p, err)
	}
	if signer == nil {
		return p, nil
	}
	p.signing = Signing{Signer: signer, Checkpoint: keys.Checkpoint}
	slog.Info("audit database: signing entries", "log", p.name, "key_id", signer.KeyID(), "checkpoint_file", keys.Checkpoint)
	if err := p.syncCheckpoints(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("%w; nothing is appended until it is restored from backup", err)
	}
	return p, nil
}

// OpenReader opens the log for reading: PostgreSQL when dsn is set, else the
// file at path, which is neither created nor repaired.
func OpenReader(ctx context.Context, path string, dsn DSN) (Reader, error) {
	if dsn == "" {
		return File(path), nil
	}
	return OpenPostgres(ctx, string(dsn))
}

// DSN is a PostgreSQL connection string (a URL or key=value pairs). It holds
// a password, so it prints, logs and marshals redacted; pass string(dsn) only
// to OpenPostgres.
type DSN string

// String returns the DSN with its password replaced by xxxxx.
func (d DSN) String() string { return redactDSN(string(d)) }

// GoString keeps %#v redacted too.
func (d DSN) GoString() string { return strconv.Quote(d.String()) }

// LogValue keeps slog redacted.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// MarshalText keeps JSON and other encoders redacted.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LoadDSN returns the DSN from the value of EnvDSN or, if that is empty,
// from the file EnvDSNFile names. Errors never quote the file's content.
func LoadDSN(value, file string) (DSN, error) {
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("set %s or %s, not both", EnvDSN, EnvDSNFile)
	case file == "":
		return DSN(strings.TrimSpace(value)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvDSNFile, err)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("%s: %s is empty; put the PostgreSQL connection string in it", EnvDSNFile, file)
	}
	return DSN(dsn), nil
}

// ParseRetention reads a retention such as 400d or 9600h; "" means keep
// everything.
func ParseRetention(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := runbooks.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: write how long to keep entries, e.g. 400d", EnvRetention, s)
	}
	return d.D(), nil
}

// kvPassword finds the password in a key=value DSN, quoted or not.
var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// redactDSN hides the password of a URL or key=value DSN.
func redactDSN(s string) string {
	if !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
		return kvPassword.ReplaceAllString(s, "${1}xxxxx")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://(a DSN that does not parse as a URL; not shown because it holds a password)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// passwords returns the forms the DSN's password may take in a message.
func passwords(dsn string) []string {
	var pw []string
	if u, err := url.Parse(dsn); err == nil {
		if p, ok := u.User.Password(); ok {
			pw = append(pw, p)
		}
		if p := u.Query().Get("password"); p != "" {
			pw = append(pw, p)
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		pw = append(pw, strings.Trim(m[2], "'"))
	}
	var out []string
	for _, p := range pw {
		if len(p) >= 3 {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p), url.UserPassword("", p).String()[1:])
		}
	}
	return out
}

// redactedError hides a DSN's password in an error from a driver, which may
// quote the connection string it was given. It does not unwrap: the errors
// inside may quote it too.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// scrub returns err with every form of the DSN's password replaced.
func scrub(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range passwords(dsn) {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg}
}

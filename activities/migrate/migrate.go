// Package migrate runs the runbook's migrate step with golang-migrate on
// PostgreSQL (pgx v5) or SQLite (modernc, pure Go): read the schema version,
// apply migrations up to a version, go back down to a recorded version, and
// force the version after a failed migration was repaired by hand.
//
// Migrations are golang-migrate files, NNN_name.up.sql and NNN_name.down.sql,
// in one directory. Classify sorts each up file into expand (additive: safe
// while the old version still runs) or contract (drops, renames, rewrites:
// only once no old version reads the schema), so the workflow runs the
// expand ones before the traffic moves and the contract ones after, behind
// an approval. Two comment lines in an up file steer it:
//
//	-- runbook: expand       the author vouches the file is additive; Classify
//	                         calls it expand whatever its statements look like
//	-- runbook: reversible   the .down.sql restores the schema without losing
//	                         data, so Down may run it in a compensation
//
// Each file runs as one statement batch in one transaction (Postgres runs
// a multi-statement query as an implicit transaction; the SQLite driver
// wraps it), so a failing file leaves nothing half-applied unless it
// commits by itself. CREATE INDEX CONCURRENTLY cannot run in a transaction:
// give it a file of its own.
//
// The connection string is a secret: Target.URL only says where to read it
// on the worker (env:NAME or file:PATH), and neither it nor its password
// appears in any result, error, heartbeat or log line.
//
// Concurrency: golang-migrate holds a Postgres advisory lock while it
// migrates, and this package adds an flock(2) on <database file>.migrate-lock
// for SQLite, so two workers migrating one database take turns. Waiting for
// the lock is bounded (Activities.LockTimeout, 15s by default); a migrator
// that gives up returns the retryable ErrLocked.
package migrate

import "time"

// Error types, visible in the Temporal UI.
const (
	// ErrDirty: a migration failed, or an earlier one was interrupted, and
	// the database is marked dirty. Not retried: a person checks the schema,
	// fixes the file and calls Force. Details: DirtyDetails.
	ErrDirty = "MigrationDirty"
	// ErrLocked: another migrator held the lock for longer than the lock
	// timeout. Retried.
	ErrLocked = "MigrationLocked"
	// ErrContract: Up would apply a contract migration while AllowContract
	// is false. Not retried; nothing was applied. Details: []Migration, the
	// contract migrations in the way.
	ErrContract = "MigrationContract"
	// ErrIrreversible: Down would revert a migration that is not marked
	// reversible. Not retried; nothing was reverted. Details: []Migration.
	ErrIrreversible = "MigrationIrreversible"
	// ErrInvalid: the target can never work as written (bad reference,
	// missing environment variable, unknown driver, bad migrations
	// directory, unknown version). Not retried.
	ErrInvalid = "MigrationInvalid"
	// ErrFailed: the database could not be reached or answered with an
	// error outside a migration. Retried.
	ErrFailed = "MigrationFailed"
)

// Migration classes.
const (
	Expand   = "expand"
	Contract = "contract"
)

// DefaultLockTimeout bounds the wait for another migrator's lock.
const DefaultLockTimeout = 15 * time.Second

// Activities runs migrations. The zero value is ready to use.
type Activities struct {
	// LockTimeout bounds how long a call waits for another migrator's lock
	// (0 = DefaultLockTimeout). On Postgres it is also the session's
	// lock_timeout, so a migration statement waiting longer than this for a
	// table lock fails instead of queueing every query behind it.
	LockTimeout time.Duration

	// observe, when set, sees every progress change as it happens; tests use
	// it because the SDK batches heartbeats.
	observe func(Progress)
}

// Target names a database and its migrations.
type Target struct {
	// URL is a reference to the connection string, never the string itself:
	// "env:NAME" (the worker's environment variable NAME) or "file:PATH"
	// (the first line of the file). Postgres connection strings are URLs
	// (postgres://, postgresql:// or pgx5://); SQLite ones are sqlite://PATH
	// or a plain file path.
	URL string
	// Driver is "postgres" or "sqlite"; "" takes it from the connection
	// string's scheme.
	Driver string
	// Migrations is the absolute directory of the migration files.
	Migrations string
}

// Migration is one up file of the migrations directory, classified.
type Migration struct {
	Version uint
	Name    string // the part of the file name between the version and .up.sql
	File    string // the up file's base name
	Class   string // Expand or Contract
	// Reasons say why it is Contract, one per statement part, as
	// "003_drop_note.up.sql:2: DROP COLUMN". Empty for Expand.
	Reasons []string
	// Statements holds, for each reason, the statement it is about (on one
	// line, cut at 200 characters).
	Statements []string `json:",omitempty"`
	// Reversible: there is a .down.sql and the up file has the line
	// "-- runbook: reversible".
	Reversible bool
}

// StatusInput names the database to read.
type StatusInput struct{ Target }

// StatusResult is the schema version of a database and its migrations on
// either side of it.
type StatusResult struct {
	Version uint
	// Dirty: the migration to Version failed or was interrupted.
	Dirty bool
	// HasVersion is false on a database no migration ran on yet.
	HasVersion bool
	Pending    []Migration // versions above Version, in order
	Applied    []Migration // versions up to Version (including a dirty one), in order
}

// UpInput asks to apply migrations.
type UpInput struct {
	Target
	// To is the version to migrate to; 0 means the latest. Up never goes
	// down: a database already past To is left as it is.
	To uint
	// AllowContract lets Up apply contract migrations; without it Up
	// refuses with ErrContract before applying anything.
	AllowContract bool
}

// UpResult reports an Up. From and HadVersion are what a compensation needs
// to go back: Down{To: From}, or Down{ToNothing: true} when !HadVersion.
type UpResult struct {
	From, To   uint
	HadVersion bool
	Applied    []Migration // applied by this call, in order
}

// DownInput asks to revert migrations.
type DownInput struct {
	Target
	// To is the version to go back to; nothing is done when the database
	// is at or below it already.
	To uint
	// ToNothing reverts every migration (the release was the first one).
	ToNothing bool
}

// DownResult reports a Down; To is 0 after ToNothing.
type DownResult struct {
	From, To uint
}

// ForceInput sets the recorded version without running anything.
type ForceInput struct {
	Target
	// Version is a version of the migrations directory, or -1 for none
	// (as if no migration had run).
	Version int
}

// ForceResult is the version recorded afterwards (-1: none).
type ForceResult struct {
	Version int
}

// DirtyDetails are the details of an ErrDirty error.
type DirtyDetails struct {
	Version   uint   // the migration that failed (or was interrupted)
	File      string // its file, up or down
	Statement string // the statement that failed, when the database says where
	Error     string // the database's message, without secrets
}

// Progress is the heartbeat detail of Up and Down: migrations done out of
// those to run, and the file running now.
type Progress struct {
	Phase   string // up, down
	Done    int
	Total   int
	Current string
}

package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is an audit log in a PostgreSQL table (runbook_audit), for a team
// whose workers run on several hosts. It keeps the same chain as the file:
// appends are serialised across processes by a transaction-scoped advisory
// lock, so two workers never fork the chain, and idempotent on Entry.ID.
type Postgres struct {
	pool *pgxpool.Pool
	dsn  string // only to scrub the password from driver errors
	name string // host and database, for messages
	// state is which parts of the current schema the database has.
	state pgSchemaState
	// signing signs appended rows and checkpoints them, in the table
	// runbook_audit_checkpoint and, if Checkpoint is set, in that file.
	signing Signing
}

// OpenPostgres connects to the database dsn names and creates the table, its
// trigger and the prune function if the table is missing. The DSN is a
// secret: errors and String never show its password. It does not check the
// role it connects as: readers (audit verify, export) may be anyone who can
// SELECT; the worker opens its store through OpenStore, which does.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	return openPostgres(ctx, dsn, nil)
}

// openPostgres is OpenPostgres; a non-nil role runs its checks (see
// checkWorkerRole) before the schema is created or used.
func openPostgres(ctx context.Context, dsn string, role *roleRule) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("audit database %s: %w; check %s", redactDSN(dsn), scrub(err, dsn), EnvDSN)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 15 * time.Second
	}
	cc := cfg.ConnConfig
	p := &Postgres{dsn: dsn, name: fmt.Sprintf("postgres://%s@%s/%s", cc.User, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), cc.Database)}
	if p.pool, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
		err = p.pool.Ping(ctx)
	}
	if err == nil && role != nil {
		err = p.checkWorkerRole(ctx, *role)
	}
	if err == nil {
		// Only a worker allowed to own the table upgrades an old one; readers
		// and runbook_worker leave the schema as it is.
		err = p.ensureSchema(ctx, role != nil && role.allowOwner)
	}
	if errors.Is(err, ErrOwnerRole) || errors.Is(err, ErrSchemaOutdated) {
		p.pool.Close()
		return nil, fmt.Errorf("audit database %s: %w", p.name, err)
	}
	if err != nil {
		if p.pool != nil {
			p.pool.Close()
		}
		return nil, fmt.Errorf("audit database %s: %w; check %s and that the database is up", p.name, scrub(err, dsn), EnvDSN)
	}
	return p, nil
}

// ensureSchema creates the tables once, and with upgrade adds what a table
// made by an older runbook lacks (the settings holding the prune's minimum
// age and the prune function enforcing it, the signature columns, the
// checkpoint table). Workers starting together take the append lock, so only
// one of them creates it. A role that may not create tables works as long as
// the owner created them first.
func (p *Postgres) ensureSchema(ctx context.Context, upgrade bool) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", appendLockKey); err != nil {
			return err
		}
		var exists bool
		var schema, tableSchema, owner string
		if err := tx.QueryRow(ctx, `SELECT to_regclass('runbook_audit') IS NOT NULL,
			current_schema(), coalesce(n.nspname::text, ''), coalesce(pg_get_userbyid(c.relowner)::text, '')
			FROM (SELECT 1) one LEFT JOIN pg_class c ON c.oid = to_regclass('runbook_audit')
			LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`).Scan(&exists, &schema, &tableSchema, &owner); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, pgSchemaIn(schema)); err != nil {
				return fmt.Errorf("create table runbook_audit: %w", err)
			}
			p.state = pgSchemaState{guarded: true, signed: true, checkpoints: true}
			return nil
		}
		st := &p.state
		if err := tx.QueryRow(ctx, pgStateQuery).Scan(&st.guarded, &st.signed, &st.checkpoints); err != nil {
			return err
		}
		if st.current() || !upgrade {
			return nil
		}
		if _, err := tx.Exec(ctx, pgUpgrade(*st, tableSchema, owner)); err != nil {
			return fmt.Errorf("upgrade the older runbook_audit, which lacks %s: %w", st.missing(), err)
		}
		*st = pgSchemaState{guarded: true, signed: true, checkpoints: true}
		return nil
	})
}

// String names the database without the password.
func (p *Postgres) String() string { return p.name }

// Close closes the connections.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// Append writes e as the next entry and returns it with Seq, Prev and Hash
// set, or returns the stored entry if e.ID is already in the table, written
// by any worker. It checks the stored tail before linking to it. A signing
// store signs the row and inserts a signed checkpoint at it in the same
// transaction, after checking that the table still reaches the last one.
func (p *Postgres) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := validate(e); err != nil {
		return Entry{}, err
	}
	out, err := p.AppendAll(ctx, []Entry{e})
	if err != nil {
		return Entry{}, err
	}
	return out[0], nil
}

// AppendAll appends es in order, as Append does each, in one transaction:
// no other append comes between them, and an invalid entry fails them all
// before any is written.
func (p *Postgres) AppendAll(ctx context.Context, es []Entry) ([]Entry, error) {
	for _, e := range es {
		if err := validate(e); err != nil {
			return nil, err
		}
	}
	out := make([]Entry, len(es))
	var cp Checkpoint
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", appendLockKey); err != nil {
			return err
		}
		for i, e := range es {
			var err error
			var c Checkpoint
			if out[i], c, err = p.appendTx(ctx, tx, e); err != nil {
				return err
			}
			if c.Seq > 0 {
				cp = c
			}
		}
		return nil
	})
	if err != nil {
		return nil, p.wrap("append to", err)
	}
	p.afterAppend(cp)
	return out, nil
}

// appendTx appends e in tx, which holds the append lock, or returns the
// stored entry if its ID is there.
func (p *Postgres) appendTx(ctx context.Context, tx pgx.Tx, e Entry) (Entry, Checkpoint, error) {
	// Under the lock every earlier append has committed, so this sees it.
	stored, found, err := p.queryEntry(ctx, tx, "WHERE id = $1", e.ID)
	if err != nil || found {
		return stored, Checkpoint{}, err
	}
	tail, _, err := p.queryEntry(ctx, tx, "ORDER BY seq DESC LIMIT 1")
	if err != nil {
		return Entry{}, Checkpoint{}, err
	}
	e.Seq, e.Prev, e.Time, e.KeyID, e.Sig = tail.Seq+1, tail.Hash, e.Time.UTC(), "", ""
	return p.insert(ctx, tx, e, tail)
}

// insert signs (if the store signs) and seals e, the successor of tail, and
// writes its row and its checkpoint.
func (p *Postgres) insert(ctx context.Context, tx pgx.Tx, e Entry, tail Entry) (Entry, Checkpoint, error) {
	s := p.signing.Signer
	if s != nil {
		if err := p.checkCheckpoints(ctx, tx, tail); err != nil {
			return Entry{}, Checkpoint{}, err
		}
		e.KeyID = s.id
	} else if !p.state.signed {
		return Entry{}, Checkpoint{}, fmt.Errorf("%w: it lacks %s", ErrSchemaOutdated, p.state.missing())
	}
	e, body, err := seal(e)
	if err != nil {
		return Entry{}, Checkpoint{}, err
	}
	if s != nil {
		e.Sig = s.sign(entryMessage(e.Hash))
	}
	_, err = tx.Exec(ctx, `INSERT INTO runbook_audit (`+pgColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		e.Seq, e.ID, e.Time, e.Actor, e.Action, e.Release, e.Service, e.Environment, e.Version, e.Step, e.Outcome,
		e.Detail, e.Channel, e.Digest, e.Commit, e.BreakGlass, e.Prev, e.Hash, string(body), e.KeyID, e.Sig)
	if err != nil || s == nil {
		return e, Checkpoint{}, err
	}
	cp, err := insertCheckpoint(ctx, tx, s, e.Seq, e.Hash)
	return e, cp, err
}

// Read implements Reader: it reads the whole table in one snapshot, verifying
// the chain, and returns the entries matching filter.
func (p *Postgres) Read(ctx context.Context, filter Filter) ([]Entry, error) {
	var out []Entry
	_, err := p.scanAll(ctx, p.pool, func(e Entry) {
		if filter.match(e) {
			out = append(out, e)
		}
	})
	if brokenStart(err) {
		return nil, err
	}
	return out, err
}

// Verify implements Reader: it re-hashes every stored record, checks that
// the columns agree with it, and checks every link and the anchor.
func (p *Postgres) Verify(ctx context.Context) (VerifyResult, error) {
	var n int64
	c, err := p.scanAll(ctx, p.pool, func(Entry) { n++ })
	return c.result(n, err), err
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// scanAll reads every row in seq order in one statement (one snapshot) and
// checks the chain, handing each entry to fn. It returns a *ChainError naming
// the first broken entry's seq.
func (p *Postgres) scanAll(ctx context.Context, q querier, fn func(Entry)) (chain, error) {
	var c chain
	rows, err := q.Query(ctx, "SELECT "+p.columns()+" FROM runbook_audit ORDER BY seq")
	if err != nil {
		return c, p.wrap("read", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := rowEntry(rows)
		if err == nil {
			err = c.accept(e)
		}
		if err != nil {
			return c, dbLine(err)
		}
		fn(e)
	}
	if err := rows.Err(); err != nil {
		return c, p.wrap("read", err)
	}
	return c, dbLine(c.finish())
}

// columns are the columns to read: an older table has no key_id and sig.
func (p *Postgres) columns() string {
	if p.state.signed {
		return pgColumns
	}
	return pgColumnsUnsigned
}

// queryEntry reads the one row the clause selects, checked against its hash.
func (p *Postgres) queryEntry(ctx context.Context, tx pgx.Tx, clause string, args ...any) (Entry, bool, error) {
	rows, err := tx.Query(ctx, "SELECT "+p.columns()+" FROM runbook_audit "+clause, args...)
	if err != nil {
		return Entry{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return Entry{}, false, rows.Err()
	}
	e, err := rowEntry(rows)
	return e, err == nil, dbLine(err)
}

// rowEntry scans a row and checks it: the stored record must match its hash,
// be a valid entry and agree with every column. A row whose columns were
// edited, or whose record was moved to another seq, is a *ChainError.
func rowEntry(rows pgx.Rows) (Entry, error) {
	var r Entry
	var body string
	if err := rows.Scan(&r.Seq, &r.ID, &r.Time, &r.Actor, &r.Action, &r.Release, &r.Service, &r.Environment, &r.Version,
		&r.Step, &r.Outcome, &r.Detail, &r.Channel, &r.Digest, &r.Commit, &r.BreakGlass, &r.Prev, &r.Hash, &body, &r.KeyID, &r.Sig); err != nil {
		return Entry{}, err
	}
	fail := func(format string, a ...any) (Entry, error) {
		return Entry{}, &ChainError{Seq: r.Seq, Reason: fmt.Sprintf(format, a...)}
	}
	sum := sha256.Sum256([]byte(body))
	if hex.EncodeToString(sum[:]) != r.Hash {
		return fail("hash mismatch: the stored record does not match its hash, the row was edited")
	}
	e, err := decodeLine([]byte(body))
	switch {
	case err != nil:
		return fail("not a valid entry (%v), the row was edited", err)
	case e.Hash != "":
		return fail("the stored record carries a hash, the row was edited")
	case e.Sig != "":
		return fail("the stored record carries a signature, the row was edited")
	case e.Seq != r.Seq:
		return fail("the row holds the record of seq %d: rows were reordered or renumbered", e.Seq)
	case !isCanonical(e, []byte(body), false):
		return fail("%s", notCanonical)
	}
	// The signature is not part of the record: it signs the hash.
	e.Hash, e.Sig = r.Hash, r.Sig
	if cols := differing(r, e); len(cols) > 0 {
		return fail("column %s differs from the hashed record, the row was edited", strings.Join(cols, ", "))
	}
	return e, nil
}

// differing names the columns of row r that disagree with the record e.
func differing(r, e Entry) []string {
	var cols []string
	check := func(name string, same bool) {
		if !same {
			cols = append(cols, name)
		}
	}
	d := r.Time.Sub(e.Time) // the column keeps microseconds, the record nanoseconds
	check("id", r.ID == e.ID)
	check("time", d > -time.Microsecond && d < time.Microsecond)
	check("actor", r.Actor == e.Actor)
	check("action", r.Action == e.Action)
	check("release", r.Release == e.Release)
	check("service", r.Service == e.Service)
	check("environment", r.Environment == e.Environment)
	check("version", r.Version == e.Version)
	check("step", r.Step == e.Step)
	check("outcome", r.Outcome == e.Outcome)
	check("detail", r.Detail == e.Detail)
	check("channel", r.Channel == e.Channel)
	check("digest", r.Digest == e.Digest)
	check("commit", r.Commit == e.Commit)
	check("break_glass", r.BreakGlass == e.BreakGlass)
	check("prev", r.Prev == e.Prev)
	check("key_id", r.KeyID == e.KeyID)
	return cols
}

// dbLine drops the line number from a *ChainError: rows have no lines.
func dbLine(err error) error {
	var ce *ChainError
	if errors.As(err, &ce) {
		ce.Line = 0
	}
	return err
}

// wrap adds what failed, keeps *ChainError and ErrInvalidEntry visible to
// errors.As/Is, and scrubs the password from driver errors.
func (p *Postgres) wrap(what string, err error) error {
	var ce *ChainError
	if errors.As(err, &ce) || errors.Is(err, ErrInvalidEntry) || errors.Is(err, ErrPruneRefused) {
		return fmt.Errorf("audit database %s: %w", p.name, err)
	}
	return fmt.Errorf("%s audit database %s: %w", what, p.name, scrub(err, p.dsn))
}

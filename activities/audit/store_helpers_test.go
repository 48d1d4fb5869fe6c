package audit

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/internal/testenv/pg"
)

func TestMain(m *testing.M) {
	// The helper processes of TestSeparateProcessesAppend need no database.
	if os.Getenv(helperPathEnv) != "" {
		os.Exit(m.Run())
	}
	os.Exit(pg.Main(m))
}

// storeCase is one kind of store under test, with the means to tamper with
// it behind its back, as someone with write access to the file or the table.
type storeCase struct {
	name string
	// open opens another handle on the same log, like another worker.
	open   func(t *testing.T) Store
	tamper tamperer
}

// tamperer changes a log behind the store's back.
type tamperer interface {
	// edit changes an entry with f, leaving its hash as it was.
	edit(t *testing.T, seq int64, f func(*Entry))
	// rehash changes an entry with f and fixes its own hash.
	rehash(t *testing.T, seq int64, f func(*Entry))
	// remove deletes entries.
	remove(t *testing.T, seqs ...int64)
	// insertAfter puts a forged, correctly hashed entry after seq,
	// renumbering the following ones where the store needs that.
	insertAfter(t *testing.T, seq int64)
	// swap exchanges the positions of two entries.
	swap(t *testing.T, a, b int64)
	// put stores e as it is, where its seq says.
	put(t *testing.T, e Entry)
}

// forEachStore runs fn against a new, empty file log and a new, empty
// PostgreSQL log.
func forEachStore(t *testing.T, fn func(t *testing.T, sc storeCase)) {
	fileStoreOnly(t, fn)
	t.Run("postgres", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		fn(t, storeCase{name: "postgres", open: func(t *testing.T) Store { return openPG(t, dsn) }, tamper: pgTamper(dsn)})
	})
}

// fileStoreOnly runs fn against a new, empty file log, for what only a
// file can suffer (a torn last line).
func fileStoreOnly(t *testing.T, fn func(t *testing.T, sc storeCase)) {
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		fn(t, storeCase{name: "file", open: func(t *testing.T) Store { return openLog(t, path) }, tamper: fileTamper(path)})
	})
}

func openPG(t testing.TB, dsn string) *Postgres {
	t.Helper()
	p, err := OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// appendN appends entries 1..n to s and returns them as stored.
func appendN(t *testing.T, s Store, n int) []Entry {
	t.Helper()
	out := make([]Entry, 0, n)
	for i := 1; i <= n; i++ {
		e, err := s.Append(t.Context(), entry(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

// forged is a well-formed entry nobody appended.
func forged(seq int64, prev string) Entry {
	e := entry(900)
	e.ID, e.Actor, e.Action, e.Seq, e.Prev = "forged", "mallory", "gate.approved", seq, prev
	e, _, _ = seal(e)
	return e
}

// fileTamper edits the JSON lines directly.
type fileTamper string

func (p fileTamper) entries(t *testing.T) []Entry {
	t.Helper()
	var out []Entry
	for _, l := range readLines(t, string(p)) {
		e, err := decodeLine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func (p fileTamper) write(t *testing.T, es []Entry) {
	t.Helper()
	var b strings.Builder
	for _, e := range es {
		line, err := canonical(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(string(p), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (p fileTamper) index(t *testing.T, es []Entry, seq int64) int {
	t.Helper()
	i := slices.IndexFunc(es, func(e Entry) bool { return e.Seq == seq })
	if i < 0 {
		t.Fatalf("no entry %d to tamper with", seq)
	}
	return i
}

func (p fileTamper) edit(t *testing.T, seq int64, f func(*Entry)) {
	es := p.entries(t)
	f(&es[p.index(t, es, seq)])
	p.write(t, es)
}

func (p fileTamper) rehash(t *testing.T, seq int64, f func(*Entry)) {
	es := p.entries(t)
	i := p.index(t, es, seq)
	f(&es[i])
	es[i], _, _ = seal(es[i])
	p.write(t, es)
}

func (p fileTamper) remove(t *testing.T, seqs ...int64) {
	p.write(t, slices.DeleteFunc(p.entries(t), func(e Entry) bool { return slices.Contains(seqs, e.Seq) }))
}

func (p fileTamper) insertAfter(t *testing.T, seq int64) {
	es := p.entries(t)
	i := p.index(t, es, seq)
	p.write(t, slices.Insert(es, i+1, forged(seq+1, es[i].Hash)))
}

func (p fileTamper) swap(t *testing.T, a, b int64) {
	es := p.entries(t)
	i, j := p.index(t, es, a), p.index(t, es, b)
	es[i], es[j] = es[j], es[i]
	p.write(t, es)
}

func (p fileTamper) put(t *testing.T, e Entry) {
	es := p.entries(t)
	i := slices.IndexFunc(es, func(x Entry) bool { return x.Seq > e.Seq })
	if i < 0 {
		i = len(es)
	}
	p.write(t, slices.Insert(es, i, e))
}

// pgTamper changes rows as a superuser with the append-only trigger off.
type pgTamper string

func (d pgTamper) do(t *testing.T, fn func(tx pgx.Tx) error) {
	t.Helper()
	ctx := t.Context()
	c, err := pgx.Connect(ctx, string(d))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "ALTER TABLE runbook_audit DISABLE TRIGGER USER"); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "ALTER TABLE runbook_audit ENABLE TRIGGER USER")
		return err
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

// get reads the entry stored at seq from its record.
func (d pgTamper) get(t *testing.T, tx pgx.Tx, seq int64) Entry {
	t.Helper()
	var body, hash string
	if err := tx.QueryRow(t.Context(), "SELECT canonical, hash FROM runbook_audit WHERE seq = $1", seq).Scan(&body, &hash); err != nil {
		t.Fatalf("entry %d: %v", seq, err)
	}
	e, err := decodeLine([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = hash
	return e
}

// set rewrites the row at seq: every column and the record from e, and the
// hash column from e.Hash.
func (d pgTamper) set(t *testing.T, tx pgx.Tx, seq int64, e Entry) {
	t.Helper()
	hash, sig := e.Hash, e.Sig
	e.Hash, e.Sig = "", ""
	body, _ := canonical(e)
	_, err := tx.Exec(t.Context(), `UPDATE runbook_audit SET id=$2, time=$3, actor=$4, action=$5, release=$6, service=$7,
		environment=$8, version=$9, step=$10, outcome=$11, detail=$12, channel=$13, digest=$14, commit=$15,
		break_glass=$16, prev=$17, hash=$18, canonical=$19, key_id=$20, sig=$21 WHERE seq=$1`,
		seq, e.ID, e.Time, e.Actor, e.Action, e.Release, e.Service, e.Environment, e.Version, e.Step, e.Outcome,
		e.Detail, e.Channel, e.Digest, e.Commit, e.BreakGlass, e.Prev, hash, string(body), e.KeyID, sig)
	if err != nil {
		t.Fatal(err)
	}
}

func (d pgTamper) edit(t *testing.T, seq int64, f func(*Entry)) {
	d.do(t, func(tx pgx.Tx) error {
		e := d.get(t, tx, seq)
		f(&e)
		d.set(t, tx, seq, e)
		return nil
	})
}

func (d pgTamper) rehash(t *testing.T, seq int64, f func(*Entry)) {
	d.do(t, func(tx pgx.Tx) error {
		e := d.get(t, tx, seq)
		f(&e)
		e, _, _ = seal(e)
		d.set(t, tx, seq, e)
		return nil
	})
}

func (d pgTamper) remove(t *testing.T, seqs ...int64) {
	d.do(t, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), "DELETE FROM runbook_audit WHERE seq = ANY($1)", seqs)
		return err
	})
}

func (d pgTamper) insertAfter(t *testing.T, seq int64) {
	d.do(t, func(tx pgx.Tx) error {
		prev := d.get(t, tx, seq)
		if _, err := tx.Exec(t.Context(), "UPDATE runbook_audit SET seq = seq + 1000000 WHERE seq > $1", seq); err != nil {
			return err
		}
		if _, err := tx.Exec(t.Context(), "UPDATE runbook_audit SET seq = seq - 1000000 + 1 WHERE seq > 1000000"); err != nil {
			return err
		}
		return pgInsert(t, tx, forged(seq+1, prev.Hash))
	})
}

func (d pgTamper) swap(t *testing.T, a, b int64) {
	d.do(t, func(tx pgx.Tx) error {
		const parked = 999999999
		for _, move := range [][2]int64{{a, parked}, {b, a}, {parked, b}} {
			if _, err := tx.Exec(t.Context(), "UPDATE runbook_audit SET seq = $2 WHERE seq = $1", move[0], move[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d pgTamper) put(t *testing.T, e Entry) {
	d.do(t, func(tx pgx.Tx) error {
		return pgInsert(t, tx, e)
	})
}

// pgInsert seals e as it is (its key ID kept, unsigned) and inserts its row,
// as someone writing to the table directly would.
func pgInsert(t *testing.T, tx pgx.Tx, e Entry) error {
	p := &Postgres{state: pgSchemaState{guarded: true, signed: true, checkpoints: true}}
	_, _, err := p.insert(t.Context(), tx, e, Entry{})
	return err
}

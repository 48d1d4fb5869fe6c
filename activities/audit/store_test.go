package audit

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// wantIntact verifies s and checks the entry count and seq range.
func wantIntact(t *testing.T, s Store, entries, first, last int64) VerifyResult {
	t.Helper()
	res, err := s.Verify(t.Context())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Entries != entries || res.FirstSeq != first || res.LastSeq != last || res.BrokenSeq != 0 {
		t.Errorf("Verify = %+v, want %d entries, seq %d..%d", res, entries, first, last)
	}
	return res
}

// wantBrokenAt verifies s and checks it fails at seq with msg.
func wantBrokenAt(t *testing.T, s Store, seq int64, msg string) {
	t.Helper()
	res, err := s.Verify(t.Context())
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("Verify = %+v, %v; want a *ChainError at seq %d", res, err, seq)
	}
	if ce.Seq != seq || res.BrokenSeq != seq {
		t.Errorf("broken at seq %d (result %d), want %d: %v", ce.Seq, res.BrokenSeq, seq, err)
	}
	if !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "entry ") {
		t.Errorf("Verify error %q, want it to name the entry and say %q", err, msg)
	}
	// Evidence from a broken log is refused.
	var b strings.Builder
	if _, err := ExportFrom(t.Context(), &b, s, Filter{}, FormatJSONL); err == nil || b.Len() != 0 {
		t.Errorf("export of a broken log: %v, %q", err, b.String())
	}
}

func TestAuditStoreAppendAndIdempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, sc storeCase) {
		s := sc.open(t)
		stored := appendN(t, s, 5)
		for i, e := range stored {
			prev := ""
			if i > 0 {
				prev = stored[i-1].Hash
			}
			if e.Seq != int64(i+1) || e.Prev != prev || len(e.Hash) != 64 {
				t.Errorf("entry %d = seq %d prev %q hash %q", i+1, e.Seq, e.Prev, e.Hash)
			}
		}
		retry := entry(3)
		retry.Detail = "a retry must not rewrite history"
		for name, h := range map[string]Store{"same handle": s, "another worker": sc.open(t)} {
			got, err := h.Append(t.Context(), retry)
			if err != nil || got != stored[2] {
				t.Errorf("%s: Append of a stored ID = %+v, %v; want %+v", name, got, err, stored[2])
			}
		}
		res := wantIntact(t, s, 5, 1, 5)
		if res.Head != stored[4].Hash || res.AnchorSeq != 0 {
			t.Errorf("Verify = %+v, want head %s and no anchor", res, stored[4].Hash)
		}
		if got := res.Summary(); got != "chain intact: 5 entries, seq 1..5, from the first entry" {
			t.Errorf("Summary = %q", got)
		}
		all, err := s.Read(t.Context(), Filter{Release: "release/checkout/1.4.2"})
		if err != nil || len(all) != 5 || all[4] != stored[4] {
			t.Errorf("Read = %d entries, %v", len(all), err)
		}
		bad := entry(6)
		bad.Action = ActionPruned
		if _, err := s.Append(t.Context(), bad); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("Append of an %s entry: %v, want ErrInvalidEntry", ActionPruned, err)
		}
	})
}

func TestAuditStoreConcurrentWorkers(t *testing.T) {
	forEachStore(t, func(t *testing.T, sc storeCase) {
		// Two workers open the log at once (for PostgreSQL: both may create the table).
		stores := make([]Store, 2)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Go(func() { stores[i] = sc.open(t) })
		}
		wg.Wait()
		const goroutines, each = 6, 15
		errs := make(chan error, 2*goroutines*each)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					// Every ID goes through both workers, to race the idempotency check.
					e := entry(g*each + i)
					for _, s := range []Store{stores[g%2], stores[(g+1)%2]} {
						if _, err := s.Append(t.Context(), e); err != nil {
							errs <- err
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Append: %v", err)
		}
		wantIntact(t, stores[0], goroutines*each, 1, goroutines*each)
		all, err := stores[1].Read(t.Context(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		ids := make(map[string]bool)
		for _, e := range all {
			if ids[e.ID] {
				t.Errorf("ID %s written twice", e.ID)
			}
			ids[e.ID] = true
		}
	})
}

// tamperCase is one way of changing a log behind its back, and where each
// store's verification must then report it.
type tamperCase struct {
	name     string
	do       func(t *testing.T, tp tamperer)
	fileSeq  int64
	fileMsg  string
	pgSeq    int64
	pgMsg    string
	fileOnly bool
}

func (tc tamperCase) want(store string) (int64, string) {
	if store == "postgres" && tc.pgSeq != 0 {
		return tc.pgSeq, tc.pgMsg
	}
	return tc.fileSeq, tc.fileMsg
}

func failOutcome(e *Entry) { e.Outcome = "failed" }

func TestAuditStoreTampering(t *testing.T) {
	cases := []tamperCase{
		{name: "edit", do: func(t *testing.T, tp tamperer) { tp.edit(t, 7, failOutcome) },
			fileSeq: 7, fileMsg: "hash mismatch"},
		{name: "edit and rehash", do: func(t *testing.T, tp tamperer) { tp.rehash(t, 7, failOutcome) },
			fileSeq: 8, fileMsg: "prev does not match the hash of entry 7"},
		{name: "delete", do: func(t *testing.T, tp tamperer) { tp.remove(t, 4) },
			fileSeq: 5, fileMsg: "seq 5 follows seq 3, entries were deleted"},
		{name: "delete the first entries", do: func(t *testing.T, tp tamperer) { tp.remove(t, 1, 2) },
			fileSeq: 3, fileMsg: "no audit.pruned entry anchors it there: entries 1..2 were deleted"},
		{name: "delete the last entry", do: func(t *testing.T, tp tamperer) { tp.remove(t, 10) },
			fileSeq: 0}, // the chain alone cannot tell: compare the head hash
		{name: "insert", do: func(t *testing.T, tp tamperer) { tp.insertAfter(t, 5) },
			fileSeq: 6, fileMsg: "seq 6 follows seq 6", pgSeq: 7, pgMsg: "rows were reordered or renumbered"},
		{name: "reorder", do: func(t *testing.T, tp tamperer) { tp.swap(t, 3, 4) },
			fileSeq: 4, fileMsg: "seq 4 follows seq 2", pgSeq: 3, pgMsg: "rows were reordered or renumbered"},
		{name: "replace the first entry's prev", do: func(t *testing.T, tp tamperer) { tp.rehash(t, 1, func(e *Entry) { e.Prev = strings.Repeat("0", 64) }) },
			fileSeq: 1, fileMsg: "nothing comes before seq 1"},
		{name: "truncated last line", fileOnly: true, do: func(t *testing.T, tp tamperer) {
			lines := readLines(t, string(tp.(fileTamper)))
			last := lines[len(lines)-1]
			writeLines(t, string(tp.(fileTamper)), append(lines[:len(lines)-1], last[:len(last)/2]))
		}, fileSeq: 10, fileMsg: "incomplete last line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stores := forEachStore
			if tc.fileOnly {
				stores = fileStoreOnly
			}
			stores(t, func(t *testing.T, sc storeCase) {
				s := sc.open(t)
				appendN(t, s, 10)
				tc.do(t, sc.tamper)
				seq, msg := tc.want(sc.name)
				if seq == 0 {
					wantIntact(t, s, 9, 1, 9)
					return
				}
				wantBrokenAt(t, s, seq, msg)
			})
		})
	}
}

// BenchmarkAppendPostgres is one append to the PostgreSQL store: a
// transaction with the advisory lock, the ID lookup and the insert.
func BenchmarkAppendPostgres(b *testing.B) {
	p := openPG(b, pg.NewDatabase(b))
	i := 0
	for b.Loop() {
		i++
		if _, err := p.Append(b.Context(), entry(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify10k verifies a 10,000-entry chain in each store, the
// work `runbook audit verify` and a worker's start do.
func BenchmarkVerify10k(b *testing.B) {
	stores := map[string]Store{
		"file":     openLog(b, filepath.Join(b.TempDir(), "audit.jsonl")),
		"postgres": openPG(b, pg.NewDatabase(b)),
	}
	for _, name := range []string{"file", "postgres"} {
		s := stores[name]
		for i := 1; i <= 10000; i++ {
			if _, err := s.Append(b.Context(), entry(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if res, err := s.Verify(b.Context()); err != nil || res.Entries != 10000 {
					b.Fatalf("verify: %+v %v", res, err)
				}
			}
		})
	}
}

// TestAuditStoreAppendAllInOrder: a workflow's records written together
// land in order, chained, on both stores; a retry of the group finds them
// by ID; a group with an invalid entry writes none of it; the activity
// takes a group through either store.
func TestAuditStoreAppendAllInOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, sc storeCase) {
		s := sc.open(t)
		all, ok := s.(allAppender)
		if !ok {
			t.Fatalf("%s store cannot append a group", sc.name)
		}
		appendN(t, s, 2)
		group := []Entry{entry(3), entry(4), entry(5)}
		stored, err := all.AppendAll(t.Context(), group)
		if err != nil {
			t.Fatalf("AppendAll: %v", err)
		}
		for i, e := range stored {
			if e.Seq != int64(3+i) || e.ID != group[i].ID {
				t.Errorf("group entry %d stored as seq %d id %s", i, e.Seq, e.ID)
			}
		}
		again, err := all.AppendAll(t.Context(), group)
		if err != nil || again[2] != stored[2] {
			t.Errorf("a retry of the group = %+v, %v; want the stored %+v", again[2], err, stored[2])
		}
		bad := entry(7)
		bad.Action = ActionPruned
		if _, err := all.AppendAll(t.Context(), []Entry{entry(6), bad}); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("a group with an %s entry: %v, want ErrInvalidEntry", ActionPruned, err)
		}
		acts := &Activities{Log: s}
		res, err := acts.AppendAudit(t.Context(), AppendAuditInput{Entry: entry(9), Entries: []Entry{entry(8), entry(9)}})
		if err != nil || res.Seq != 7 {
			t.Errorf("AppendAudit of a group = %+v, %v; want the last at seq 7", res, err)
		}
		wantIntact(t, s, 7, 1, 7)
	})
}

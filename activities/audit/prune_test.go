package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pruneFirstFour appends entries 1..10, prunes 1..4 (their times are t0+1s
// to t0+4s) and appends entries 12 and 13 after the audit.pruned entry 11.
func pruneFirstFour(t *testing.T, s Store) ([]Entry, PruneResult) {
	t.Helper()
	stored := appendN(t, s, 10)
	res, err := s.Prune(t.Context(), PruneInput{Before: t0.Add(4500 * time.Millisecond), Now: t0.Add(time.Hour), Actor: "alice"})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	for _, i := range []int{12, 13} {
		if e, err := s.Append(t.Context(), entry(i)); err != nil || e.Seq != int64(i) {
			t.Fatalf("Append %d after prune = seq %d, %v", i, e.Seq, err)
		}
	}
	return stored, res
}

func TestAuditPruneThenVerify(t *testing.T) {
	forEachStore(t, func(t *testing.T, sc storeCase) {
		s := sc.open(t)
		stored, res := pruneFirstFour(t, s)
		p := res.Entry.Pruned
		want := Pruned{Before: t0.Add(4500 * time.Millisecond), FromSeq: 1, ToSeq: 4, Count: 4,
			Oldest: stored[0].Time, Newest: stored[3].Time, AnchorHash: stored[3].Hash}
		if res.Removed != 4 || !p.Before.Equal(want.Before) || p.FromSeq != 1 || p.ToSeq != 4 || p.Count != 4 ||
			!p.Oldest.Equal(want.Oldest) || !p.Newest.Equal(want.Newest) || p.AnchorHash != want.AnchorHash {
			t.Errorf("Prune = %d, %+v; want 4, %+v", res.Removed, p, want)
		}
		if e := res.Entry; e.Seq != 11 || e.Action != ActionPruned || e.Actor != "alice" || e.Prev != stored[9].Hash ||
			!strings.Contains(e.Detail, "removed 4 entries") {
			t.Errorf("audit.pruned entry = %+v", e)
		}
		v := wantIntact(t, s, 9, 5, 13)
		wantSummary := fmt.Sprintf("chain intact: 9 entries, seq 5..13, anchored at seq 4 (hash %s)", stored[3].Hash)
		if v.AnchorSeq != 4 || v.AnchorHash != stored[3].Hash || v.Summary() != wantSummary {
			t.Errorf("Verify = %+v\n%s", v, v.Summary())
		}
		// Another worker opening the log now starts from the anchor too.
		wantIntact(t, sc.open(t), 9, 5, 13)
		all, err := s.Read(t.Context(), Filter{})
		if err != nil || len(all) != 9 || all[0].Seq != 5 || all[6] != res.Entry {
			t.Errorf("Read after prune = %d entries, %v", len(all), err)
		}

		// A second prune joins the first; a third removes the first audit.pruned entry.
		res2, err := s.Prune(t.Context(), PruneInput{Before: t0.Add(8500 * time.Millisecond), Now: t0.Add(2 * time.Hour)})
		if err != nil || res2.Removed != 4 || res2.Entry.Pruned.FromSeq != 5 || res2.Entry.Seq != 14 || res2.Entry.Actor != "runbook" {
			t.Fatalf("second Prune = %+v, %v", res2, err)
		}
		wantIntact(t, s, 6, 9, 14)
		res3, err := s.Prune(t.Context(), PruneInput{Before: t0.Add(time.Hour + time.Second), Now: t0.Add(3 * time.Hour)})
		if err != nil || res3.Removed != 5 || res3.Entry.Pruned.ToSeq != 13 {
			t.Fatalf("third Prune = %+v, %v", res3, err)
		}
		if v := wantIntact(t, s, 2, 14, 15); v.AnchorSeq != 13 {
			t.Errorf("anchor after the third prune = %d, want 13", v.AnchorSeq)
		}
	})
}

func TestAuditPruneRemovesOnlyAnOldPrefix(t *testing.T) {
	forEachStore(t, func(t *testing.T, sc storeCase) {
		s := sc.open(t)
		// Entry 3 was appended late with a time after the cut: it and
		// everything after it stay, though 4 and 5 are older.
		for i, sec := range []int{1, 2, 100, 3, 4} {
			e := entry(i + 1)
			e.Time = t0.Add(time.Duration(sec) * time.Second)
			if _, err := s.Append(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		cut := PruneInput{Before: t0.Add(50 * time.Second), Now: t0.Add(time.Hour)}
		res, err := s.Prune(t.Context(), cut)
		if err != nil || res.Removed != 2 || res.Entry.Pruned.ToSeq != 2 {
			t.Fatalf("Prune = %+v, %v; want seq 1..2 removed", res, err)
		}
		wantIntact(t, s, 4, 3, 6)
		// Nothing left at the start is old enough: nothing is written.
		again, err := s.Prune(t.Context(), cut)
		if err != nil || again.Removed != 0 || again.Entry.Seq != 0 {
			t.Errorf("second Prune = %+v, %v; want nothing", again, err)
		}
		wantIntact(t, s, 4, 3, 6)
		// Everything, the first audit.pruned entry included, is older than
		// this cut: the new audit.pruned entry alone carries the chain on.
		all, err := s.Prune(t.Context(), PruneInput{Before: t0.Add(2 * time.Hour), Now: t0.Add(3 * time.Hour)})
		if err != nil || all.Removed != 4 || all.Entry.Seq != 7 {
			t.Fatalf("Prune of everything = %+v, %v", all, err)
		}
		if v := wantIntact(t, s, 1, 7, 7); v.AnchorSeq != 6 {
			t.Errorf("anchor = %d, want 6", v.AnchorSeq)
		}
		if e, err := sc.open(t).Append(t.Context(), entry(8)); err != nil || e.Seq != 8 {
			t.Errorf("Append after pruning everything = %+v, %v", e, err)
		}
		wantIntact(t, s, 2, 7, 8)
	})
}

func TestAuditPruneRefuses(t *testing.T) {
	forEachStore(t, func(t *testing.T, sc storeCase) {
		s := sc.open(t)
		appendN(t, s, 5)
		now := t0.Add(time.Hour)
		for name, in := range map[string]PruneInput{
			"no cut":           {Now: now},
			"a cut in future":  {Before: now.Add(time.Minute), Now: now},
			"the cut from now": {Before: time.Now().Add(time.Hour)},
		} {
			if _, err := s.Prune(t.Context(), in); !errors.Is(err, ErrPruneRefused) {
				t.Errorf("%s: Prune = %v, want ErrPruneRefused", name, err)
			}
		}
		sc.tamper.edit(t, 2, failOutcome)
		_, err := s.Prune(t.Context(), PruneInput{Before: t0.Add(4500 * time.Millisecond), Now: now})
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Seq != 2 || !strings.Contains(err.Error(), "nothing pruned") {
			t.Errorf("Prune of a broken log = %v, want a refusal naming entry 2", err)
		}
		wantBrokenAt(t, s, 2, "hash mismatch") // the evidence is still there
	})
}

func TestAuditPruneThenTamper(t *testing.T) {
	fakeAnchor := func(e *Entry) {
		e.Pruned.ToSeq, e.Pruned.Count, e.Pruned.AnchorHash = 5, 5, strings.Repeat("5", 64)
	}
	cases := []tamperCase{
		{name: "delete the first kept entry", do: func(t *testing.T, tp tamperer) { tp.remove(t, 5) },
			fileSeq: 6, fileMsg: "anchors it at seq 4: entries 5..5 were deleted from its start"},
		{name: "delete the first kept entries and fake the anchor", do: func(t *testing.T, tp tamperer) {
			tp.remove(t, 5)
			tp.edit(t, 11, fakeAnchor)
		}, fileSeq: 11, fileMsg: "hash mismatch"},
		{name: "fake the anchor and rehash it", do: func(t *testing.T, tp tamperer) {
			tp.remove(t, 5)
			tp.rehash(t, 11, fakeAnchor)
		}, fileSeq: 12, fileMsg: "prev does not match the hash of entry 11"},
		{name: "relink the first kept entry", do: func(t *testing.T, tp tamperer) {
			tp.rehash(t, 5, func(e *Entry) { e.Prev = strings.Repeat("0", 64) })
		}, fileSeq: 6, fileMsg: "prev does not match the hash of entry 5"},
		{name: "replace the first kept entry", do: func(t *testing.T, tp tamperer) {
			tp.remove(t, 5, 6, 7, 8, 9, 10, 11, 12, 13)
			tp.put(t, forged(5, strings.Repeat("0", 64)))
		}, fileSeq: 5, fileMsg: "no audit.pruned entry anchors it there"},
		{name: "edit a kept entry", do: func(t *testing.T, tp tamperer) { tp.edit(t, 8, failOutcome) },
			fileSeq: 8, fileMsg: "hash mismatch"},
		{name: "delete the audit.pruned entry", do: func(t *testing.T, tp tamperer) { tp.remove(t, 11) },
			fileSeq: 12, fileMsg: "seq 12 follows seq 10"},
		{name: "reorder kept entries", do: func(t *testing.T, tp tamperer) { tp.swap(t, 6, 7) },
			fileSeq: 7, fileMsg: "seq 7 follows seq 5", pgSeq: 6, pgMsg: "rows were reordered or renumbered"},
		{name: "insert after the anchor", do: func(t *testing.T, tp tamperer) { tp.insertAfter(t, 5) },
			fileSeq: 6, fileMsg: "seq 6 follows seq 6", pgSeq: 7, pgMsg: "rows were reordered or renumbered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, sc storeCase) {
				s := sc.open(t)
				pruneFirstFour(t, s)
				tc.do(t, sc.tamper)
				seq, msg := tc.want(sc.name)
				wantBrokenAt(t, s, seq, msg)
			})
		})
	}
	// Entries the prune removed cannot be put back unnoticed either.
	t.Run("restore pruned entries", func(t *testing.T) {
		forEachStore(t, func(t *testing.T, sc storeCase) {
			s := sc.open(t)
			stored, _ := pruneFirstFour(t, s)
			for _, e := range stored[:4] {
				sc.tamper.put(t, e)
			}
			wantBrokenAt(t, s, 11, "the log still holds seq 1")
		})
	})
}

// TestAuditPruneFileWhileAnotherWorkerHoldsIt: the prune renames a new file
// over the log; a worker holding the old one notices at its next append,
// reopens, and appends after the audit.pruned entry.
func TestAuditPruneFileWhileAnotherWorkerHoldsIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	a, b := openLog(t, path), openLog(t, path)
	appendN(t, a, 10)
	if _, err := b.Append(t.Context(), entry(3)); err != nil { // b has read all ten
		t.Fatal(err)
	}
	res, err := a.Prune(t.Context(), PruneInput{Before: t0.Add(4500 * time.Millisecond), Now: t0.Add(time.Hour)})
	if err != nil || res.Entry.Seq != 11 {
		t.Fatalf("Prune = %+v, %v", res, err)
	}
	if e, err := b.Append(t.Context(), entry(12)); err != nil || e.Seq != 12 || e.Prev != res.Entry.Hash {
		t.Fatalf("the other worker's Append after the prune = %+v, %v", e, err)
	}
	if e, err := a.Append(t.Context(), entry(13)); err != nil || e.Seq != 13 {
		t.Fatalf("the pruning worker's Append = %+v, %v", e, err)
	}
	wantIntact(t, a, 9, 5, 13)
	files, _ := os.ReadDir(dir)
	fi, err := os.Stat(path)
	if len(files) != 1 || err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after prune: %d files in the directory, mode %v, %v; want only the log, 0600", len(files), fi.Mode(), err)
	}
}

// TestAuditFileSwappedForAnotherIsNotAPrune: a worker reopening a replaced
// file still notices entries cut off its end or rewritten.
func TestAuditFileSwappedForAnotherIsNotAPrune(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(lines []string) []string
		msg  string
	}{
		{"cut off its end", func(l []string) []string { return l[:8] }, "entries were cut off"},
		{"rewritten", func(l []string) []string {
			e, _ := decodeLine([]byte(l[9]))
			e.Outcome = "failed"
			e, _, _ = seal(e)
			b, _ := canonical(e)
			return append(l[:9], string(b)+"\n")
		}, "holding a different entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			appendN(t, openLog(t, path), 10)
			b := openLog(t, path)
			other := path + ".new"
			writeLines(t, other, tc.edit(readLines(t, path)))
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Append(t.Context(), entry(11)); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Append after the swap = %v, want %q", err, tc.msg)
			}
		})
	}
}

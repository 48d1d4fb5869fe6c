package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// entry builds a valid entry whose content depends on i.
func entry(i int) Entry {
	return Entry{
		ID:          fmt.Sprintf("release/checkout/1.4.2/step-%d", i),
		Time:        t0.Add(time.Duration(i) * time.Second),
		Actor:       "runbook",
		Action:      "step.succeeded",
		Release:     "release/checkout/1.4.2",
		Service:     "checkout",
		Environment: "staging",
		Version:     "1.4.2",
		Step:        fmt.Sprintf("step-%d", i),
		Outcome:     "ok",
	}
}

func openLog(t testing.TB, path string) *Log {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// writeN appends entries 1..n and returns them as stored.
func writeN(t testing.TB, l *Log, n int) []Entry {
	t.Helper()
	out := make([]Entry, 0, n)
	for i := 1; i <= n; i++ {
		e, err := l.Append(t.Context(), entry(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")[:strings.Count(string(b), "\n")]
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantBroken asserts that Verify fails at seq with a message containing msg.
func wantBroken(t *testing.T, path string, seq int64, msg string) VerifyResult {
	t.Helper()
	res, err := Verify(path)
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("Verify error = %v, want *ChainError", err)
	}
	if ce.Seq != seq || res.BrokenSeq != seq {
		t.Errorf("broken seq = %d (result %d), want %d", ce.Seq, res.BrokenSeq, seq)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("Verify error = %q, want it to contain %q", err, msg)
	}
	return res
}

func TestChainVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	stored := writeN(t, openLog(t, path), 10)

	for i, e := range stored {
		if e.Seq != int64(i+1) {
			t.Errorf("entry %d: seq %d", i+1, e.Seq)
		}
		if i == 0 && e.Prev != "" {
			t.Errorf("first entry prev = %q, want empty", e.Prev)
		}
		if i > 0 && e.Prev != stored[i-1].Hash {
			t.Errorf("entry %d: prev %q, want %q", i+1, e.Prev, stored[i-1].Hash)
		}
		if len(e.Hash) != 64 {
			t.Errorf("entry %d: hash %q is not hex sha256", i+1, e.Hash)
		}
	}
	res, err := Verify(path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Entries != 10 || res.BrokenSeq != 0 || res.Head != stored[9].Hash {
		t.Errorf("Verify = %+v, want 10 entries, head %s", res, stored[9].Hash)
	}
}

func TestHashIsSHA256OfStoredLineWithHashBlank(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	e := writeN(t, openLog(t, path), 1)[0]
	line := strings.TrimSuffix(readLines(t, path)[0], "\n")
	blank := strings.Replace(line, `"hash":"`+e.Hash+`"`, `"hash":""`, 1)
	sum := sha256.Sum256([]byte(blank))
	if got := hex.EncodeToString(sum[:]); got != e.Hash {
		t.Errorf("sha256 of the stored line with hash blanked = %s, entry hash %s", got, e.Hash)
	}
	if !strings.Contains(line, `"time":"2025-03-14T09:26:54.589793Z"`) {
		t.Errorf("time not stored as RFC3339Nano UTC: %s", line)
	}
}

func TestTimeStoredInUTC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	in := entry(1)
	in.Time = in.Time.In(time.FixedZone("CET", 3600))
	got, err := l.Append(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.Location() != time.UTC || !got.Time.Equal(in.Time) {
		t.Errorf("stored time %v, want %v in UTC", got.Time, in.Time)
	}
	if _, err := Verify(path); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestEditedLineBreaksVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, openLog(t, path), 10)
	lines := readLines(t, path)
	lines[6] = strings.Replace(lines[6], `"outcome":"ok"`, `"outcome":"failed"`, 1)
	writeLines(t, path, lines)

	res := wantBroken(t, path, 7, "entry 7: hash mismatch, the log was edited")
	if res.Entries != 6 {
		t.Errorf("Entries = %d, want the 6 before the edit", res.Entries)
	}
}

func TestRehashedEditBreaksAtNextEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, openLog(t, path), 10)
	lines := readLines(t, path)
	// A careful forger fixes the edited entry's own hash; the next link still breaks.
	e, err := decodeLine([]byte(lines[6]))
	if err != nil {
		t.Fatal(err)
	}
	e.Outcome = "failed"
	if e.Hash, err = hashOf(e); err != nil {
		t.Fatal(err)
	}
	b, _ := canonical(e)
	lines[6] = string(b) + "\n"
	writeLines(t, path, lines)

	wantBroken(t, path, 8, "prev does not match the hash of entry 7")
}

func TestDeletedLineBreaksVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, openLog(t, path), 10)
	lines := readLines(t, path)
	writeLines(t, path, append(lines[:3:3], lines[4:]...))

	res := wantBroken(t, path, 5, "seq 5 follows seq 3, entries were deleted")
	if res.Entries != 3 {
		t.Errorf("Entries = %d, want 3", res.Entries)
	}
}

func TestGarbageLineBreaksVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, openLog(t, path), 3)
	lines := readLines(t, path)
	lines[1] = strings.Replace(lines[1], `{`, `{"approved_by":"mallory",`, 1)
	writeLines(t, path, lines)

	wantBroken(t, path, 2, "entry 2: not a valid entry")
}

func TestAppendSameIDTwiceWritesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	first, err := l.Append(t.Context(), entry(1))
	if err != nil {
		t.Fatal(err)
	}
	retry := entry(1)
	retry.Detail = "a retry must not rewrite history"
	second, err := l.Append(t.Context(), retry)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second Append = %+v, want the stored %+v", second, first)
	}
	// A fresh instance, like a restarted worker, rebuilds the index from the file.
	third, err := openLog(t, path).Append(t.Context(), retry)
	if err != nil {
		t.Fatal(err)
	}
	if third != first {
		t.Errorf("Append after reopen = %+v, want %+v", third, first)
	}
	if n := len(readLines(t, path)); n != 1 {
		t.Errorf("file has %d lines, want 1", n)
	}
}

func TestTwoInstancesInterleaved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, b := openLog(t, path), openLog(t, path)
	for i := 1; i <= 20; i++ {
		l := a
		if i%2 == 0 {
			l = b
		}
		e, err := l.Append(t.Context(), entry(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if e.Seq != int64(i) {
			t.Fatalf("Append %d got seq %d: the instance missed the other's entries", i, e.Seq)
		}
	}
	// b never wrote entry 1 but must find it, written by a, instead of duplicating it.
	got, err := b.Append(t.Context(), entry(1))
	if err != nil || got.Seq != 1 {
		t.Errorf("b.Append(t.Context(), entry 1) = seq %d, %v; want the existing seq 1", got.Seq, err)
	}
	res, err := Verify(path)
	if err != nil || res.Entries != 20 {
		t.Errorf("Verify = %+v, %v; want 20 entries", res, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	logs := []*Log{openLog(t, path), openLog(t, path)}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each) // two appends per item
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Every ID is appended through both instances to race the idempotency check.
				e := entry(w*each + i)
				if _, err := logs[w%2].Append(t.Context(), e); err != nil {
					errs <- err
				}
				if _, err := logs[(w+1)%2].Append(t.Context(), e); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	assertUniqueComplete(t, path, workers*each)
}

// assertUniqueComplete checks the log verifies and holds n distinct IDs once each.
func assertUniqueComplete(t *testing.T, path string, n int) {
	t.Helper()
	res, err := Verify(path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Entries != int64(n) {
		t.Errorf("Verify counted %d entries, want %d", res.Entries, n)
	}
	all, err := Read(path, Filter{})
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
}

func TestReadFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	writeN(t, l, 3)
	other := entry(4)
	other.Service, other.Release = "payments", "release/payments/2.0.0"
	if _, err := l.Append(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 4},
		{Filter{Service: "checkout"}, 3},
		{Filter{Release: "release/payments/2.0.0"}, 1},
		{Filter{Service: "checkout", Release: "release/payments/2.0.0"}, 0},
	} {
		got, err := Read(path, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("Read(%+v) = %d entries, want %d", tc.f, len(got), tc.want)
		}
	}
}

func TestValidationWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	noID, noAction, noTime := entry(1), entry(1), entry(1)
	noID.ID, noAction.Action, noTime.Time = "", "", time.Time{}
	for name, e := range map[string]Entry{"id": noID, "action": noAction, "time": noTime} {
		_, err := l.Append(t.Context(), e)
		if !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), name+" is required") {
			t.Errorf("missing %s: err = %v, want ErrInvalidEntry naming it", name, err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("file after invalid appends: %v, %v; want empty", fi, err)
	}
}

func TestOpenCreatesPrivateFileAndDirs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "lib", "runbook", "audit.jsonl")
	openLog(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRejectsBrokenLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, openLog(t, path), 3)
	lines := readLines(t, path)
	writeLines(t, path, lines[1:])
	_, err := Open(path)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != 2 || !strings.Contains(err.Error(), "runbook audit verify") {
		t.Errorf("Open on a log missing its first line: %v", err)
	}
}

func TestTruncatedBehindOurBackFailsAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	writeN(t, l, 3)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := l.Append(t.Context(), entry(4))
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("Append after truncation: %v, want a 'shrank' error", err)
	}
}

func TestTornTailIsReportedThenRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, openLog(t, path), 3)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"seq":4,"id":"torn","ti`)
	_ = f.Close()

	wantBroken(t, path, 4, "incomplete last line")
	// Opening under a shared lock leaves the tail; the next append cuts it.
	l := openLog(t, path)
	e, err := l.Append(t.Context(), entry(4))
	if err != nil || e.Seq != 4 {
		t.Fatalf("Append after torn tail = %+v, %v", e, err)
	}
	if res, err := Verify(path); err != nil || res.Entries != 4 {
		t.Errorf("Verify after repair = %+v, %v", res, err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), entry(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	l := openLog(b, filepath.Join(b.TempDir(), "audit.jsonl"))
	i := 0
	for b.Loop() {
		i++
		if _, err := l.Append(b.Context(), entry(i)); err != nil {
			b.Fatal(err)
		}
	}
}

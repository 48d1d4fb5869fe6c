package audit

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExportFiltersByTimeAndRefusesABrokenChain: the export keeps the
// entries in [since, until) as JSON lines or CSV, and refuses to export
// anything from a log whose chain does not verify.
func TestExportFiltersByTimeAndRefusesABrokenChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)
	for i, action := range []string{"release.started", "gate.approved", "release.finished"} {
		if _, err := l.Append(t.Context(), Entry{ID: action, Time: base.Add(time.Duration(i) * time.Hour), Actor: "alice",
			Action: action, Release: "release/checkout/1.0.0", Service: "checkout", Channel: "cli", Detail: `a, "quoted" detail`}); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()

	november := Filter{Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC)}
	var b bytes.Buffer
	n, err := Export(&b, path, november, FormatCSV)
	if err != nil || n != 1 {
		t.Fatalf("export = %d, %v; want the one entry at 00:00", n, err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse back: %v\n%s", err, b.String())
	}
	if len(rows) != 2 || rows[0][4] != "action" || rows[1][4] != "gate.approved" || rows[1][3] != "cli" || rows[1][11] != `a, "quoted" detail` {
		t.Errorf("CSV rows %q, want a header and gate.approved with its channel and detail", rows)
	}
	b.Reset()
	if n, err := Export(&b, path, Filter{}, FormatJSONL); err != nil || n != 3 || strings.Count(b.String(), "\n") != 3 {
		t.Errorf("JSONL export of everything = %d, %v:\n%s", n, err, b.String())
	}
	if _, err := Export(&b, path, Filter{}, "xml"); err == nil || !strings.Contains(err.Error(), "use jsonl or csv") {
		t.Errorf("unknown format: err = %v", err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(raw, []byte(`"actor":"alice"`), []byte(`"actor":"mallory"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if _, err := Export(&b, path, Filter{}, FormatJSONL); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("export of an edited log: err = %v, want a refusal", err)
	}
}

// TestAuditExportNewFields: digest, commit and break-glass reach both
// export formats from either store, and entries without them hash exactly
// as before the fields existed.
func TestAuditExportNewFields(t *testing.T) {
	legacy, err := canonical(entry(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"digest", "commit", "break_glass", "pruned"} {
		if strings.Contains(string(legacy), `"`+key+`"`) {
			t.Errorf("an entry without %s encodes it, which would change old hashes: %s", key, legacy)
		}
	}
	forEachStore(t, func(t *testing.T, sc storeCase) {
		s := sc.open(t)
		e := entry(1)
		e.Digest, e.Commit, e.BreakGlass = "sha256:"+strings.Repeat("ab", 32), "9fceb02d0ae598e95dc970b74767f19372d61af8", true
		stored, err := s.Append(t.Context(), e)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Digest != e.Digest || stored.Commit != e.Commit || !stored.BreakGlass {
			t.Errorf("stored = %+v", stored)
		}
		appendN(t, s, 2) // entry 1's ID again, then entry 2 without the fields
		var b bytes.Buffer
		if n, err := ExportFrom(t.Context(), &b, s, Filter{}, FormatCSV); err != nil || n != 2 {
			t.Fatalf("export = %d, %v", n, err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := make(map[string]int)
		for i, h := range rows[0] {
			col[h] = i
		}
		if r := rows[1]; r[col["digest"]] != e.Digest || r[col["commit"]] != e.Commit || r[col["break_glass"]] != "true" || r[col["hash"]] != stored.Hash {
			t.Errorf("CSV row %q, header %q", r, rows[0])
		}
		if r := rows[2]; r[col["digest"]] != "" || r[col["break_glass"]] != "false" {
			t.Errorf("CSV row of an entry without the fields: %q", r)
		}
		b.Reset()
		if _, err := ExportFrom(t.Context(), &b, s, Filter{}, FormatJSONL); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(b.String(), "\n")
		for _, want := range []string{`"digest":"sha256:abab`, `"commit":"9fceb02d`, `"break_glass":true`} {
			if !strings.Contains(first, want) {
				t.Errorf("JSONL %s lacks %s", first, want)
			}
		}
	})
}

// A signed log's CSV export carries each entry's key ID and signature, so an
// auditor can check them without runbook, and how its actor was verified.
func TestExportCSVCarriesSignatures(t *testing.T) {
	sl := newSignedLog(t, 2)
	var b bytes.Buffer
	if _, err := Export(&b, sl.path, Filter{}, FormatCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		if r[col["key_id"]] != sl.signer.KeyID() || r[col["sig"]] == "" {
			t.Errorf("row %q: want key_id %s and a signature", r, sl.signer.KeyID())
		}
	}
}

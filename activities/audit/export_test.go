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
		if _, err := l.Append(Entry{ID: action, Time: base.Add(time.Duration(i) * time.Hour), Actor: "alice",
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

package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// rawEdit rewrites the stored bytes of entry seq with f, as someone with
// write access to the file or the table would, keeping every hash valid
// where the store hashes the stored bytes themselves.
func rawEdit(t *testing.T, sc storeCase, seq int64, f func(string) string) {
	t.Helper()
	switch tp := sc.tamper.(type) {
	case fileTamper:
		lines := readLines(t, string(tp))
		lines[seq-1] = f(lines[seq-1])
		writeLines(t, string(tp), lines)
	case pgTamper:
		tp.do(t, func(tx pgx.Tx) error {
			var body string
			if err := tx.QueryRow(t.Context(), "SELECT canonical FROM runbook_audit WHERE seq = $1", seq).Scan(&body); err != nil {
				return err
			}
			body = f(body)
			sum := sha256.Sum256([]byte(body))
			_, err := tx.Exec(t.Context(), "UPDATE runbook_audit SET canonical = $2, hash = $3 WHERE seq = $1", seq, body, hex.EncodeToString(sum[:]))
			return err
		})
	default:
		t.Fatalf("no raw edit for %T", tp)
	}
}

// Each of these records decodes to exactly the entry that was appended, so
// re-encoding it hashes right; only comparing the stored bytes with the
// canonical encoding shows the edit.
func TestAuditStoreNonCanonicalRecords(t *testing.T) {
	reorder := regexp.MustCompile(`^\{("seq":\d+),("id":"[^"]*")`)
	cases := []struct {
		name string
		edit func(string) string
		msg  string
	}{
		{"case-variant key", func(s string) string {
			return strings.Replace(s, `"actor":"runbook"`, `"actor":"mallory","Actor":"runbook"`, 1)
		}, "not the canonical encoding"},
		{"duplicate key", func(s string) string {
			return strings.Replace(s, `"actor":"runbook"`, `"actor":"mallory","actor":"runbook"`, 1)
		}, "not the canonical encoding"},
		{"extra whitespace", func(s string) string {
			return strings.Replace(s, `,"action":`, `, "action": `, 1)
		}, "not the canonical encoding"},
		{"reordered keys", func(s string) string { return reorder.ReplaceAllString(s, `{$2,$1`) }, "not the canonical encoding"},
		{"escaped character", func(s string) string {
			return strings.Replace(s, `"actor":"runbook"`, `"actor":"r\u0075nbook"`, 1)
		}, "not the canonical encoding"},
		{"unknown field", func(s string) string { return strings.Replace(s, `{"seq"`, `{"approver":"alice","seq"`, 1) }, "not a valid entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, sc storeCase) {
				s := sc.open(t)
				appendN(t, s, 10)
				rawEdit(t, sc, 7, func(s string) string {
					out := tc.edit(s)
					if out == s {
						t.Fatalf("edit changed nothing in %s", s)
					}
					return out
				})
				wantBrokenAt(t, s, 7, tc.msg)
			})
		})
	}
}

// A file line names its line number too, so an operator can open it.
func TestAuditNonCanonicalLineNamesTheLine(t *testing.T) {
	path := t.TempDir() + "/audit.jsonl"
	l := openLog(t, path)
	writeN(t, l, 3)
	lines := readLines(t, path)
	lines[1] = strings.Replace(lines[1], `"actor":"runbook"`, `"actor":"mallory","Actor":"runbook"`, 1)
	writeLines(t, path, lines)
	_, err := Verify(path)
	if err == nil || !strings.Contains(err.Error(), "entry 2: the stored record is not the canonical encoding") {
		t.Fatalf("Verify = %v, want entry 2 reported as not canonical", err)
	}
	if _, err := Open(path); err == nil {
		t.Error("Open accepted a log with a non-canonical line")
	}
}

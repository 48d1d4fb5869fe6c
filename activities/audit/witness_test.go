package audit

import (
	"testing"
	"time"
)

// The log's ID in Temporal is the same for the worker and an auditor who
// connect as different roles, and differs between databases.
func TestAuditLogID(t *testing.T) {
	worker, err := LogID("", "postgres://runbook_worker:secret@db.internal:5432/runbook_audit?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	auditor, _ := LogID("", "host=db.internal port=5432 user=auditor password=other dbname=runbook_audit")
	other, _ := LogID("", "postgres://runbook_worker:secret@db.internal:5432/other_audit")
	if worker != "postgres://db.internal:5432/runbook_audit" || auditor != worker || other == worker {
		t.Errorf("LogID: worker %q, auditor %q, other database %q", worker, auditor, other)
	}
	if id, err := LogID("audit.jsonl", ""); err != nil || id == "audit.jsonl" || id[0] != '/' {
		t.Errorf("LogID of a relative file = %q, %v; want its absolute path", id, err)
	}
}

func TestAuditParseTemporalEvery(t *testing.T) {
	for in, want := range map[string]time.Duration{"": time.Minute, "off": 0, "30s": 30 * time.Second} {
		if got, err := ParseTemporalEvery(in); err != nil || got != want {
			t.Errorf("ParseTemporalEvery(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0s", "1ms", "daily"} {
		if _, err := ParseTemporalEvery(in); err == nil {
			t.Errorf("ParseTemporalEvery(%q) accepted", in)
		}
	}
}

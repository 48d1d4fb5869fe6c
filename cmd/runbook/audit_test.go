package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// auditPG starts a PostgreSQL server for the audit CLI tests; without the
// binaries it skips, except in CI.
func auditPG(t *testing.T) *pg.Server {
	t.Helper()
	return pg.StartForTest(t)
}

// auditBackend is where the CLI finds the log in one subtest, and how the
// test writes to it and tampers with it behind the CLI's back.
type auditBackend struct {
	name   string
	setup  func(t *testing.T) audit.Store
	tamper func(t *testing.T)
}

func auditBackends(srv *pg.Server) []auditBackend {
	var path, dsn string
	db := func(t *testing.T) string {
		dsn, err := srv.CreateDatabase(t.Context(), pg.DatabaseName(t.Name()))
		if err != nil {
			t.Fatal(err)
		}
		return dsn
	}
	openPG := func(t *testing.T) audit.Store {
		p, err := audit.OpenPostgres(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []auditBackend{
		{name: "file", setup: func(t *testing.T) audit.Store {
			path = filepath.Join(t.TempDir(), "audit.jsonl")
			t.Setenv("RUNBOOK_AUDIT_LOG", path)
			l, err := audit.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, tamper: func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"actor":"user-5"`, `"actor":"mallory"`, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "postgres", setup: func(t *testing.T) audit.Store {
			dsn = db(t)
			t.Setenv("RUNBOOK_AUDIT_DSN", dsn)
			t.Setenv(audit.EnvDSNAllowOwner, "1") // prune writes, as the superuser
			return openPG(t)
		}, tamper: func(t *testing.T) { tamperPG(t, dsn) }},
		{name: "postgres via DSN file", setup: func(t *testing.T) audit.Store {
			dsn = db(t)
			file := filepath.Join(t.TempDir(), "audit-dsn")
			if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("RUNBOOK_AUDIT_DSN_FILE", file)
			t.Setenv(audit.EnvDSNAllowOwner, "1")
			return openPG(t)
		}, tamper: func(t *testing.T) { tamperPG(t, dsn) }},
	}
}

// tamperPG edits entry 5 as a superuser who turned the trigger off.
func tamperPG(t *testing.T, dsn string) {
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(t.Context()) }()
	for _, sql := range []string{
		"ALTER TABLE runbook_audit DISABLE TRIGGER USER",
		`UPDATE runbook_audit SET actor = 'mallory', canonical = replace(canonical, '"actor":"user-5"', '"actor":"mallory"') WHERE seq = 5`,
		"ALTER TABLE runbook_audit ENABLE TRIGGER USER",
	} {
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// TestAuditCLI runs show, verify, export and prune against the file and
// against PostgreSQL, before and after a prune and after tampering.
func TestAuditCLI(t *testing.T) {
	srv := auditPG(t)
	for _, be := range auditBackends(srv) {
		t.Run(be.name, func(t *testing.T) {
			isolateConfig(t)
			s := be.setup(t)
			var stored []audit.Entry
			for i := 1; i <= 6; i++ {
				e := audit.Entry{ID: fmt.Sprintf("e%d", i), Time: time.Date(2025, 6, i, 12, 0, 0, 0, time.UTC), Actor: fmt.Sprintf("user-%d", i),
					Action: "step.succeeded", Release: "release/checkout/1.4.2", Service: "checkout", Outcome: "ok"}
				if i == 2 {
					e.Digest, e.Commit, e.BreakGlass = "sha256:"+strings.Repeat("0f", 32), "9fceb02d", true
				}
				got, err := s.Append(t.Context(), e)
				if err != nil {
					t.Fatal(err)
				}
				stored = append(stored, got)
			}
			_ = s.Close()

			// Whatever the CLI prints names the log but never its password.
			mustRun := func(t *testing.T, args ...string) string {
				out := mustRun(t, args...)
				if strings.Contains(out, srv.Password) {
					t.Errorf("runbook %v printed the database password:\n%s", args, out)
				}
				return out
			}
			out := mustRun(t, "audit", "verify")
			if !strings.Contains(out, "chain intact: 6 entries, seq 1..6, from the first entry") {
				t.Errorf("verify: %s", out)
			}
			if out := mustRun(t, "audit", "show", "--release", "release/checkout/1.4.2"); strings.Count(out, "\n") != 6 || !strings.Contains(out, `"break_glass":true`) {
				t.Errorf("show:\n%s", out)
			}
			out = mustRun(t, "audit", "export", "--format", "csv")
			if !strings.HasPrefix(out, "seq,time,actor,channel,action,release,service,environment,version,step,outcome,detail,digest,commit,break_glass,id,prev,hash,identity,key_id,sig\n") ||
				!strings.Contains(out, ",sha256:0f0f") || !strings.Contains(out, ",9fceb02d,true,e2,") {
				t.Errorf("export csv:\n%s", out)
			}

			out = mustRun(t, "audit", "prune", "--before", "2025-06-04", "--as", "carol")
			if !strings.Contains(out, "pruned 3 entries (seq 1..3, older than 2025-06-04T00:00:00Z)") || !strings.Contains(out, "recorded as entry 7") {
				t.Errorf("prune: %s", out)
			}
			out = mustRun(t, "audit", "verify")
			if want := fmt.Sprintf("chain intact: 4 entries, seq 4..7, anchored at seq 3 (hash %s)", stored[2].Hash); !strings.Contains(out, want) {
				t.Errorf("verify after prune: %s, want %s", out, want)
			}
			var v struct {
				Intact    bool  `json:"intact"`
				AnchorSeq int64 `json:"anchor_seq"`
			}
			if err := json.Unmarshal([]byte(mustRun(t, "audit", "verify", "-o", "json")), &v); err != nil || !v.Intact || v.AnchorSeq != 3 {
				t.Errorf("verify -o json = %+v, %v", v, err)
			}
			out = mustRun(t, "audit", "show")
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.Contains(lines[3], `"action":"audit.pruned"`) || !strings.Contains(lines[3], `"actor":"carol"`) {
				t.Errorf("show after prune:\n%s", out)
			}
			if out := mustRun(t, "audit", "prune", "--before", "2025-06-04"); !strings.Contains(out, "nothing to prune") {
				t.Errorf("second prune: %s", out)
			}

			be.tamper(t)
			for _, args := range [][]string{{"audit", "verify"}, {"audit", "export"}} {
				stdout, _, err := run(t, args...)
				exit := asExit(t, err)
				if exit.code != 1 || strings.Contains(exit.msg, srv.Password) || !strings.Contains(exit.msg, "entry 5") || !strings.Contains(exit.msg, "hash mismatch") {
					t.Errorf("%v after tampering: code %d %q, stdout %q", args, exit.code, exit.msg, stdout)
				}
			}
			_, _, err := run(t, "audit", "prune", "--before", "2025-06-06")
			if exit := asExit(t, err); !strings.Contains(exit.msg, "entry 5") || !strings.Contains(exit.msg, "nothing pruned") {
				t.Errorf("prune of a tampered log: %q", exit.msg)
			}
		})
	}
}

// TestAuditCLIConfigErrors: a contradictory or bad setting stops the command
// with a message that does not leak the DSN.
func TestAuditCLIConfigErrors(t *testing.T) {
	isolateConfig(t)
	t.Setenv("RUNBOOK_AUDIT_DSN", "postgres://u:s3cret@127.0.0.1:1/x")
	t.Setenv("RUNBOOK_AUDIT_DSN_FILE", "/nonexistent")
	if _, _, err := run(t, "audit", "verify"); err == nil || !strings.Contains(err.Error(), "not both") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("both DSN settings: %v", err)
	}
	t.Setenv("RUNBOOK_AUDIT_DSN_FILE", "")
	_, _, err := run(t, "audit", "verify")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "postgres://u@127.0.0.1:1/x") {
		t.Errorf("unreachable database: %v", err)
	}
	t.Setenv("RUNBOOK_AUDIT_DSN", "")
	t.Setenv("RUNBOOK_AUDIT_RETENTION", "forever")
	if _, _, err := run(t, "audit", "verify"); err == nil || !strings.Contains(err.Error(), "RUNBOOK_AUDIT_RETENTION") {
		t.Errorf("bad retention: %v", err)
	}
	t.Setenv("RUNBOOK_AUDIT_RETENTION", "")
	if _, _, err := run(t, "audit", "prune"); err == nil || !strings.Contains(err.Error(), "--before is required") {
		t.Errorf("prune without --before: %v", err)
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("runbook %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

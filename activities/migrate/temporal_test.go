package migrate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/runbookhq/runbook/internal/testenv/pg"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// lockedBuffer is a log sink the activity goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestActivityEnvironment runs Status, Up and a failing Up as Temporal
// activities on Postgres: results and DirtyDetails survive the data
// converter, Up heartbeats its progress, and the log has no password.
func TestActivityEnvironment(t *testing.T) {
	t.Parallel()
	d := newDB(t, Postgres, "app")
	var logs lockedBuffer
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	env := ts.NewTestActivityEnvironment()
	a := &Activities{}
	env.RegisterActivity(a)
	var mu sync.Mutex
	var beats []Progress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p Progress
		if err := d.Get(&p); err != nil {
			t.Errorf("heartbeat details: %v", err)
		}
		mu.Lock()
		beats = append(beats, p)
		mu.Unlock()
	})

	v, err := env.ExecuteActivity(a.Up, UpInput{Target: d.target, To: 2})
	if err != nil {
		t.Fatal(err)
	}
	var res UpResult
	if err := v.Get(&res); err != nil || res.To != 2 || len(res.Applied) != 2 || res.Applied[0].File != "001_create_items.up.sql" {
		t.Fatalf("up = %+v, %v", res, err)
	}
	v, err = env.ExecuteActivity(a.Status, StatusInput{d.target})
	var st StatusResult
	if err != nil || v.Get(&st) != nil || st.Version != 2 || len(st.Pending) != 1 || st.Pending[0].Reasons[0] != "003_drop_note.up.sql:2: DROP COLUMN" {
		t.Fatalf("status = %+v, %v", st, err)
	}

	writeFile(t, filepath.Join(d.target.Migrations, "003_drop_note.up.sql"), "ALTER TABLE items\n  DROP COLUMN nope;\n")
	_, err = env.ExecuteActivity(a.Up, UpInput{Target: d.target, AllowContract: true})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrDirty || !ae.NonRetryable() {
		t.Fatalf("failing up: %v", err)
	}
	var det DirtyDetails
	if err := ae.Details(&det); err != nil || det.Version != 3 || det.File != "003_drop_note.up.sql" || !strings.Contains(det.Error, `column "nope"`) {
		t.Errorf("details = %+v, %v", det, err)
	}

	mu.Lock()
	first := beats[0]
	mu.Unlock()
	if first.Phase != "up" || first.Total != 2 {
		t.Errorf("first heartbeat = %+v, want phase up, total 2", first)
	}
	out := logs.String()
	if !strings.Contains(out, "migrate up") || !strings.Contains(out, "db=postgres://runbook@127.0.0.1:") {
		t.Errorf("log lacks the migration: %s", out)
	}
	noSecret(t, "log", out, pg.Shared(t).Password)
}

// TestCancelStopsBetweenMigrations: a cancel lets the running migration
// finish and starts no other, so the database is never left dirty.
func TestCancelStopsBetweenMigrations(t *testing.T) {
	t.Parallel()
	d := newDB(t, SQLite, "")
	writeSlowMigrations(t, d, 5)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var seen []Progress
	a := &Activities{observe: func(p Progress) {
		seen = append(seen, p)
		if p.Done == 1 {
			cancel()
		}
	}}
	_, err := a.Up(ctx, UpInput{Target: d.target})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	st, err := a.Status(t.Context(), StatusInput{d.target})
	if err != nil || st.Dirty || st.Version < 1 || st.Version > 2 {
		t.Errorf("status after cancel = %+v, %v (progress %+v)", st, err, seen)
	}
	res, err := a.Up(t.Context(), UpInput{Target: d.target})
	if err != nil || res.To != 5 || res.From != st.Version {
		t.Errorf("up after cancel = %+v, %v", res, err)
	}
}

// TestProgress: observed progress names each file and counts up to Total.
func TestProgress(t *testing.T) {
	t.Parallel()
	d := newDB(t, SQLite, "app")
	var seen []Progress
	a := &Activities{observe: func(p Progress) { seen = append(seen, p) }}
	if _, err := a.Up(t.Context(), UpInput{Target: d.target, To: 2}); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range seen {
		if p.Current != "" {
			files = append(files, p.Current)
		}
	}
	last := seen[len(seen)-1]
	if strings.Join(files, ",") != "001_create_items.up.sql,002_add_note.up.sql" || last.Done != 2 || last.Total != 2 {
		t.Errorf("progress = %+v", seen)
	}
	if _, err := a.Down(t.Context(), DownInput{Target: d.target, ToNothing: true}); err != nil {
		t.Fatal(err)
	}
	if p := seen[len(seen)-2]; p.Phase != "down" || p.Current != "001_create_items.down.sql" {
		t.Errorf("down progress = %+v", seen)
	}
}

package migrate

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStatusOnEmptyDatabase(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		st, err := (&Activities{}).Status(t.Context(), StatusInput{d.target})
		if err != nil {
			t.Fatal(err)
		}
		if st.HasVersion || st.Dirty || st.Version != 0 || len(st.Applied) != 0 || !reflect.DeepEqual(versions(st.Pending), []uint{1, 2, 3}) {
			t.Errorf("status = %+v", st)
		}
		if st.Pending[2].Class != Contract {
			t.Errorf("003 class = %s", st.Pending[2].Class)
		}
	})
}

func TestUpToVersionThenLatest(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		a := &Activities{}
		res, err := a.Up(t.Context(), UpInput{Target: d.target, To: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.From != 0 || res.HadVersion || res.To != 2 || !reflect.DeepEqual(versions(res.Applied), []uint{1, 2}) {
			t.Errorf("up to 2 = %+v", res)
		}
		if got := d.columns(t, "items"); !reflect.DeepEqual(got, []string{"id", "name", "note"}) {
			t.Errorf("columns = %q", got)
		}
		st, err := a.Status(t.Context(), StatusInput{d.target})
		if err != nil || st.Version != 2 || !st.HasVersion || !reflect.DeepEqual(versions(st.Pending), []uint{3}) {
			t.Errorf("status = %+v, %v", st, err)
		}
		// Up never goes down, and a second Up to the same version is a no-op.
		for _, to := range []uint{1, 2} {
			res, err = a.Up(t.Context(), UpInput{Target: d.target, To: to})
			if err != nil || res.From != 2 || res.To != 2 || !res.HadVersion || len(res.Applied) != 0 {
				t.Errorf("up to %d again = %+v, %v", to, res, err)
			}
		}
		res, err = a.Up(t.Context(), UpInput{Target: d.target, AllowContract: true})
		if err != nil || res.From != 2 || res.To != 3 || !reflect.DeepEqual(versions(res.Applied), []uint{3}) {
			t.Errorf("up to latest = %+v, %v", res, err)
		}
		if got := d.columns(t, "items"); !reflect.DeepEqual(got, []string{"id", "name"}) {
			t.Errorf("columns after 003 = %q", got)
		}
	})
}

func TestUpRefusesContract(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		a := &Activities{}
		res, err := a.Up(t.Context(), UpInput{Target: d.target})
		ae := appErr(t, err, ErrContract, true)
		for _, want := range []string{"003_drop_note.up.sql:2: DROP COLUMN", "`ALTER TABLE items DROP COLUMN note`", "nothing was applied"} {
			if !strings.Contains(ae.Message(), want) {
				t.Errorf("message %q lacks %q", ae.Message(), want)
			}
		}
		var bad []Migration
		if err := ae.Details(&bad); err != nil || len(bad) != 1 || bad[0].Version != 3 {
			t.Errorf("details = %+v, %v", bad, err)
		}
		if len(res.Applied) != 0 {
			t.Errorf("applied %+v", res.Applied)
		}
		st, err := a.Status(t.Context(), StatusInput{d.target})
		if err != nil || st.HasVersion {
			t.Errorf("status after refusal = %+v, %v", st, err)
		}
		if got := d.columns(t, "items"); len(got) != 0 {
			t.Errorf("items exists: %q", got)
		}
	})
}

func TestUpAllowContract(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		res, err := (&Activities{}).Up(t.Context(), UpInput{Target: d.target, AllowContract: true})
		if err != nil || res.To != 3 || !reflect.DeepEqual(versions(res.Applied), []uint{1, 2, 3}) {
			t.Fatalf("up = %+v, %v", res, err)
		}
		if res.Applied[2].Class != Contract || len(res.Applied[2].Reasons) != 1 {
			t.Errorf("applied 003 = %+v", res.Applied[2])
		}
		if got := d.columns(t, "items"); !reflect.DeepEqual(got, []string{"id", "name"}) {
			t.Errorf("columns = %q", got)
		}
	})
}

// TestDownToRecordedVersion is the compensation: back to UpResult.From, then
// (a first release) back to nothing.
func TestDownToRecordedVersion(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		a := &Activities{}
		first, err := a.Up(t.Context(), UpInput{Target: d.target, To: 1})
		if err != nil {
			t.Fatal(err)
		}
		second, err := a.Up(t.Context(), UpInput{Target: d.target, To: 2})
		if err != nil || second.From != 1 || !second.HadVersion {
			t.Fatalf("second up = %+v, %v", second, err)
		}
		down, err := a.Down(t.Context(), DownInput{Target: d.target, To: second.From})
		if err != nil || down.From != 2 || down.To != 1 {
			t.Fatalf("down = %+v, %v", down, err)
		}
		if got := d.columns(t, "items"); !reflect.DeepEqual(got, []string{"id", "name"}) {
			t.Errorf("columns after down to 1 = %q, want note gone", got)
		}
		// A retried compensation finds nothing to do.
		if again, err := a.Down(t.Context(), DownInput{Target: d.target, To: second.From}); err != nil || again.From != 1 || again.To != 1 {
			t.Errorf("down again = %+v, %v", again, err)
		}
		if first.HadVersion {
			t.Fatalf("first up had a version: %+v", first)
		}
		down, err = a.Down(t.Context(), DownInput{Target: d.target, ToNothing: true})
		if err != nil || down.From != 1 || down.To != 0 {
			t.Fatalf("down to nothing = %+v, %v", down, err)
		}
		if got := d.columns(t, "items"); len(got) != 0 {
			t.Errorf("items still has %q", got)
		}
		st, err := a.Status(t.Context(), StatusInput{d.target})
		if err != nil || st.HasVersion || st.Dirty {
			t.Errorf("status = %+v, %v", st, err)
		}
	})
}

func TestDownRefusesIrreversible(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		a := &Activities{}
		if _, err := a.Up(t.Context(), UpInput{Target: d.target, AllowContract: true}); err != nil {
			t.Fatal(err)
		}
		_, err := a.Down(t.Context(), DownInput{Target: d.target, To: 1})
		ae := appErr(t, err, ErrIrreversible, true)
		if !strings.Contains(ae.Message(), "003_drop_note.up.sql (no down file)") {
			t.Errorf("message = %s", ae.Message())
		}
		if st, _ := a.Status(t.Context(), StatusInput{d.target}); st.Version != 3 {
			t.Errorf("version after refusal = %d", st.Version)
		}

		// A down file without the marker is not enough either.
		if _, err := a.Force(t.Context(), ForceInput{Target: d.target, Version: 2}); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d.target.Migrations, "002_add_note.up.sql"), "ALTER TABLE items ADD COLUMN note TEXT;\n")
		_, err = a.Down(t.Context(), DownInput{Target: d.target, To: 1})
		ae = appErr(t, err, ErrIrreversible, true)
		if !strings.Contains(ae.Message(), "002_add_note.up.sql (no line -- runbook: reversible in the up file)") {
			t.Errorf("message = %s", ae.Message())
		}
	})
}

// TestFailingMigration: ErrDirty names the file and (Postgres) the
// statement; Status shows dirty; Force clears it; the fixed file runs.
func TestFailingMigration(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		a := &Activities{}
		bad := "-- runbook: reversible\nALTER TABLE items ADD COLUMN note TEXT;\n\nINSERT INTO items (id, nope)\n  VALUES (1, 'x');\n"
		up := filepath.Join(d.target.Migrations, "002_add_note.up.sql")
		writeFile(t, up, bad)
		res, err := a.Up(t.Context(), UpInput{Target: d.target, To: 2})
		ae := appErr(t, err, ErrDirty, true)
		var det DirtyDetails
		if err := ae.Details(&det); err != nil {
			t.Fatal(err)
		}
		if det.Version != 2 || det.File != "002_add_note.up.sql" || !strings.Contains(det.Error, "nope") {
			t.Errorf("details = %+v", det)
		}
		if d.driver == Postgres {
			if det.Statement != "INSERT INTO items (id, nope) VALUES (1, 'x')" || !strings.Contains(ae.Message(), "002_add_note.up.sql failed at line 4") {
				t.Errorf("statement = %q, message = %s", det.Statement, ae.Message())
			}
		}
		if !strings.Contains(ae.Message(), "Force the version the schema is at (1 if nothing stayed)") {
			t.Errorf("message = %s", ae.Message())
		}
		if !reflect.DeepEqual(versions(res.Applied), []uint{1}) {
			t.Errorf("applied = %+v", res.Applied)
		}
		st, err := a.Status(t.Context(), StatusInput{d.target})
		if err != nil || !st.Dirty || st.Version != 2 {
			t.Fatalf("status = %+v, %v", st, err)
		}
		_, err = a.Up(t.Context(), UpInput{Target: d.target, To: 2})
		if ae := appErr(t, err, ErrDirty, true); !strings.Contains(ae.Message(), "dirty at version 2") {
			t.Errorf("second up: %s", ae.Message())
		}

		f, err := a.Force(t.Context(), ForceInput{Target: d.target, Version: 1})
		if err != nil || f.Version != 1 {
			t.Fatalf("force = %+v, %v", f, err)
		}
		if got := d.columns(t, "items"); !reflect.DeepEqual(got, []string{"id", "name"}) {
			t.Errorf("columns = %q: the failed file was not rolled back", got)
		}
		copyDir(t, "testdata/app", d.target.Migrations)
		res, err = a.Up(t.Context(), UpInput{Target: d.target, To: 2})
		if err != nil || res.From != 1 || res.To != 2 || !reflect.DeepEqual(versions(res.Applied), []uint{2}) {
			t.Errorf("up after the fix = %+v, %v", res, err)
		}
	})
}

func TestForceToNoVersion(t *testing.T) {
	eachDriver(t, "app", func(t *testing.T, d db) {
		a := &Activities{}
		if _, err := a.Up(t.Context(), UpInput{Target: d.target, To: 1}); err != nil {
			t.Fatal(err)
		}
		f, err := a.Force(t.Context(), ForceInput{Target: d.target, Version: -1})
		if err != nil || f.Version != -1 {
			t.Errorf("force -1 = %+v, %v", f, err)
		}
		_, err = a.Force(t.Context(), ForceInput{Target: d.target, Version: 7})
		appErr(t, err, ErrInvalid, true)
	})
}

// TestIndexConcurrently: CREATE INDEX CONCURRENTLY, which refuses to run in
// a transaction, works alone in its file (expand), and fails, leaving the
// database dirty, when the file has other statements.
func TestIndexConcurrently(t *testing.T) {
	t.Parallel()
	d := newDB(t, Postgres, "app")
	writeFile(t, filepath.Join(d.target.Migrations, "003_drop_note.up.sql"), "CREATE INDEX CONCURRENTLY items_name ON items (name);\n")
	a := &Activities{}
	res, err := a.Up(t.Context(), UpInput{Target: d.target})
	if err != nil || res.To != 3 {
		t.Fatalf("up = %+v, %v", res, err)
	}
	writeFile(t, filepath.Join(d.target.Migrations, "004_two.up.sql"), "ALTER TABLE items ADD COLUMN sku text;\nCREATE INDEX CONCURRENTLY items_sku ON items (sku);\n")
	_, err = a.Up(t.Context(), UpInput{Target: d.target})
	ae := appErr(t, err, ErrDirty, true)
	if !strings.Contains(ae.Message(), "cannot run inside a transaction block") {
		t.Errorf("message = %s", ae.Message())
	}
}

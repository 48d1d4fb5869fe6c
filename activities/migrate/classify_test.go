package migrate

import (
	"reflect"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	type want struct {
		file       string
		class      string
		reasons    []string
		reversible bool
	}
	tests := []struct {
		dir  string
		want []want
	}{
		{"app", []want{
			{"001_create_items.up.sql", Expand, nil, true},
			{"002_add_note.up.sql", Expand, nil, true},
			{"003_drop_note.up.sql", Contract, []string{"003_drop_note.up.sql:2: DROP COLUMN"}, false},
		}},
		{"classify/expand", []want{
			{"001_create.up.sql", Expand, nil, false},
			{"002_columns.up.sql", Expand, nil, false},
			{"003_data.up.sql", Expand, nil, false},
		}},
		{"classify/contract", []want{
			{"001_drops.up.sql", Contract, []string{
				"001_drops.up.sql:1: DROP TABLE", "001_drops.up.sql:2: DROP COLUMN", "001_drops.up.sql:4: DROP INDEX"}, false},
			{"002_renames.up.sql", Contract, []string{
				"002_renames.up.sql:1: RENAME TABLE", "002_renames.up.sql:2: RENAME COLUMN"}, false},
			{"003_types.up.sql", Contract, []string{
				"003_types.up.sql:1: ALTER COLUMN ... TYPE", "003_types.up.sql:2: ALTER COLUMN ... TYPE",
				"003_types.up.sql:3: ALTER COLUMN ... SET NOT NULL", "003_types.up.sql:4: ADD COLUMN ... NOT NULL without DEFAULT"}, false},
			{"004_data.up.sql", Contract, []string{
				"004_data.up.sql:1: UPDATE", "004_data.up.sql:2: DELETE", "004_data.up.sql:3: TRUNCATE",
				"004_data.up.sql:4: " + unrecognised}, false},
		}},
		{"classify/override", []want{{"001_function.up.sql", Expand, nil, false}}},
		{"classify/tricky", []want{
			{"001_literals.up.sql", Expand, nil, false},
			{"002_trailing.up.sql", Contract, []string{"002_trailing.up.sql:5: UPDATE"}, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := Classify("testdata/" + tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d migrations, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.File != w.file || g.Class != w.class || !reflect.DeepEqual(g.Reasons, w.reasons) || g.Reversible != w.reversible {
					t.Errorf("%d: got %s %s %q reversible=%v\nwant %s %s %q reversible=%v",
						i, g.File, g.Class, g.Reasons, g.Reversible, w.file, w.class, w.reasons, w.reversible)
				}
				if g.Version != uint(i+1) {
					t.Errorf("%s: version %d, want %d", g.File, g.Version, i+1)
				}
			}
		})
	}
}

func TestClassifyNames(t *testing.T) {
	got, err := Classify("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Name != "add_note" || got[1].Version != 2 {
		t.Errorf("got %+v", got[1])
	}
}

// TestClassifyRefuses: what golang-migrate would run differently from what
// Classify looked at is an error, as is a mistyped directive.
func TestClassifyRefuses(t *testing.T) {
	for dir, want := range map[string]string{
		"directive":   `001_x.up.sql:1: unknown directive "reversable"`,
		"misnamed":    "001-x.up.sql: not named NNN_name.up.sql",
		"orphan_down": "002_y.down.sql: no up file for version 2",
		"other_ext":   "002_x.up.txt: golang-migrate would run it as a migration",
		"missing":     "read the migrations directory",
	} {
		_, err := Classify("testdata/bad/" + dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to contain %q", dir, err, want)
		}
	}
}

// TestJudgeStatements covers rules the fixture files do not.
func TestJudgeStatements(t *testing.T) {
	for sql, want := range map[string]string{
		"ALTER TABLE a ADD COLUMN b int NULL":                         "",
		"ALTER TABLE a ADD b int PRIMARY KEY":                         "ADD COLUMN ... NOT NULL without DEFAULT",
		"ALTER TABLE a ADD COLUMN b int GENERATED ALWAYS AS IDENTITY": "",
		"alter table only public.a add constraint c check (b > 0)":    "ADD CONSTRAINT (the old version may violate it)",
		"ALTER TABLE a ALTER COLUMN b DROP NOT NULL":                  "",
		"ALTER TABLE a ALTER COLUMN b DROP DEFAULT":                   "ALTER COLUMN ... DROP DEFAULT",
		"ALTER TABLE a OWNER TO bob":                                  unrecognised,
		"ALTER INDEX i RENAME TO j":                                   "RENAME INDEX",
		"CREATE UNIQUE INDEX i ON a (b)":                              "CREATE UNIQUE INDEX (a constraint the old version may violate)",
		"CREATE OR REPLACE VIEW v AS SELECT 1":                        "",
		"INSERT INTO a VALUES (1) ON CONFLICT (id) DO UPDATE SET b=1": "INSERT ... upsert (rewrites existing rows)",
		"INSERT INTO a VALUES (1) ON CONFLICT DO NOTHING":             "",
		"DROP MATERIALIZED VIEW m":                                    "DROP MATERIALIZED VIEW",
		"SELECT setval('s', 10)":                                      unrecognised,
		`"weird" statement`:                                           unrecognised,
	} {
		stmts, _ := split(sql)
		if len(stmts) != 1 {
			t.Fatalf("%s: %d statements", sql, len(stmts))
		}
		got := strings.Join(judge(stmts[0].Tokens), "; ")
		if got != want {
			t.Errorf("%s: got %q, want %q", sql, got, want)
		}
	}
}

func TestSplitLinesAndText(t *testing.T) {
	sql := "-- head\nCREATE TABLE a (x text DEFAULT ';');\n\n  /* c */ INSERT INTO a\n  VALUES ($t$;$t$);\nDROP TABLE a"
	stmts, _ := split(sql)
	var got []string
	for _, s := range stmts {
		got = append(got, strings.Join([]string{string(rune('0' + s.Line)), oneLine(s.Text, 100)}, " "))
	}
	want := []string{"2 CREATE TABLE a (x text DEFAULT ';')", "4 INSERT INTO a VALUES ($t$;$t$)", "6 DROP TABLE a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	line, stmt := statementAt(sql, strings.Index(sql, "VALUES")+1)
	if line != 5 || stmt != "INSERT INTO a VALUES ($t$;$t$)" {
		t.Errorf("statementAt = %d %q", line, stmt)
	}
}

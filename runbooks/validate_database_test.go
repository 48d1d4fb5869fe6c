package runbooks

import "testing"

func TestMigrateRunbookIsValid(t *testing.T) {
	src := infraHead + `    database: {url: env:CHECKOUT_DB, driver: sqlite, migrations: ./migrations}
    steps:
      - name: expand
        migrate: {to: 3}
      - name: contract
        migrate: {phase: contract, approvers: [alice]}
`
	if _, err := Parse("ok.yaml", []byte(src)); err != nil {
		t.Fatalf("valid migrate runbook refused:\n%v", err)
	}
}

func TestMigrateProblems(t *testing.T) {
	tests := []struct {
		name, src, where string
		fragments        []string
	}{
		{"connection string in the runbook", infraHead + `    database: {url: "env:postgres://u:secret@db/x", migrations: ./m}
    steps:
      - name: m
        migrate: {}
`, "d.yaml:8:21", []string{"must be a reference, env:NAME or file:PATH"}},
		{"no database", infraHead + `    steps:
      - name: m
        migrate: {}
`, "d.yaml:10:9", []string{`migrate step "m" needs a database section`}},
		{"bad phase", infraHead + `    database: {url: env:DB, migrations: ./m}
    steps:
      - name: m
        migrate: {phase: shrink}
`, "d.yaml:11:26", []string{`phase "shrink" is not expand`}},
		{"bad driver", infraHead + `    database: {url: env:DB, driver: mysql, migrations: ./m}
    steps:
      - name: m
        migrate: {}
`, "d.yaml:8:37", []string{`driver "mysql" is not supported`}},
		{"migrations missing", infraHead + `    database: {url: env:DB}
    steps:
      - name: m
        migrate: {}
`, "d.yaml:8:15", []string{"database.migrations is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "d.yaml", tt.src)
			wantProblemContaining(t, ps, tt.where, tt.fragments...)
		})
	}
}

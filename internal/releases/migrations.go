package releases

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/runbooks"
)

// resolveDatabases makes every environment's migrations directory absolute
// (relative to the runbook) and checks its migrations against the migrate
// steps, so a contract change in an expand phase is refused before a release
// starts, naming the file and the statement.
func resolveDatabases(envs []runbooks.Environment, dir string) ([]runbooks.Environment, error) {
	out := make([]runbooks.Environment, len(envs))
	copy(out, envs)
	for i := range out {
		if out[i].Database == nil {
			continue
		}
		db := *out[i].Database
		if !filepath.IsAbs(db.Migrations) {
			db.Migrations = filepath.Join(dir, db.Migrations)
		}
		abs, err := filepath.Abs(db.Migrations)
		if err != nil {
			return nil, err
		}
		db.Migrations = abs
		out[i].Database = &db
		if err := CheckMigrations(out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CheckMigrations classifies an environment's migrations and refuses an
// expand-phase step that would run a contract migration. The directory must
// be absolute or relative to the working directory.
func CheckMigrations(env runbooks.Environment) error {
	if env.Database == nil {
		return nil
	}
	if st, err := os.Stat(env.Database.Migrations); err != nil || !st.IsDir() {
		return fmt.Errorf("environment %s: database.migrations %s is not a directory of migrations", env.Name, env.Database.Migrations)
	}
	ms, err := migrate.Classify(env.Database.Migrations)
	if err != nil {
		return fmt.Errorf("environment %s: %w", env.Name, err)
	}
	var problems []string
	for _, s := range env.Steps {
		if s.Migrate == nil || s.Migrate.Phase == "contract" {
			continue
		}
		for _, m := range ms {
			if m.Class != "contract" || (s.Migrate.To != 0 && m.Version > uint(s.Migrate.To)) {
				continue
			}
			for k, reason := range m.Reasons {
				stmt := ""
				if k < len(m.Statements) {
					stmt = fmt.Sprintf(" in `%s`", m.Statements[k])
				}
				problems = append(problems, fmt.Sprintf("%s%s — step %q is an expand phase; run it in a `phase: contract` step after the traffic moved, or stop this step before version %d with `to:`",
					filepath.Join(env.Database.Migrations, reason), stmt, s.Name, m.Version))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("environment %s: contract migrations in an expand phase:\n  %s", env.Name, strings.Join(problems, "\n  "))
	}
	return nil
}

// CheckFiles checks what a runbook names on disk — infra modules and
// migrations — the way a release would resolve them.
func CheckFiles(path string, rb *runbooks.Runbook) error {
	envs, err := resolveModules(rb.Environments, filepath.Dir(path))
	if err != nil {
		return err
	}
	_, err = resolveDatabases(envs, filepath.Dir(path))
	return err
}

// MigrationTarget is the database of one environment of a runbook, with its
// migrations directory resolved like a release resolves it.
func MigrationTarget(path string, rb *runbooks.Runbook, env string) (migrate.Target, error) {
	for _, e := range rb.Environments {
		if e.Name != env {
			continue
		}
		if e.Database == nil {
			return migrate.Target{}, fmt.Errorf("environment %s of %s has no database section", env, rb.Service)
		}
		// No expand/contract check here: `migrate status` is how one looks
		// at the classes when that check fails.
		dir := e.Database.Migrations
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(path), dir)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return migrate.Target{}, err
		}
		return migrate.Target{URL: e.Database.URL, Driver: e.Database.Driver, Migrations: abs}, nil
	}
	return migrate.Target{}, fmt.Errorf("%s has no environment %q", rb.Service, env)
}

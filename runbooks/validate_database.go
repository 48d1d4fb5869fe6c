package runbooks

import (
	"strings"
)

// trafficKinds are the steps that move traffic to the new version; a
// contract migration may only run after all of them.
var trafficKinds = []string{KindCanary, KindLinear, KindBlueGreen, KindAllAtOnce}

// database checks an environment's database section. The connection string
// itself never appears in a runbook: it holds a password.
func (v *validator) database(path string, db *Database) {
	if v.required(path+".url", "database.url", db.URL, "write env:NAME or file:PATH; the connection string stays out of the runbook") {
		ref, name, _ := strings.Cut(db.URL, ":")
		switch {
		case ref == "env" && envNameRe.MatchString(name):
			v.neverEnv(path+".url", db.URL)
		case ref == "file" && strings.TrimSpace(name) != "":
		default:
			v.errf(path+".url", "database.url must be a reference, env:NAME or file:PATH, never the connection string itself (it holds a password)")
		}
	}
	switch db.Driver {
	case "", "postgres", "sqlite":
	default:
		v.errf(path+".driver", "driver %q is not supported; use postgres or sqlite", db.Driver)
	}
	v.required(path+".migrations", "database.migrations", db.Migrations, "name the directory of NNN_name.up.sql files, relative to the runbook")
}

// migrateStep checks a migrate step: the environment needs a database, the
// phase is expand or contract, and a contract step runs after every step
// that moves traffic, when no old version reads the schema any more.
func (v *validator) migrateStep(path string, e *Environment, i int) {
	s := &e.Steps[i]
	if s.Migrate == nil || !v.ok(path+"."+KindMigrate) {
		return
	}
	p := path + "." + KindMigrate
	if e.Database == nil {
		v.c.addf(v.keyAt(p), "%s needs a database section in %s (database: {url: env:NAME, migrations: ./migrations})", called("migrate step", s.Name), called("environment", e.Name))
	}
	switch s.Migrate.Phase {
	case "", "expand":
	case "contract":
		for j := i + 1; j < len(e.Steps); j++ {
			if k := e.Steps[j].Kind(); contains(trafficKinds, k) {
				v.errf(p+".phase", "a contract migration must run after all traffic is on the new version, but %s (%s) comes after it; move this step after it", called("step", e.Steps[j].Name), k)
				break
			}
		}
	default:
		v.errf(p+".phase", "phase %q is not expand (additive changes, before the traffic moves) or contract (drops and rewrites, after)", s.Migrate.Phase)
	}
	if s.Migrate.To < 0 {
		v.errf(p+".to", "to must be a migration version (0 or more; 0 means the latest)")
	}
	v.approvers(p, s.Migrate.Approvers, 0)
}

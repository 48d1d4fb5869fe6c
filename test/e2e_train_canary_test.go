package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// trainDBRunbook is the database migration service: golang-migrate on a
// real SQLite database, in production.
const trainDBRunbook = `api-version: runbook/v1
service: {{.X.Name}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    identity: unsigned
    database:
      url: env:DB_URL
      driver: sqlite
      migrations: {{.X.Migrations}}
    steps:
      - name: schema
        migrate:
          phase: expand
`

// trainAPIRunbook is the API: its smoke test in production.
const trainAPIRunbook = `api-version: runbook/v1
service: {{.X.Name}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    identity: unsigned
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/api/healthz", interval: 250ms}}
`

const trainCanaryFile = `api-version: runbook/v1
train: %[1]s
environments: [production]
rollback-scope: dependents
services:
  - {name: %[1]s-db, runbook: db.yaml, version: "%[2]s", digest: "%[3]s"}
  - {name: %[1]s-api, runbook: api.yaml, version: "%[2]s", digest: "%[3]s", after: [%[1]s-db]}
  - {name: %[1]s, runbook: runbook.yaml, version: "%[2]s", digest: "%[4]s", after: [%[1]s-api]}
`

// TestTrainWebCanaryBreachRollsBackExactlyItsDependents: a three-service
// train (a database migration service, the API after it, the web after
// the API) on the real stack. In the second train the web's canary breaches
// in production under load: its own release moves traffic back to the
// version before, and rollback-scope dependents rolls back exactly what
// depends on the web — nothing — keeping the migrated schema and the API,
// each saying why.
func TestTrainWebCanaryBreachRollsBackExactlyItsDependents(t *testing.T) {
	t.Parallel()
	r := newRig(t, "trainweb")
	db := sqliteDB(t)
	r.env = append(r.env, dbVar+"="+db.dsn)
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 50, 100}})
	s.startLoad(t)
	rec := newRecorder(t)
	var digest string
	_, digest = r.writeRunbook("db.yaml", trainDBRunbook, map[string]any{"Name": r.service + "-db", "Migrations": copyMigrations(t, "expand")})
	r.writeRunbook("api.yaml", trainAPIRunbook, map[string]any{"Name": r.service + "-api", "URL": rec.srv.URL})
	writeTrain := func(version string) string {
		p := filepath.Join(r.dir, "train-"+version+".yaml")
		if err := os.WriteFile(p, fmt.Appendf(nil, trainCanaryFile, r.service, version, digest, s.digest), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	id1 := workflows.TrainID(r.service, "w1")
	r.mustCLI("train", "deploy", writeTrain("1.0.0"), "--name", "w1", "--as", requester)
	st := r.waitTrain(id1, "train w1 finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("train w1 is %s (%s), want succeeded", st.State, st.Reason)
	}
	if v, dirty, _ := db.version(t); v != 2 || dirty {
		t.Fatalf("schema at %d (dirty %t) after w1, want 2", v, dirty)
	}

	id2 := workflows.TrainID(r.service, "w2")
	r.mustCLI("train", "deploy", writeTrain("2.0.0"), "--name", "w2", "--as", requester)
	web := workflows.TrainCellID(id2, r.service, "production")
	r.waitFor(web, "the web canary at its second weight", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 2
	})
	s.fault("blue", 1)
	st = r.waitTrain(id2, "train w2 finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateFailed || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("train w2 is %s (%s), want failed on the web's SLO breach", st.State, st.Reason)
	}
	if c := mustCell(t, st, "production", r.service); c.State != workflows.StateRolledBack {
		t.Errorf("web is %s (%s), want rolled back by its own release", c.State, c.Reason)
	}
	if w := s.weights(); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the breach the proxy has %v, want all traffic back on green (1.0.0)", w)
	}
	for _, svc := range []string{"-db", "-api"} {
		c := mustCell(t, st, "production", r.service+svc)
		if c.State != workflows.StateSucceeded || !strings.Contains(c.Reason, "does not depend on "+r.service) {
			t.Errorf("%s is %s (%q), want kept, saying it does not depend on the web", svc, c.State, c.Reason)
		}
	}
	if rbs := st.Environments[0].Rollbacks; len(rbs) != 0 {
		t.Errorf("the train rolled back %+v; nothing depends on the web", rbs)
	}
	if v, dirty, _ := db.version(t); v != 2 || dirty {
		t.Errorf("schema at %d (dirty %t) after w2, want 2 kept", v, dirty)
	}
}

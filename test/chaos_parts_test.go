package test

// The real parts a chaos trial's step kind needs: OpenTofu with infra/local
// (a sample app process), a PostgreSQL database with three reversible
// migrations, the edge proxy in front of two sample apps under load, an HTTP
// receiver that applies effects once per Idempotency-Key, and a fake Slack.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

// chaosRunbook has the sections of one step kind and a last check, verdict,
// that passes or fails as the trial wants (a failure rolls the release back).
const chaosRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-chaos
artifact:
  reference: {{.X.Binary}}
policy:
  destructive-changes-need-approval: false
environments:
  - name: production
{{- if .X.Slack}}
    slack:
      channel: C0CHAOS
    approvals:
      - name: go-live
        approvers: [alice]
{{- end}}
{{- if .X.Admin}}
    traffic:
      provider: edge
      options:
        admin: {{.X.Admin}}
        token: env:CHAOS_EDGE_TOKEN
      slots:
        blue: {}
        green: {}
    metrics:
      provider: edge
      options:
        url: {{.X.Admin}}/metrics
    slos:
      - name: errors
        error-ratio: 0.5
{{- end}}
{{- if .X.Port}}
    infra:
      module: {{.X.Module}}
      vars:
        binary: ${artifact}
        app_version: ${version}
        port: "{{.X.Port}}"
        run_dir: {{.X.RunDir}}
      on-rollback: destroy
{{- end}}
{{- if .X.Migrations}}
    database:
      url: file:{{.X.DSNFile}}
      driver: postgres
      migrations: {{.X.Migrations}}
{{- end}}
    steps:
{{- if .X.Port}}
      - name: provision
        provision: {}
{{- end}}
{{- if .X.Migrations}}
      - name: schema
        migrate: {}
{{- end}}
{{- if .X.Hook}}
      - name: register
        http-check:
          url: {{.X.URL}}/effect/register
          method: POST
          timeout: 3s
          interval: 250ms
          deadline: 2m
        on-rollback:
          url: {{.X.URL}}/effect/unregister
          method: POST
{{- end}}
{{- if .X.Admin}}
      - name: cutover
        blue-green:
          analysis-interval: 1s
          rollback-window: 2s
{{- end}}
      - name: verdict
        http-check:
          url: {{.X.URL}}/verdict
          interval: 250ms
          deadline: 1s
`

// chaosParts are one trial's real parts; zero fields are parts it lacks.
type chaosParts struct {
	c       *chaosRun
	effects *effectServer
	verdict *httptest.Server
	// provision
	port           int
	runDir, module string
	// migrate
	dsn, dsnFile, migrations string
	// traffic
	edge  *edgeproxy.Server
	token string
	// slack
	slack *slackfake.Server
	// slackAddr is the worker's own HTTP address (Slack interactions).
	slackAddr string
}

func newChaosParts(t *testing.T, c *chaosRun) *chaosParts {
	p := &chaosParts{c: c}
	p.startEffects(t)
	switch c.tr.op.kind {
	case "provision":
		p.port, p.runDir = appPort(t), filepath.Join(c.r.dir, "run")
		p.module = filepath.Join(repoRoot(t), "infra", "local")
		t.Cleanup(p.destroyInfra)
	case "migrate":
		p.startDatabase(t)
	case "traffic":
		p.startTraffic(t)
	case "slack":
		p.slack = slackfake.New(slackToken)
		p.slackAddr = fmt.Sprintf("127.0.0.1:%d", appPort(t))
		t.Cleanup(p.slack.Stop)
	}
	return p
}

// hook: the http-check and audit trials release through the step with an
// on-rollback hook.
func (p *chaosParts) hook() bool {
	k := p.c.tr.op.kind
	return k == "http-check" || k == "audit"
}

// data is what the runbook template sees under .X.
func (p *chaosParts) data() map[string]any {
	d := map[string]any{"Binary": p.c.cs.sampleapp, "URL": p.effects.srv.URL, "Slack": p.slack != nil, "Hook": p.hook(),
		"Admin": "", "Port": 0, "Migrations": ""}
	if p.verdict != nil {
		d["URL"] = p.verdict.URL
	}
	if p.edge != nil {
		d["Admin"] = "http://" + p.edge.AdminAddr()
	}
	if p.port != 0 {
		d["Port"], d["Module"], d["RunDir"] = p.port, p.module, p.runDir
	}
	if p.migrations != "" {
		d["Migrations"], d["DSNFile"] = p.migrations, p.dsnFile
	}
	return d
}

// workerEnv is what the chaos worker needs to reach the parts.
func (p *chaosParts) workerEnv() []string {
	var env []string
	if p.port != 0 {
		env = append(env, terraform.BinEnv+"="+tofuBin(p.c.t))
	}
	if p.token != "" {
		env = append(env, "CHAOS_EDGE_TOKEN="+p.token)
	}
	if p.slack != nil {
		env = append(env, "SLACK_BOT_TOKEN="+slackToken, "SLACK_SIGNING_SECRET="+slackSecret,
			"RUNBOOK_SLACK_API_URL="+p.slack.URL(), "RUNBOOK_SLACK_USERS=U0ALICE=alice", "RUNBOOK_HTTP_ADDR="+p.slackAddr)
	}
	return env
}

// startEffects starts the receiver of the hook trials' effects (once per
// Idempotency-Key) and of the verdict check.
func (p *chaosParts) startEffects(t *testing.T) {
	p.effects = &effectServer{effects: map[string]int{}, answers: map[string]string{}, keyPath: map[string]string{},
		requests: map[string][]string{}, seen: make(chan struct{}), release: make(chan struct{})}
	pass := p.c.tr.op.pass
	mux := http.NewServeMux()
	mux.HandleFunc("/effect/", p.effects.handle)
	mux.HandleFunc("/verdict", func(w http.ResponseWriter, _ *http.Request) {
		if !pass {
			http.Error(w, "chaos: this release must roll back", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	p.verdict = httptest.NewServer(mux)
	p.effects.srv = p.verdict
	t.Cleanup(p.verdict.Close)
}

// startDatabase creates the trial's database, writes three reversible
// migrations (the last two slow enough to be caught while they run) and
// applies the first, so a rollback has a version to go back to.
func (p *chaosParts) startDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := p.c.cs.pg.CreateDatabase(ctx, pg.DatabaseName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	p.dsn, p.dsnFile = dsn, filepath.Join(p.c.r.dir, "db.url")
	p.migrations = filepath.Join(p.c.r.dir, "migrations")
	files := map[string]string{
		"001_create_items.up.sql":   "-- runbook: reversible\nCREATE TABLE chaos_items (id INTEGER PRIMARY KEY);\n",
		"001_create_items.down.sql": "DROP TABLE chaos_items;\n",
		"002_add_name.up.sql":       "-- runbook: reversible\n-- runbook: expand\nSELECT pg_sleep(0.6);\nALTER TABLE chaos_items ADD COLUMN name TEXT;\n",
		"002_add_name.down.sql":     "SELECT pg_sleep(0.3);\nALTER TABLE chaos_items DROP COLUMN name;\n",
		"003_add_note.up.sql":       "-- runbook: reversible\n-- runbook: expand\nSELECT pg_sleep(0.6);\nALTER TABLE chaos_items ADD COLUMN note TEXT;\n",
		"003_add_note.down.sql":     "SELECT pg_sleep(0.3);\nALTER TABLE chaos_items DROP COLUMN note;\n",
	}
	if err := os.MkdirAll(p.migrations, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(p.migrations, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p.dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := migrate.Target{URL: "file:" + p.dsnFile, Driver: "postgres", Migrations: p.migrations}
	if _, err := (&migrate.Activities{}).Up(ctx, migrate.UpInput{Target: target, To: 1}); err != nil {
		t.Fatalf("migrate the trial's database to version 1: %v", err)
	}
}

// startTraffic runs two sample apps behind the edge proxy (green live at
// 100, blue the target) and sends load through it, so the bake has data.
func (p *chaosParts) startTraffic(t *testing.T) {
	blue, green := startSampleApp(t, "2.0.0"), startSampleApp(t, "1.0.0")
	p.token = randomToken(t)
	logf, err := os.Create(filepath.Join(p.c.r.dir, "edge.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logf.Close() })
	srv, err := edgeproxy.New(edgeproxy.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: p.token,
		StateFile: filepath.Join(p.c.r.dir, "edge.json"), Logger: slog.New(slog.NewTextHandler(logf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed([]edgeproxy.BackendSpec{{Name: "blue", URL: blue}, {Name: "green", URL: green, Weight: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	p.edge = srv
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := loadgen.Start(ctx, loadgen.Options{URL: "http://" + srv.ProxyAddr() + "/", Rate: 40}); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(cancel)
}

// workdir is the worker's OpenTofu working directory of the environment.
func (p *chaosParts) workdir() string {
	return filepath.Join(p.c.r.dir, "state", "state", p.c.r.service, "production")
}

// destroyInfra removes what a trial left running: OpenTofu destroy, then
// SIGKILL for any sample app still named in a pid file.
func (p *chaosParts) destroyInfra() {
	acts := &terraform.Activities{Bin: tofuBin(p.c.t), StateDir: filepath.Join(p.c.r.dir, "state", "state")}
	if _, err := os.Stat(p.workdir()); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		ws := terraform.Workspace{Service: p.c.r.service, Environment: "production", Module: p.module,
			Vars:    map[string]string{"binary": "/bin/true", "app_version": "0.0.0", "port": strconv.Itoa(p.port), "run_dir": p.runDir},
			Version: "0.0.0"}
		if _, err := acts.Destroy(ctx, terraform.DestroyInput{Workspace: ws}); err != nil {
			p.c.t.Logf("cleanup: tofu destroy: %v", err)
		}
		cancel()
	}
	for _, pid := range p.appPids() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// appPids are the live sample apps named in the run directory's pid files.
func (p *chaosParts) appPids() []int {
	var out []int
	files, _ := filepath.Glob(filepath.Join(p.runDir, "*.pid"))
	for _, f := range files {
		if pid, err := readPid(f); err == nil && isSampleApp(pid) {
			out = append(out, pid)
		}
	}
	return out
}

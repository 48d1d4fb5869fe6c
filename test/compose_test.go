package test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// composeFile is the subset of `docker-compose config` output the team set-up
// promises. Compose renders some fields in a short or a long form depending on
// its version, so those stay yaml.Node and are read by the helpers below.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Build       yaml.Node   `yaml:"build"`
	Environment yaml.Node   `yaml:"environment"`
	Ports       []yaml.Node `yaml:"ports"`
}

// TestComposeConfig checks docker-compose.yml with docker-compose itself (no
// daemon needed) and asserts the shape of the team set-up.
func TestComposeConfig(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("docker-compose not found on PATH in CI: run `make deps` (Debian package docker-compose)")
		}
		t.Skip("docker-compose not found on PATH; `make deps` installs it")
	}
	file := filepath.Join(moduleRoot(t), "docker-compose.yml")

	composeRun(t, bin, "-f", file, "config", "-q")
	out := composeRun(t, bin, "-f", file, "config")

	var cfg composeFile
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("parse docker-compose config output: %v\n%s", err, out)
	}
	for _, name := range []string{"postgresql", "temporal", "temporal-ui", "worker", "prometheus"} {
		if _, ok := cfg.Services[name]; !ok {
			t.Errorf("service %q missing from docker-compose.yml", name)
		}
	}

	worker := cfg.Services["worker"]
	if ctx := buildContext(worker.Build); !sameDir(ctx, filepath.Dir(file)) {
		t.Errorf("worker build context = %q, want the repository root %q", ctx, filepath.Dir(file))
	}
	env, err := environment(worker.Environment)
	if err != nil {
		t.Fatalf("worker environment: %v", err)
	}
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"} {
		if _, ok := env[k]; !ok {
			t.Errorf("worker environment lacks %s (has %v)", k, env)
		}
	}
	if dsn := env["RUNBOOK_AUDIT_DSN"]; !strings.Contains(dsn, "@postgresql:5432/runbook_audit") {
		t.Errorf("the team set-up's audit log should be the runbook_audit database of the compose PostgreSQL; RUNBOOK_AUDIT_DSN is %q", dsn)
	}
	if dsn := env["RUNBOOK_AUDIT_DSN"]; !strings.HasPrefix(dsn, "postgres://runbook_worker:") {
		t.Errorf("the compose worker should write the audit log as runbook_worker, which may only insert and read; RUNBOOK_AUDIT_DSN is %q", dsn)
	}

	for name, svc := range cfg.Services {
		for _, p := range svc.Ports {
			ip, err := hostIP(p)
			if err != nil {
				t.Errorf("service %s: %v", name, err)
				continue
			}
			if ip != "127.0.0.1" {
				t.Errorf("service %s publishes a port on %q; bind it to 127.0.0.1", name, orAll(ip))
			}
		}
	}
}

// composeRun runs docker-compose with an environment free of COMPOSE_* settings
// that would point it at other files or projects, and returns its stdout.
func composeRun(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	return composeRunEnv(t, nil, bin, args...)
}

// composeRunEnv is composeRun with the settings of extra (KEY=VALUE) in
// place of the environment's, for the variables the compose file reads.
func composeRunEnv(t *testing.T, extra []string, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "RUNBOOK_RETENTION=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, extra...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// buildContext reads `build: ctx` or `build: {context: ctx}`.
func buildContext(n yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.MappingNode:
		var b struct {
			Context string `yaml:"context"`
		}
		if n.Decode(&b) == nil {
			return b.Context
		}
	}
	return ""
}

// sameDir reports whether got (absolute, or relative to root) is root.
func sameDir(got, root string) bool {
	if got == "" {
		return false
	}
	if !filepath.IsAbs(got) {
		got = filepath.Join(root, got)
	}
	a, errA := filepath.EvalSymlinks(got)
	b, errB := filepath.EvalSymlinks(root)
	return errA == nil && errB == nil && a == b
}

// environment reads `environment` as a mapping or as a list of KEY=VALUE.
func environment(n yaml.Node) (map[string]string, error) {
	env := map[string]string{}
	switch n.Kind {
	case 0:
		return env, nil
	case yaml.MappingNode:
		var m map[string]*string
		if err := n.Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			if v != nil {
				env[k] = *v
			} else {
				env[k] = ""
			}
		}
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return nil, err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	default:
		return nil, fmt.Errorf("unexpected YAML kind %d", n.Kind)
	}
	return env, nil
}

// hostIP returns the host address a published port binds: the long form's
// host_ip, or the short form's [IP:]HOST:CONTAINER[/proto] prefix ("" = all).
func hostIP(n yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.MappingNode:
		var p struct {
			HostIP string `yaml:"host_ip"`
		}
		if err := n.Decode(&p); err != nil {
			return "", err
		}
		return p.HostIP, nil
	case yaml.ScalarNode:
		spec, _, _ := strings.Cut(n.Value, "/")
		parts := strings.Split(spec, ":")
		switch {
		case len(parts) == 1:
			return "", nil // container port only: published on a random host port, all addresses
		case len(parts) == 2:
			return "", nil
		default:
			// An IPv6 host address is bracketed: [::1]:80:80.
			return strings.Trim(strings.Join(parts[:len(parts)-2], ":"), "[]"), nil
		}
	}
	return "", errors.New("unreadable port entry " + n.Value)
}

func orAll(ip string) string {
	if ip == "" {
		return "all interfaces"
	}
	return ip
}

// pgxQueryRow reads one row of sql on the database dsn names into dest.
func pgxQueryRow(ctx context.Context, t *testing.T, dsn, sql string, dest ...any) error {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.QueryRow(ctx, sql).Scan(dest...)
}

// TestComposeAuditDatabaseInit runs the compose PostgreSQL's init script with
// psql on a real PostgreSQL, as the postgres image does on first start, and
// opens the audit store as runbook_worker, as the compose worker does: the
// team set-up's audit log works on first start, the worker role cannot undo
// what it wrote, and the worker refuses the superuser.
func TestComposeAuditDatabaseInit(t *testing.T) {
	t.Parallel()
	srv := pg.StartForTest(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const password = "worker-password-0123456789"
	script := filepath.Join(moduleRoot(t), "deploy", "postgres", "10-runbook-audit.sql")
	psql := exec.CommandContext(ctx, filepath.Join(srv.Bin, "psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-d", srv.URL("postgres"), "-f", script)
	psql.Env = append(os.Environ(), "RUNBOOK_AUDIT_WORKER_PASSWORD="+password, "RUNBOOK_AUDIT_MIN_AGE=400 days")
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("init script: %v\n%s", err, out)
	}
	worker := strings.Replace(srv.URL("runbook_audit"), url.UserPassword(srv.User, srv.Password).String(), url.UserPassword("runbook_worker", password).String(), 1)
	// The worker signs, so runbook_worker must be able to insert checkpoints.
	key := filepath.Join(t.TempDir(), "audit-key.pem")
	if _, err := audit.GenerateKey(key, key+".pub"); err != nil {
		t.Fatal(err)
	}
	store, err := audit.OpenStore(ctx, "", audit.DSN(worker), audit.KeyConfig{KeyFile: key})
	if err != nil {
		t.Fatalf("open the signing audit store as runbook_worker in the database the init script made: %v", err)
	}
	defer store.Close()
	if _, err := store.Append(ctx, audit.Entry{ID: "compose/1", Time: time.Now().UTC(), Action: "release.started", Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if res, err := store.Verify(ctx); err != nil || res.Entries != 1 {
		t.Errorf("verify: %+v, %v; want one entry, intact", res, err)
	}
	conn, err := pgx.Connect(ctx, worker)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"DELETE FROM runbook_audit",
		"UPDATE runbook_audit SET actor = 'mallory'",
		"TRUNCATE runbook_audit",
		"DROP TRIGGER runbook_audit_append_only ON runbook_audit",
		"UPDATE runbook_audit_settings SET min_age = interval '1 day'",
		"DELETE FROM runbook_audit_checkpoint",
		"UPDATE runbook_audit_checkpoint SET seq = 2",
	} {
		if _, err := conn.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s as runbook_worker: %v, want it refused", sql, err)
		}
	}
	var checkpoints int
	if err := pgxQueryRow(ctx, t, worker, "SELECT count(*) FROM runbook_audit_checkpoint WHERE seq = 1", &checkpoints); checkpoints != 1 {
		t.Errorf("checkpoints at seq 1: %d, %v; want the signed append's checkpoint", checkpoints, err)
	}
	var minAge string
	if err := pgxQueryRow(ctx, t, srv.URL("runbook_audit"), "SELECT min_age::text FROM runbook_audit_settings", &minAge); minAge != "400 days" {
		t.Errorf("min_age = %q, %v; want RUNBOOK_AUDIT_MIN_AGE's 400 days", minAge, err)
	}
	if _, err := audit.OpenStore(ctx, "", audit.DSN(srv.URL("runbook_audit")), audit.KeyConfig{}); !errors.Is(err, audit.ErrOwnerRole) {
		t.Errorf("open the audit store as the superuser = %v, want ErrOwnerRole (%s must not be set for this test)", err, audit.EnvDSNAllowOwner)
	}
}

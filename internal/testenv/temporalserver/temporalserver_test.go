package temporalserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"gopkg.in/yaml.v3"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

// TestConfigIsLoopbackAndDistinctPorts reads back the written config: every
// service binds 127.0.0.1 on a port of its own, and the password (with URL
// special characters) survives YAML.
func TestConfigIsLoopbackAndDistinctPorts(t *testing.T) {
	dir := t.TempDir()
	next := 40000
	ports, err := freePorts(func() (int, error) { next++; return next, nil }, lowFreePort)
	if err != nil {
		t.Fatal(err)
	}
	db := DB{Host: "127.0.0.1", Port: 5432, User: "u", Password: `pw/@:%?#"'`}
	if err := writeConfig(dir, ports, db); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Persistence struct {
			NumHistoryShards int `yaml:"numHistoryShards"`
			Datastores       map[string]struct {
				SQL struct {
					Password string `yaml:"password"`
				} `yaml:"sql"`
			} `yaml:"datastores"`
		} `yaml:"persistence"`
		Services map[string]struct {
			RPC struct {
				GRPC       int    `yaml:"grpcPort"`
				Membership int    `yaml:"membershipPort"`
				BindOnIP   string `yaml:"bindOnIP"`
			} `yaml:"rpc"`
		} `yaml:"services"`
	}
	readYAML(t, filepath.Join(dir, "config", "development.yaml"), &cfg)
	if cfg.Persistence.NumHistoryShards != HistoryShards {
		t.Errorf("shards = %d, want %d", cfg.Persistence.NumHistoryShards, HistoryShards)
	}
	for name, ds := range cfg.Persistence.Datastores {
		if ds.SQL.Password != db.Password {
			t.Errorf("%s password = %q, want %q", name, ds.SQL.Password, db.Password)
		}
	}
	seen := map[int]string{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		rpc := cfg.Services[name].RPC
		if rpc.BindOnIP != "127.0.0.1" {
			t.Errorf("%s binds %q, want 127.0.0.1", name, rpc.BindOnIP)
		}
		for _, p := range []int{rpc.GRPC, rpc.Membership} {
			if p == 0 || seen[p] != "" {
				t.Errorf("%s port %d is zero or also %s's", name, p, seen[p])
			}
			seen[p] = name
		}
		if rpc.Membership > lowPortMax {
			t.Errorf("%s membership port %d does not fit the server's smallint column", name, rpc.Membership)
		}
	}
	var dyn map[string][]struct {
		Value any `yaml:"value"`
	}
	readYAML(t, filepath.Join(dir, "config", "dynamicconfig.yaml"), &dyn)
	for _, key := range []string{"frontend.enableUpdateWorkflowExecution", "system.enableDeploymentVersions", "system.forceSearchAttributesCacheRefreshOnRead"} {
		if len(dyn[key]) != 1 || dyn[key][0].Value != true {
			t.Errorf("dynamic config %s = %v, want true", key, dyn[key])
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestStartOnPostgres starts the real server on a real PostgreSQL, then
// checks what runbook needs of it: the namespaces, search attributes, and
// the schema version the tool laid. Without the binaries it skips, unless
// CI is set, where it fails.
func TestStartOnPostgres(t *testing.T) {
	if _, _, _, err := Find(); errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	p := pg.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{PG: p, Dir: t.TempDir(), Namespaces: []string{"extra"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	c, err := client.DialContext(ctx, client.Options{HostPort: s.Address, Namespace: "extra", Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := releases.EnsureSearchAttributes(ctx, c, "extra"); err != nil {
		t.Fatal(err)
	}
	// SQL visibility keeps custom search attributes per namespace.
	attrs, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "extra"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := attrs.GetCustomAttributes()[name]; !ok {
			t.Errorf("search attribute %s not registered", name)
		}
	}
	// The server keeps its state in PostgreSQL, not in memory: the schema
	// tool recorded the version it laid, and the namespaces are rows there.
	conn, err := pgx.Connect(ctx, p.URL(DefaultDB))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var version string
	if err := conn.QueryRow(ctx, `SELECT curr_version FROM schema_version WHERE db_name = $1`, DefaultDB).Scan(&version); err != nil || version < "1.1" {
		t.Errorf("schema version of %s = %q (%v), want 1.x", DefaultDB, version, err)
	}
	var names []string
	rows, err := conn.Query(ctx, `SELECT name FROM namespaces WHERE name IN ('default', 'extra') ORDER BY name`)
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(names) != 2 {
		t.Errorf("namespaces in PostgreSQL = %v (%v), want default and extra", names, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

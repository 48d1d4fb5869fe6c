// Package temporalserver starts a real Temporal server for tests: the pinned
// go.temporal.io/server build (all four services in one process) on a
// PostgreSQL server from testenv/pg, with the schema laid by the server's
// own temporal-sql-tool, as a team would run it, in place of the CLI's dev
// server (SQLite, one process, features forced on). Every port is a free
// port on 127.0.0.1; the server is stopped by its pid.
package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runbookhq/runbook/internal/testenv"
	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// Environment variables naming the binaries; without them the pinned
// builds under .tools/bin are looked for upward from the working directory.
const (
	ServerBinEnv  = "RUNBOOK_TEMPORAL_SERVER_BIN"
	SQLToolBinEnv = "RUNBOOK_TEMPORAL_SQL_TOOL_BIN"
)

// ErrNotInstalled means the server or its schema tool was not found.
var ErrNotInstalled = errors.New("the Temporal server (temporal-server, temporal-sql-tool) was not found: run `make tools`, or set " + ServerBinEnv + " and " + SQLToolBinEnv)

// Retention is how long the namespaces keep closed workflows.
const Retention = 24 * time.Hour

// startTimeout bounds schema set-up plus the wait for the frontend.
const startTimeout = 3 * time.Minute

// Options configure one server.
type Options struct {
	// PG holds the server's two databases, created by Start.
	PG *pg.Server
	// Dir holds the config and the logs (server.log, schema.log).
	Dir string
	// Namespaces are registered besides "default".
	Namespaces []string
}

// Server is a running Temporal server.
type Server struct {
	*testenv.Server
	// Address is the frontend's gRPC address, 127.0.0.1:port.
	Address string
	Ports   Ports
}

// Find returns the server binary, the schema tool and the schema directory
// (schema/postgresql beside the server's real path, as the Makefile lays it).
func Find() (server, tool, schemaDir string, err error) {
	if server, err = find(ServerBinEnv, "temporal-server"); err != nil {
		return "", "", "", err
	}
	if tool, err = find(SQLToolBinEnv, "temporal-sql-tool"); err != nil {
		return "", "", "", err
	}
	resolved, err := filepath.EvalSymlinks(server)
	if err != nil {
		return "", "", "", err
	}
	schemaDir = filepath.Join(filepath.Dir(resolved), "schema", "postgresql")
	if _, err := os.Stat(schemaDir); err != nil {
		return "", "", "", fmt.Errorf("schema of the Temporal server: %w", err)
	}
	return server, tool, schemaDir, nil
}

func find(env, name string) (string, error) {
	var candidates []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, ".tools", "bin", name))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return testenv.FindBin(env, ErrNotInstalled, append(candidates, name)...)
}

// Start creates the databases on o.PG, lays the schema, starts the server
// and waits until every namespace answers. A port taken before the server
// binds it makes the start fail and try again with new ports.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, tool, schemaDir, err := Find()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	db := DB{Host: o.PG.Host, Port: o.PG.Port, User: o.PG.User, Password: o.PG.Password}
	if err := createDatabases(ctx, o.PG, tool, schemaDir, db, o.Dir); err != nil {
		return nil, err
	}
	var s *Server
	err = testenv.Retry(func() error {
		s, err = launch(ctx, bin, db, o)
		return err
	})
	return s, err
}

func createDatabases(ctx context.Context, p *pg.Server, tool, schemaDir string, db DB, dir string) error {
	for _, name := range []string{DefaultDB, VisibilityDB} {
		if _, err := p.CreateDatabase(ctx, name); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	log, err := os.Create(filepath.Join(dir, "schema.log"))
	if err != nil {
		return err
	}
	defer func() { _ = log.Close() }()
	return setupSchema(ctx, tool, schemaDir, db, log)
}

// launch is one attempt: fresh ports, config, process, readiness.
func launch(ctx context.Context, bin string, db DB, o Options) (*Server, error) {
	ports, err := freePorts(testenv.FreePort, lowFreePort)
	if err != nil {
		return nil, err
	}
	if err := writeConfig(o.Dir, ports, db); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports.Frontend)
	cmd := exec.Command(bin, "--root", o.Dir, "--config", "config", "--env", "development", "--allow-no-auth",
		"start", "--service", "frontend", "--service", "history", "--service", "matching", "--service", "worker")
	cmd.Dir = o.Dir
	namespaces := append([]string{"default"}, o.Namespaces...)
	ts, err := testenv.StartServer(testenv.Launch{
		Name: "temporal-server", Dir: o.Dir, Cmd: cmd, Timeout: startTimeout,
		Ready: func(ctx context.Context) (bool, error) { return ready(ctx, addr, namespaces), nil },
	})
	if err != nil {
		return nil, err
	}
	return &Server{Server: ts, Address: addr, Ports: ports}, nil
}

// ready registers each namespace (once: an existing one is fine) and
// reports whether all of them are served, i.e. in the frontend's namespace
// cache, which a list call goes through.
func ready(ctx context.Context, addr string, namespaces []string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quiet{}})
	if err != nil {
		return false
	}
	defer c.Close()
	for _, ns := range namespaces {
		if err := register(ctx, c, ns); err != nil {
			return false
		}
		_, err := c.WorkflowService().ListOpenWorkflowExecutions(ctx, &workflowservice.ListOpenWorkflowExecutionsRequest{Namespace: ns, MaximumPageSize: 1})
		if err != nil {
			return false
		}
	}
	return true
}

func register(ctx context.Context, c client.Client, ns string) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	return err
}

// quiet drops the SDK's logs while polling a server that is starting.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

package temporalserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// schemaDirs maps each database to its versioned schema directory under the
// module's schema/postgresql (the PostgreSQL 12+ schema, plugin postgres12).
var schemaDirs = map[string]string{
	DefaultDB:    filepath.Join("v12", "temporal", "versioned"),
	VisibilityDB: filepath.Join("v12", "visibility", "versioned"),
}

// setupSchema creates each database's schema with the server's own tool,
// as an operator would: setup-schema -v 0.0 (the bookkeeping tables), then
// update-schema with every versioned step. Both are idempotent on an
// existing schema of the same version.
func setupSchema(ctx context.Context, tool, schemaDir string, db DB, log *os.File) error {
	for _, name := range []string{DefaultDB, VisibilityDB} {
		steps := [][]string{
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "-d", filepath.Join(schemaDir, schemaDirs[name])},
		}
		for _, step := range steps {
			if err := runTool(ctx, tool, db, name, step, log); err != nil {
				return err
			}
		}
	}
	return nil
}

// runTool runs one temporal-sql-tool command against database name. The
// password goes in the environment (SQL_PASSWORD), not on the command line
// where ps shows it.
func runTool(ctx context.Context, tool string, db DB, name string, args []string, log *os.File) error {
	base := []string{"--plugin", "postgres12", "--ep", db.Host, "--port", strconv.Itoa(db.Port),
		"--user", db.User, "--db", name}
	cmd := exec.CommandContext(ctx, tool, append(base, args...)...)
	cmd.Env = append(os.Environ(), "SQL_PASSWORD="+db.Password)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("temporal-sql-tool %s on %s: %w (log: %s)", args[0], name, err, log.Name())
	}
	return nil
}

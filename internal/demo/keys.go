package demo

import (
	"fmt"
	"path/filepath"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/worker"
)

// demoKeys gives the demo's cast (the requester, demo-bot, the release
// office) an SSH key each under the state directory, and the in-process
// worker an allowed-signers file listing them, unless the operator set up
// trust roots of their own. Every decision of the demo is then signed and
// verified, as production needs.
func (r *run) demoKeys(cfg *worker.Config) error {
	if cfg.Trust.AllowedSignersFile != "" {
		return nil
	}
	dir, err := filepath.Abs(filepath.Join(cfg.StateDir, "demo", "keys"))
	if err != nil {
		return err
	}
	keys, file, err := identity.LocalKeyring(dir, r.o.Requester, demoApprover, demoFreezeActor)
	if err != nil {
		return fmt.Errorf("demo keys: %w", err)
	}
	cfg.Trust.AllowedSignersFile = file
	r.signer = keys
	fmt.Fprintf(r.out, "decisions are signed with the demo's keys in %s (allowed signers: %s)\n", dir, file)
	return nil
}

package worker

import (
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/hooks"
)

// hooksSetup loads the trigger file (RUNBOOK_TRIGGERS_FILE) and returns the
// handler of POST /hooks/release, or nil when no file is set. A bad file,
// a runbook that does not validate or a missing secret fails the start,
// not the first delivery.
func hooksSetup(cfg Config, c client.Client) (*hooks.Handler, error) {
	if cfg.TriggersFile == "" {
		return nil, nil
	}
	f, err := hooks.Load(cfg.TriggersFile, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(f.Triggers))
	for i, t := range f.Triggers {
		names[i] = t.Name
	}
	slog.Info("hooks: serving signed webhook deliveries", "path", hooks.Path, "file", f.Path, "triggers", names)
	// No signer: a trigger is no person, and Load refused runbooks whose
	// environments need a signed deploy.
	return &hooks.Handler{File: f, Starter: &hooks.ReleaseStarter{Releases: ReleasesClient(c, cfg, nil)}}, nil
}

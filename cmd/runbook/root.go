package main

import (
	"context"
	"io"
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/buildinfo"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/worker"
)

// app carries what every command needs; commands get it injected so tests
// can capture output.
type app struct {
	out, errOut io.Writer
	address     string
	namespace   string
}

func newRootCmd(out, errOut io.Writer) *cobra.Command {
	a := &app{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "runbook",
		Short:         "Durable deployment runbooks on Temporal",
		Long:          "runbook runs each release as a durable Temporal workflow: release windows, artifact checks,\napprovals and steps per environment, with automatic rollback of completed steps.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Version(),
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&a.address, "address", "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)")
	root.PersistentFlags().StringVar(&a.namespace, "namespace", "", "Temporal namespace (default $TEMPORAL_NAMESPACE or default)")
	root.AddCommand(
		newValidateCmd(a), newSchemaCmd(a), newDeployCmd(a), newStatusCmd(a), newWatchCmd(a),
		newDecideCmd(a, true), newDecideCmd(a, false),
		newControlCmd(a, "pause"), newControlCmd(a, "resume"), newControlCmd(a, "abort"), newControlCmd(a, "promote"),
		newListCmd(a), newWorkerCmd(a), newDevCmd(a), newDemoCmd(a), newAuditCmd(a), newDriftCmd(a), newMigrateCmd(a), newEdgeCmd(a), newMetricsCmd(a), newFreezeCmd(a), newTrafficCmd(a), newWhoamiCmd(a), newUICmd(a), newSLOCmd(a), newRollbackCmd(a), newPromoteEnvCmd(a), newScheduleCmd(a), newTrainCmd(a), newReportCmd(a), newNoteCmd(a), newFlagCmd(a), newCodecServerCmd(a), newDoctorCmd(a), newVersionCmd(a),
	)
	return root
}

// config loads the configuration and applies the global flags.
func (a *app) config() (worker.Config, error) {
	cfg, err := worker.LoadConfig()
	if err != nil {
		return cfg, err
	}
	if a.address != "" {
		cfg.Client.HostPort = a.address
	}
	if a.namespace != "" {
		cfg.Client.Namespace = a.namespace
	}
	// A worker made from a traced client traces its workflows and activities.
	cfg.Client.Interceptors = append(cfg.Client.Interceptors, tracingInterceptors()...)
	return cfg, nil
}

// releases connects and returns the release client; close it when done.
func (a *app) releases(ctx context.Context) (*releases.Client, func(), error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	signer, err := identity.SignerFromEnv(os.Getenv)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	rc := worker.ReleasesClient(c, cfg, signer)
	rc.ReportLink = workerReportLink
	return rc, c.Close, nil
}

// defaultActor is who the CLI acts as unless --as says otherwise.
func defaultActor() string {
	if v := os.Getenv("RUNBOOK_USER"); v != "" {
		return v
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

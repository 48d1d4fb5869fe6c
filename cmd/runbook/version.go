package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/buildinfo"
	"github.com/runbookhq/runbook/worker"
)

// newVersionCmd is `runbook version`: the binary's version and what a
// worker started here with the same environment would report to Worker
// Versioning.
func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, and the deployment and build ID a worker would run as ($RUNBOOK_DEPLOYMENT_NAME, $RUNBOOK_BUILD_ID)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			// Not LoadConfig: the version must print even where the rest of
			// the configuration is broken.
			cfg := worker.Config{DeploymentName: os.Getenv(worker.EnvDeploymentName), BuildID: os.Getenv(worker.EnvBuildID)}
			deployment := cfg.DeploymentName
			if deployment == "" {
				deployment = "(none: unversioned worker; set " + worker.EnvDeploymentName + ")"
			}
			_, err := fmt.Fprintf(a.out, "runbook %s\ndeployment: %s\nbuild id: %s\n", buildinfo.Version(), deployment, cfg.WorkerBuildID())
			return err
		},
	}
}

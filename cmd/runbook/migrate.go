package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

func newMigrateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Inspect schema migrations and decide on a failed one"}
	var env string
	var output outputFlag
	status := &cobra.Command{
		Use:   "status RUNBOOK --env E",
		Short: "Show the schema version, the dirty flag and the pending migrations with their class",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.migrateStatus(cmd, args[0], env, &output)
		},
	}
	status.Flags().StringVar(&env, "env", "", "environment (required)")
	output.register(status.Flags())
	cmd.AddCommand(status, newMigrationDecisionCmd(a, workflows.MigrationRetry), newMigrationDecisionCmd(a, workflows.MigrationForce))
	return cmd
}

// migrateStatus reads the database directly: the connection string reference
// (env:NAME or file:PATH) is resolved in this process.
func (a *app) migrateStatus(cmd *cobra.Command, path, env string, output *outputFlag) error {
	if env == "" {
		return fmt.Errorf("name the environment with --env")
	}
	rb, err := runbooks.Load(path)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	target, err := releases.MigrationTarget(path, rb, env)
	if err != nil {
		return err
	}
	st, err := (&migrate.Activities{}).Status(cmd.Context(), migrate.StatusInput{Target: target})
	if err != nil {
		return err
	}
	if output.json() {
		return output.encode(a.out, st)
	}
	version := fmt.Sprint(st.Version)
	if !st.HasVersion {
		version = "none (empty schema)"
	}
	fmt.Fprintf(a.out, "%s %s: schema version %s, dirty %t\n", rb.Service, env, version, st.Dirty)
	tw := tabwriter.NewWriter(a.out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "PENDING\tCLASS\tREVERSIBLE\tWHY")
	for _, m := range st.Pending {
		why := ""
		if len(m.Reasons) > 0 {
			why = m.Reasons[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", m.File, m.Class, m.Reversible, why)
	}
	return tw.Flush()
}

// newMigrationDecisionCmd builds `migrate retry` or `migrate force`.
func newMigrationDecisionCmd(a *app, action string) *cobra.Command {
	in := workflows.MigrationDecisionInput{Action: action}
	short := "Run the failed migrations again (after fixing the database or the file)"
	use := "retry ID"
	if action == workflows.MigrationForce {
		short, use = "Record the version the schema really is at, then continue migrating", "force ID --version N"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if action == workflows.MigrationForce && !cmd.Flags().Changed("version") {
				return fmt.Errorf("say which version the schema is at with --version N (-1 for none)")
			}
			return a.withReleases(cmd.Context(), func(rc *releases.Client) error {
				res, err := rc.ResolveMigration(cmd.Context(), args[0], in)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%s: step %s will %s\n", in.Actor, res.Step, res.Action)
				return nil
			})
		},
	}
	if action == workflows.MigrationForce {
		cmd.Flags().IntVar(&in.Version, "version", 0, "the version the schema is really at")
	}
	cmd.Flags().StringVar(&in.Actor, "as", defaultActor(), "who decides")
	cmd.Flags().StringVar(&in.Comment, "comment", "", "why, recorded in the audit log")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// newMigrateCmd groups the schema migration verbs.
func newMigrateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Inspect schema migrations and decide on a failed one"}
	cmd.AddCommand(newMigrateStatusCmd(a), newMigrationDecisionCmd(a, workflows.MigrationRetry), newMigrationDecisionCmd(a, workflows.MigrationForce))
	return cmd
}

// migrateStatusCmd is `runbook migrate status`. It reads the database
// directly: the connection string reference (env:NAME or file:PATH) is
// resolved in this process.
type migrateStatusCmd struct {
	a      *app
	env    string
	output outputFlag
}

func newMigrateStatusCmd(a *app) *cobra.Command {
	v := &migrateStatusCmd{a: a}
	cmd := &cobra.Command{
		Use:   "status RUNBOOK --env E",
		Short: "Show the schema version, the dirty flag and the pending migrations with their class",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.env, "env", "", "environment (required)")
	v.output.register(cmd.Flags())
	return cmd
}

func (v *migrateStatusCmd) run(ctx context.Context, path string) error {
	rb, err := loadRunbookFor(path, v.env)
	if err != nil {
		return err
	}
	target, err := releases.MigrationTarget(path, rb, v.env)
	if err != nil {
		return err
	}
	st, err := (&migrate.Activities{}).Status(ctx, migrate.StatusInput{Target: target})
	if err != nil {
		return err
	}
	return v.output.write(v.a.out, st, func() error {
		version := fmt.Sprint(st.Version)
		if !st.HasVersion {
			version = "none (empty schema)"
		}
		fmt.Fprintf(v.a.out, "%s %s: schema version %s, dirty %t\n", rb.Service, v.env, version, st.Dirty)
		tw := tabwriter.NewWriter(v.a.out, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "PENDING\tCLASS\tREVERSIBLE\tWHY")
		for _, m := range st.Pending {
			why := ""
			if len(m.Reasons) > 0 {
				why = m.Reasons[0]
			}
			fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", m.File, m.Class, m.Reversible, why)
		}
		return tw.Flush()
	})
}

// migrationDecisionCmd is `runbook migrate retry` or `runbook migrate force`.
type migrationDecisionCmd struct {
	a  *app
	in workflows.MigrationDecisionInput
	// flags tell whether --version was given: force needs it, 0 being a version.
	flags *pflag.FlagSet
}

// newMigrationDecisionCmd builds `migrate retry` or `migrate force`.
func newMigrationDecisionCmd(a *app, action string) *cobra.Command {
	v := &migrationDecisionCmd{a: a, in: workflows.MigrationDecisionInput{Action: action}}
	short := "Run the failed migrations again (after fixing the database or the file)"
	use := "retry ID"
	if action == workflows.MigrationForce {
		short, use = "Record the version the schema really is at, then continue migrating", "force ID --version N"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	v.flags = cmd.Flags()
	if action == workflows.MigrationForce {
		cmd.Flags().IntVar(&v.in.Version, "version", 0, "the version the schema is really at")
	}
	cmd.Flags().StringVar(&v.in.Actor, "as", defaultActor(), "who decides")
	cmd.Flags().StringVar(&v.in.Comment, "comment", "", "why, recorded in the audit log")
	return cmd
}

func (v *migrationDecisionCmd) run(ctx context.Context, id string) error {
	if v.in.Action == workflows.MigrationForce && !v.flags.Changed("version") {
		return errors.New("say which version the schema is at with --version N (-1 for none)")
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		res, err := rc.ResolveMigration(ctx, id, v.in)
		if err != nil {
			return err
		}
		fmt.Fprintf(v.a.out, "%s: step %s will %s\n", v.in.Actor, res.Step, res.Action)
		return nil
	})
}

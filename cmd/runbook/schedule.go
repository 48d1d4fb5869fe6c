package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// scheduleCmd holds the flags of the schedule verbs; each verb is a method.
type scheduleCmd struct {
	a                     *app
	cron, versionFrom, id string
	as                    string
	output                outputFlag
}

func newScheduleCmd(a *app) *cobra.Command {
	v := &scheduleCmd{a: a}
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Release a runbook on a schedule, with the version read when it fires",
		Long: "A release schedule is a Temporal Schedule. Each time it fires, it reads the version (and digest)\n" +
			"from --version-from and starts release/<service>/<version>, or skips when that release exists\n" +
			"(any state but failed). Firings never overlap; a missed one more than 1m late is dropped.\n" +
			"No one signs when a schedule fires, so only runbooks whose environments are identity: unsigned\n" +
			"can be scheduled.",
	}
	v.output.register(cmd.PersistentFlags())
	create := &cobra.Command{
		Use: "create RUNBOOK --cron EXPR --version-from REF", Short: "Create a release schedule", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return v.create(cmd.Context(), args[0]) },
	}
	create.Flags().StringVar(&v.cron, "cron", "", `when to fire, a cron expression in UTC, e.g. "0 9 * * TUE"`)
	create.Flags().StringVar(&v.versionFrom, "version-from", "", "where the version is read when it fires: oci://HOST/REPO:TAG, or a file holding the version (file:///PATH or PATH)")
	create.Flags().StringVar(&v.id, "id", "", "schedule ID (default scheduled-release/<service>)")
	create.Flags().StringVar(&v.as, "as", defaultActor(), "who creates the schedule (kept in its memo; releases name the schedule)")
	_ = create.MarkFlagRequired("cron")
	_ = create.MarkFlagRequired("version-from")
	list := &cobra.Command{
		Use: "list", Short: "List release schedules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.list(cmd.Context()) },
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a release schedule (releases it started go on)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return v.delete(cmd.Context(), args[0]) },
	}
	trigger := &cobra.Command{
		Use: "trigger ID", Short: "Fire a release schedule now and print what it did", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return v.trigger(cmd.Context(), args[0]) },
	}
	cmd.AddCommand(create, list, del, trigger)
	return cmd
}

func (v *scheduleCmd) create(ctx context.Context, path string) error {
	rb, err := loadRunbook(path)
	if err != nil {
		return err
	}
	id := v.id
	if id == "" {
		id = releases.DefaultScheduleID(rb.Service)
	}
	in, err := releases.ScheduledInputFor(releases.ScheduleRequest{ID: id, Cron: v.cron, VersionFrom: v.versionFrom, Path: path, Runbook: rb})
	if err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		if err := rc.CreateSchedule(ctx, v.cron, v.as, in); err != nil {
			return err
		}
		return v.output.write(v.a.out, map[string]string{"id": id}, func() error {
			fmt.Fprintf(v.a.out, "created schedule %s: %s at %q, version from %s\n", id, rb.Service, v.cron, in.VersionFrom)
			return nil
		})
	})
}

func (v *scheduleCmd) list(ctx context.Context) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		all, err := rc.ListSchedules(ctx)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, all, func() error {
			if len(all) == 0 {
				fmt.Fprintln(v.a.out, "no release schedules; create one with `runbook schedule create`")
			}
			for _, s := range all {
				next := "paused"
				if !s.Paused {
					next = "next " + s.Next.Local().Format(time.DateTime)
				}
				fmt.Fprintf(v.a.out, "%s  %q  %s  version from %s  (%s, by %s)\n", s.ID, s.Cron, s.Runbook, s.VersionFrom, next, s.CreatedBy)
			}
			return nil
		})
	})
}

func (v *scheduleCmd) delete(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		if err := rc.DeleteSchedule(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(v.a.out, "deleted schedule %s\n", id)
		return nil
	})
}

func (v *scheduleCmd) trigger(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		res, run, err := rc.TriggerSchedule(ctx, id)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, struct {
			Run string `json:"run"`
			workflows.ScheduledReleaseResult
		}{run, res}, func() error {
			fmt.Fprintf(v.a.out, "%s: %s\n", run, res.Summary)
			return nil
		})
	})
}

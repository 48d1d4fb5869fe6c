package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

// listCmd is `runbook list`.
type listCmd struct {
	a      *app
	filter releases.ListFilter
	since  string
	output outputFlag
}

func newListCmd(a *app) *cobra.Command {
	v := &listCmd{a: a}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List releases, newest first",
		Long:  "list lists releases, newest first, from Temporal's visibility store.\n" + retentionHelp,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	f := &v.filter
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
	cmd.Flags().StringVar(&f.Environment, "env", "", "only runs in this environment")
	cmd.Flags().StringVar(&f.Status, "status", "", "only this status (running, waiting, held, paused, succeeded, rolled-back, rollback-incomplete, failed)")
	cmd.Flags().StringVar(&f.Risk, "risk", "", "only releases assessed at this risk level (low, medium, high)")
	cmd.Flags().BoolVar(&f.BreakGlass, "break-glass", false, "only emergency (break-glass) releases")
	cmd.Flags().StringVar(&v.since, "since", "", "only releases started from this time on: an age (30d), a date or RFC 3339")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most this many")
	v.output.register(cmd.Flags())
	return cmd
}

func (v *listCmd) run(ctx context.Context) error {
	now := time.Now()
	since, err := parseWhen("--since", v.since, now)
	if err != nil {
		return err
	}
	v.filter.Since = since
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		warnRetention(ctx, v.a.errOut, rc, since, now)
		items, err := rc.List(ctx, v.filter)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, items, func() error {
			tw := tabwriter.NewWriter(v.a.out, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "RELEASE\tENVIRONMENT\tSTEP\tSTATUS\tSTARTED")
			for _, it := range items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ReleaseID, it.Environment, it.Step, it.Status, it.StartedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		})
	})
}

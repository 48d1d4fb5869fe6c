package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

// doraCmd is `runbook metrics dora`.
type doraCmd struct {
	a                   *app
	service, env, since string
	output              outputFlag
}

// newMetricsCmd builds `runbook metrics dora`.
func newMetricsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "metrics", Short: "Delivery metrics computed from the release history"}
	v := &doraCmd{a: a, output: outputFlag{indent: true}}
	dora := &cobra.Command{
		Use:   "dora",
		Short: "Deployment frequency, lead time, change failure rate and time to restore of a service",
		Long:  "dora computes the four DORA metrics of a service from its closed releases since --since.\n" + retentionHelp,
		Example: "  runbook metrics dora --service checkout --since 30d\n" +
			"  runbook metrics dora --service checkout --env production -o json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	f := dora.Flags()
	f.StringVar(&v.service, "service", "", "the service (required)")
	f.StringVar(&v.env, "env", "", "environment (default: each release's last one, normally production)")
	f.StringVar(&v.since, "since", "30d", "period start: an age (30d), a date or RFC 3339")
	v.output.register(f)
	cmd.AddCommand(dora)
	return cmd
}

func (v *doraCmd) run(ctx context.Context) error {
	if v.service == "" {
		return fmt.Errorf("name the service: --service NAME")
	}
	until := time.Now()
	from, err := parseWhen("--since", v.since, until)
	if err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		warnRetention(ctx, v.a.errOut, rc, from, until)
		d, err := rc.DORA(ctx, v.service, v.env, from, until)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, d, func() error {
			out := v.a.out
			where := d.Environment
			if where == "" {
				where = "the last environment"
			}
			fmt.Fprintf(out, "%s in %s, %s to %s\n", d.Service, where, d.Since.Format(time.DateOnly), d.Until.Format(time.DateOnly))
			fmt.Fprintf(out, "  deployment frequency  %d deployments, %.2f a day\n", d.Deployments, d.PerDay)
			fmt.Fprintf(out, "  lead time (median)    %s from commit (or release start) to success; %d of %d from a commit time\n",
				d.LeadTime.Round(time.Second), d.LeadTimeFromCommit, d.Deployments)
			fmt.Fprintf(out, "  change failure rate   %.0f%% (%d of %d changes)\n", 100*d.ChangeFailureRate, d.Failures, d.Failures+d.Deployments)
			fmt.Fprintf(out, "  time to restore       %s median over %d restores\n", d.TimeToRestore.Round(time.Second), d.Restores)
			return nil
		})
	})
}

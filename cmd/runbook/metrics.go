package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newMetricsCmd builds `runbook metrics dora`.
func newMetricsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "metrics", Short: "Delivery metrics computed from the release history"}
	var service, env, since, output string
	dora := &cobra.Command{
		Use:   "dora",
		Short: "Deployment frequency, lead time, change failure rate and time to restore of a service",
		Example: "  runbook metrics dora --service checkout --since 30d\n" +
			"  runbook metrics dora --service checkout --env production -o json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if service == "" {
				return fmt.Errorf("name the service: --service NAME")
			}
			until := time.Now()
			from, err := parseWhen("--since", since, until)
			if err != nil {
				return err
			}
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			d, err := rc.DORA(cmd.Context(), service, env, from, until)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			where := d.Environment
			if where == "" {
				where = "the last environment"
			}
			fmt.Fprintf(a.out, "%s in %s, %s to %s\n", d.Service, where, d.Since.Format(time.DateOnly), d.Until.Format(time.DateOnly))
			fmt.Fprintf(a.out, "  deployment frequency  %d deployments, %.2f a day\n", d.Deployments, d.PerDay)
			fmt.Fprintf(a.out, "  lead time (median)    %s from commit (or release start) to success; %d of %d from a commit time\n",
				d.LeadTime.Round(time.Second), d.LeadTimeFromCommit, d.Deployments)
			fmt.Fprintf(a.out, "  change failure rate   %.0f%% (%d of %d changes)\n", 100*d.ChangeFailureRate, d.Failures, d.Failures+d.Deployments)
			fmt.Fprintf(a.out, "  time to restore       %s median over %d restores\n", d.TimeToRestore.Round(time.Second), d.Restores)
			return nil
		},
	}
	f := dora.Flags()
	f.StringVar(&service, "service", "", "the service (required)")
	f.StringVar(&env, "env", "", "environment (default: each release's last one, normally production)")
	f.StringVar(&since, "since", "30d", "period start: an age (30d), a date or RFC 3339")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	cmd.AddCommand(dora)
	return cmd
}

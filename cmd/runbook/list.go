package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

func newListCmd(a *app) *cobra.Command {
	var f releases.ListFilter
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List releases, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			items, err := rc.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(a.out).Encode(items)
			}
			tw := tabwriter.NewWriter(a.out, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "RELEASE\tENVIRONMENT\tSTEP\tSTATUS\tSTARTED")
			for _, it := range items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ReleaseID, it.Environment, it.Step, it.Status, it.StartedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
	cmd.Flags().StringVar(&f.Environment, "env", "", "only runs in this environment")
	cmd.Flags().StringVar(&f.Status, "status", "", "only this status (running, paused, succeeded, rolled-back, failed)")
	cmd.Flags().StringVar(&f.Risk, "risk", "", "only releases assessed at this risk level (low, medium, high)")
	cmd.Flags().BoolVar(&f.BreakGlass, "break-glass", false, "only emergency (break-glass) releases")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most this many")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

func newStatusCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a release: environments, steps, pending approvals, rollback plan",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			st, err := rc.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			releases.Render(a.out, st)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

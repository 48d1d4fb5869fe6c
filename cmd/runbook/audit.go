package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/audit"
)

func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the audit log"}
	var release string
	show := &cobra.Command{
		Use:   "show",
		Short: "Print audit records as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			entries, err := audit.Read(cfg.AuditLog, audit.Filter{Release: release})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(a.out)
			for _, e := range entries {
				if err := enc.Encode(e); err != nil {
					return err
				}
			}
			return nil
		},
	}
	show.Flags().StringVar(&release, "release", "", "only this release ID")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain of the audit log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			res, err := audit.Verify(cfg.AuditLog)
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", cfg.AuditLog, err)}
			}
			fmt.Fprintf(a.out, "%s: %d records, chain intact\n", cfg.AuditLog, res.Entries)
			return nil
		},
	}
	cmd.AddCommand(show, verify)
	return cmd
}

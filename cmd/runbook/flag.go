package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// newFlagCmd is `runbook flag`: the kill switch.
func newFlagCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "flag", Short: "Feature flags outside a release: the kill switch"}
	var in workflows.FlagOffInput
	off := &cobra.Command{
		Use:   "off SERVICE|RUNBOOK FLAG --env E --reason ...",
		Short: "Turn a feature flag off at once, without a release: signed, audited, read back from the provider",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Flag = args[1]
			if in.Environment == "" {
				return fmt.Errorf("name the environment with --env")
			}
			return a.withReleases(cmd.Context(), func(rc *releases.Client) error {
				fl, service, err := flagsFor(cmd, rc, args[0], in.Environment)
				if err != nil {
					return err
				}
				in.Service, in.Provider, in.Options = service, fl.Provider, fl.Options
				res, err := rc.FlagOff(cmd.Context(), in)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%s: %s in %s/%s was %s, now %s (read back from %s)\n", res.Actor, res.Flag, service, in.Environment, res.Before, res.After, fl.Provider)
				return nil
			})
		},
	}
	off.Flags().StringVar(&in.Environment, "env", "", "the environment (required)")
	off.Flags().StringVar(&in.Reason, "reason", "", "why (required; goes to the audit log)")
	off.Flags().StringVar(&in.Actor, "as", defaultActor(), "who turns it off")
	cmd.AddCommand(off)
	return cmd
}

// flagsFor finds the environment's flag provider: in the runbook file
// named, or in the runbook of the service's last release there.
func flagsFor(cmd *cobra.Command, rc *releases.Client, target, env string) (*runbooks.Flags, string, error) {
	if fi, err := os.Stat(target); err == nil && !fi.IsDir() {
		rb, err := loadRunbook(target)
		if err != nil {
			return nil, "", err
		}
		for _, e := range rb.Environments {
			if e.Name == env && e.Flags != nil {
				return e.Flags, rb.Service, nil
			}
		}
		return nil, "", fmt.Errorf("%s has no flags section in environment %s", target, env)
	}
	fl, err := rc.FlagsOf(cmd.Context(), target, env)
	return fl, target, err
}

package main

import (
	"github.com/spf13/cobra"
)

func newWatchCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a release live until it ends; exit non-zero unless it succeeded",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			st, err := newFollower(a.out).follow(cmd.Context(), rc, args[0])
			if err != nil {
				return err
			}
			return outcome(st)
		},
	}
}

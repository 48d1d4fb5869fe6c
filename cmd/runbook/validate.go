package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
)

func newValidateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check runbooks; print every problem as file:line:col: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				rb, err := runbooks.Load(path)
				if err == nil {
					err = releases.CheckFiles(path, rb)
				}
				if err != nil {
					bad++
					var probs runbooks.Problems
					if errors.As(err, &probs) {
						for _, p := range probs {
							fmt.Fprintln(a.out, p.String())
						}
						continue
					}
					fmt.Fprintf(a.out, "%s: %v\n", path, err)
					continue
				}
				fmt.Fprintf(a.out, "%s: ok\n", path)
			}
			if bad > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d of %d runbook(s) invalid", bad, len(args))}
			}
			return nil
		},
	}
}

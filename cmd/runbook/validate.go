package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
)

// validateCmd is `runbook validate`.
type validateCmd struct {
	a *app
}

func newValidateCmd(a *app) *cobra.Command {
	v := &validateCmd{a: a}
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check runbooks; print every problem as file:line:col: message",
		Args:  cobra.MinimumNArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return v.run(args) },
	}
}

func (v *validateCmd) run(paths []string) error {
	bad := 0
	for _, path := range paths {
		if !v.check(path) {
			bad++
		}
	}
	if bad > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d runbook(s) invalid", bad, len(paths))}
	}
	return nil
}

// check prints the problems of the runbook at path, or that it is ok.
func (v *validateCmd) check(path string) bool {
	rb, err := runbooks.Load(path)
	if err == nil {
		err = releases.CheckFiles(path, rb)
	}
	var probs runbooks.Problems
	switch {
	case err == nil:
		fmt.Fprintf(v.a.out, "%s: ok\n", path)
	case errors.As(err, &probs):
		for _, p := range probs {
			fmt.Fprintln(v.a.out, p.String())
		}
	default:
		fmt.Fprintf(v.a.out, "%s: %v\n", path, err)
	}
	return err == nil
}

package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
)

type deployOptions struct {
	version, digest, as, output string
	wait                        bool
}

func newDeployCmd(a *app) *cobra.Command {
	o := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy RUNBOOK --version V",
		Short: "Validate a runbook and start a release of version V",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return a.deploy(cmd, args[0], o) },
	}
	cmd.Flags().StringVar(&o.version, "version", "", "version to release (required)")
	cmd.Flags().StringVar(&o.digest, "digest", "", "artifact digest sha256:<hex> (when the runbook has none)")
	cmd.Flags().StringVar(&o.as, "as", defaultActor(), "who requests the release")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the release until it ends; exit non-zero unless it succeeded")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "text or json")
	_ = cmd.MarkFlagRequired("version")
	return cmd
}

func (a *app) deploy(cmd *cobra.Command, path string, o *deployOptions) error {
	rb, err := runbooks.Load(path)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	in, err := releases.Resolve(releases.ResolveInput{Path: path, Runbook: rb, Version: o.version, Digest: o.digest, Requester: o.as})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	rc, closeFn, err := a.releases(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	run, err := rc.Deploy(ctx, in)
	if err != nil {
		return err
	}
	if o.output == "json" && !o.wait {
		return json.NewEncoder(a.out).Encode(map[string]string{
			"release-id": run.GetID(), "run-id": run.GetRunID(), "link": rc.Link(run.GetID(), run.GetRunID()),
		})
	}
	fmt.Fprintf(a.out, "started %s\n  %s\n", run.GetID(), rc.Link(run.GetID(), run.GetRunID()))
	if !o.wait {
		return nil
	}
	st, err := newFollower(a.out).follow(ctx, rc, run.GetID())
	if err != nil {
		return err
	}
	if o.output == "json" {
		_ = json.NewEncoder(a.out).Encode(st)
	}
	return outcome(st)
}

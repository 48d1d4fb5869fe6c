package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/demo"
)

// demoCmd is `runbook demo`: flags into demo.Options, then demo.Run.
type demoCmd struct {
	a *app
	o demo.Options
}

func newDemoCmd(a *app) *cobra.Command {
	v := &demoCmd{a: a}
	o := &v.o
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the example releases end to end on the embedded local stack: approvals, migrations, provisioning, then a canary under load",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&o.Runbook, "runbook", "runbooks/examples/checkout.yaml", "runbook to release")
	cmd.Flags().StringVar(&o.Artifact, "artifact", "bin/sampleapp", "the sample app binary the example releases (must match the runbook's artifact)")
	cmd.Flags().StringVar(&o.Version, "version", "", "version of the second release (default 1.4.2-demo.<timestamp>; the first is 1.4.1-demo.<timestamp>)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the provisioned sample app processes running after the demo")
	cmd.Flags().StringVar(&o.CanaryRunbook, "canary-runbook", "runbooks/examples/storefront.yaml", "runbook of the canary part")
	cmd.Flags().StringVar(&o.FeatureRunbook, "feature-runbook", "runbooks/examples/storefront-feature.yaml", "runbook of the feature flag release that ends the canary part")
	cmd.Flags().BoolVar(&o.Break, "break", false, "make the canary's new version fail half its requests, to show the automatic rollback")
	cmd.Flags().BoolVar(&o.CanaryOnly, "canary-only", false, "skip the checkout releases; run only the canary part")
	cmd.Flags().BoolVar(&o.Governance, "governance", false, "instead: release checkout under change freezes (a freeze held and lifted, then break-glass)")
	cmd.Flags().BoolVar(&o.Train, "train", false, "instead: release checkout and storefront as one train (--train-file), with one CAB approval")
	cmd.Flags().StringVar(&o.TrainFile, "train-file", "runbooks/examples/train.yaml", "train file of --train")
	cmd.Flags().IntVar(&o.Port, "port", 7233, "Temporal gRPC port")
	cmd.Flags().IntVar(&o.UIPort, "ui-port", 8233, "Web UI port")
	return cmd
}

func (v *demoCmd) run(ctx context.Context) error {
	ctx, stop := untilSignal(ctx)
	defer stop()
	cfg, err := v.a.config()
	if err != nil {
		return err
	}
	o := v.o
	o.Config, o.Requester, o.ErrOut, o.Outcome = cfg, defaultActor(), v.a.errOut, outcome
	return demo.Run(ctx, o, v.a.out)
}

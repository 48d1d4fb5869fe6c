package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/traffic"
)

// trafficCmd is `runbook traffic get|set`: it reads and sets an
// environment's router weights directly, with the runbook's traffic
// section — the command a rollback-incomplete release names when traffic
// could not be put back.
type trafficCmd struct {
	a      *app
	env    string
	output outputFlag
}

func newTrafficCmd(a *app) *cobra.Command {
	v := &trafficCmd{a: a}
	cmd := &cobra.Command{Use: "traffic", Short: "Read or set an environment's router weights (outside a release)"}
	get := &cobra.Command{
		Use:   "get RUNBOOK --env E",
		Short: "Show the router's weights of the environment's slots",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0], nil) },
	}
	set := &cobra.Command{
		Use:   "set RUNBOOK --env E SLOT=WEIGHT...",
		Short: "Set the weights of the environment's slots in one change and read them back",
		Args:  cobra.MinimumNArgs(2),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0], args[1:]) },
	}
	for _, c := range []*cobra.Command{get, set} {
		c.Flags().StringVar(&v.env, "env", "", "environment (required)")
		v.output.register(c.Flags())
	}
	cmd.AddCommand(get, set)
	return cmd
}

// run sets the weights (SLOT=WEIGHT arguments, when given) through the
// runbook's router, then prints the weights read back.
func (v *trafficCmd) run(ctx context.Context, path string, weights []string) error {
	var w map[string]int
	if weights != nil {
		var err error
		if w, err = parseWeights(weights); err != nil {
			return err
		}
	}
	target, slots, err := trafficTarget(path, v.env)
	if err != nil {
		return err
	}
	for name := range w {
		if !slices.Contains(slots, name) {
			return fmt.Errorf("%s is not a slot of %s (slots: %s)", name, v.env, strings.Join(slots, ", "))
		}
	}
	got, err := routerWeights(ctx, target, w)
	if err != nil {
		return err
	}
	return v.output.write(v.a.out, got, func() error {
		for _, s := range slots {
			fmt.Fprintf(v.a.out, "%s=%d\n", s, got[s])
		}
		return nil
	})
}

// parseWeights reads SLOT=WEIGHT arguments (0..100).
func parseWeights(args []string) (map[string]int, error) {
	w := map[string]int{}
	for _, a := range args {
		name, val, ok := strings.Cut(a, "=")
		n, err := strconv.Atoi(val)
		if !ok || name == "" || err != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("%q is not SLOT=WEIGHT with a weight from 0 to 100, e.g. blue=100", a)
		}
		w[name] = n
	}
	return w, nil
}

// routerWeights sets w, when not nil, in one change and returns the
// weights the router reports.
func routerWeights(ctx context.Context, target traffic.Target, w map[string]int) (map[string]int, error) {
	acts := &traffic.Activities{}
	if w != nil {
		res, err := acts.SetWeights(ctx, traffic.SetWeightsInput{Target: target, Weights: w})
		return res.Weights, err
	}
	res, err := acts.Weights(ctx, traffic.WeightsInput{Target: target})
	return res.Weights, err
}

// trafficTarget is the router of environment env in the runbook at path,
// and its slots in order.
func trafficTarget(path, env string) (traffic.Target, []string, error) {
	rb, err := loadRunbookFor(path, env)
	if err != nil {
		return traffic.Target{}, nil, err
	}
	for _, e := range rb.Environments {
		if e.Name != env {
			continue
		}
		if e.Traffic == nil {
			return traffic.Target{}, nil, fmt.Errorf("environment %s of %s has no traffic section", env, rb.Service)
		}
		var slots []string
		for s := range e.Traffic.Slots {
			slots = append(slots, s)
		}
		sort.Strings(slots)
		return traffic.Target{Provider: e.Traffic.Provider, Options: e.Traffic.Options}, slots, nil
	}
	return traffic.Target{}, nil, fmt.Errorf("%s has no environment %q", rb.Service, env)
}

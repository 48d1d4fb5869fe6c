package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/traffic"
	"github.com/runbookhq/runbook/runbooks"
)

// trafficOptions are the flags of `runbook traffic get|set`.
type trafficOptions struct {
	env    string
	output outputFlag
}

// newTrafficCmd reads and sets an environment's router weights directly,
// with the runbook's traffic section: the command a rollback-incomplete
// release names when traffic could not be put back.
func newTrafficCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "traffic", Short: "Read or set an environment's router weights (outside a release)"}
	o := &trafficOptions{}
	get := &cobra.Command{
		Use:   "get RUNBOOK --env E",
		Short: "Show the router's weights of the environment's slots",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.trafficWeights(cmd, o, args[0], nil)
		},
	}
	set := &cobra.Command{
		Use:   "set RUNBOOK --env E SLOT=WEIGHT...",
		Short: "Set the weights of the environment's slots in one change and read them back",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parseWeights(args[1:])
			if err != nil {
				return err
			}
			return a.trafficWeights(cmd, o, args[0], w)
		},
	}
	for _, c := range []*cobra.Command{get, set} {
		c.Flags().StringVar(&o.env, "env", "", "environment (required)")
		o.output.register(c.Flags())
	}
	cmd.AddCommand(get, set)
	return cmd
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

// trafficWeights sets w (when given) through the runbook's router, then
// prints the weights read back.
func (a *app) trafficWeights(cmd *cobra.Command, o *trafficOptions, path string, w map[string]int) error {
	target, slots, err := trafficTarget(path, o.env)
	if err != nil {
		return err
	}
	for name := range w {
		if !slices.Contains(slots, name) {
			return fmt.Errorf("%s is not a slot of %s (slots: %s)", name, o.env, strings.Join(slots, ", "))
		}
	}
	acts := &traffic.Activities{}
	var got map[string]int
	if w != nil {
		res, err := acts.SetWeights(cmd.Context(), traffic.SetWeightsInput{Target: target, Weights: w})
		if err != nil {
			return err
		}
		got = res.Weights
	} else {
		res, err := acts.Weights(cmd.Context(), traffic.WeightsInput{Target: target})
		if err != nil {
			return err
		}
		got = res.Weights
	}
	return o.output.write(a.out, got, func() error {
		for _, s := range slots {
			fmt.Fprintf(a.out, "%s=%d\n", s, got[s])
		}
		return nil
	})
}

// trafficTarget is the router of environment env in the runbook at path,
// and its slots in order.
func trafficTarget(path, env string) (traffic.Target, []string, error) {
	if env == "" {
		return traffic.Target{}, nil, fmt.Errorf("name the environment with --env")
	}
	rb, err := runbooks.Load(path)
	if err != nil {
		return traffic.Target{}, nil, &exitError{code: 1, msg: err.Error()}
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

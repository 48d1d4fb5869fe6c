package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// driftOptions are the flags shared by the drift verbs.
type driftOptions struct {
	env, as, output string
	every           time.Duration
}

func newDriftCmd(a *app) *cobra.Command {
	o := &driftOptions{}
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Detect infrastructure changes made outside releases",
		Long: "Drift checks plan an environment's infra module with the variables of its last release.\n" +
			"`check` runs one now (exit 2 when drifted); `enable` schedules them; the results go to the\n" +
			"audit log and the Web UI (workflows drift/<service>/<env>, RunbookStatus drifted or in-sync).",
	}
	cmd.PersistentFlags().StringVar(&o.env, "env", "", "environment (required)")
	cmd.PersistentFlags().StringVarP(&o.output, "output", "o", "text", "text or json")
	check := &cobra.Command{
		Use: "check RUNBOOK", Short: "Check an environment for drift now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.driftCheck(cmd, args[0], o) },
	}
	check.Flags().StringVar(&o.as, "as", defaultActor(), "who asks")
	enable := &cobra.Command{
		Use: "enable RUNBOOK", Short: "Check an environment for drift on a schedule", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.driftEnable(cmd, args[0], o) },
	}
	enable.Flags().DurationVar(&o.every, "every", time.Hour, "interval between checks")
	disable := &cobra.Command{
		Use: "disable RUNBOOK", Short: "Delete an environment's drift schedule", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.driftDisable(cmd, args[0], o) },
	}
	status := &cobra.Command{
		Use: "status RUNBOOK", Short: "Show the drift schedule and its latest result", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.driftStatus(cmd, args[0], o) },
	}
	cmd.AddCommand(check, enable, disable, status)
	return cmd
}

// driftSetup loads the runbook and connects.
func (a *app) driftSetup(cmd *cobra.Command, path string, o *driftOptions) (*runbooks.Runbook, *releases.Client, func(), error) {
	if o.env == "" {
		return nil, nil, nil, fmt.Errorf("name the environment with --env")
	}
	rb, err := runbooks.Load(path)
	if err != nil {
		return nil, nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	rc, closeFn, err := a.releases(cmd.Context())
	if err != nil {
		return nil, nil, nil, err
	}
	return rb, rc, closeFn, nil
}

func (a *app) driftCheck(cmd *cobra.Command, path string, o *driftOptions) error {
	rb, rc, closeFn, err := a.driftSetup(cmd, path, o)
	if err != nil {
		return err
	}
	defer closeFn()
	in, err := releases.DriftInputFor(path, rb, o.env, o.as)
	if err != nil {
		return err
	}
	res, err := rc.CheckDrift(cmd.Context(), in)
	if err != nil {
		return err
	}
	if o.output == "json" {
		_ = json.NewEncoder(a.out).Encode(res)
	} else {
		fmt.Fprintf(a.out, "%s %s: %s — %s\n", rb.Service, o.env, res.State, res.Summary)
	}
	if res.State == workflows.StateDrifted {
		return &exitError{code: 2}
	}
	return nil
}

func (a *app) driftEnable(cmd *cobra.Command, path string, o *driftOptions) error {
	rb, rc, closeFn, err := a.driftSetup(cmd, path, o)
	if err != nil {
		return err
	}
	defer closeFn()
	in, err := releases.DriftInputFor(path, rb, o.env, "")
	if err != nil {
		return err
	}
	if err := rc.EnableDrift(cmd.Context(), in, o.every); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "drift checks of %s %s every %s (schedule %s)\n", rb.Service, o.env, o.every, workflows.DriftID(rb.Service, o.env))
	return nil
}

func (a *app) driftDisable(cmd *cobra.Command, path string, o *driftOptions) error {
	rb, rc, closeFn, err := a.driftSetup(cmd, path, o)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := rc.DisableDrift(cmd.Context(), rb.Service, o.env); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "drift schedule %s deleted\n", workflows.DriftID(rb.Service, o.env))
	return nil
}

func (a *app) driftStatus(cmd *cobra.Command, path string, o *driftOptions) error {
	rb, rc, closeFn, err := a.driftSetup(cmd, path, o)
	if err != nil {
		return err
	}
	defer closeFn()
	d, err := rc.DescribeDrift(cmd.Context(), rb.Service, o.env)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return json.NewEncoder(a.out).Encode(d)
	}
	fmt.Fprintf(a.out, "schedule %s: every %s, next %s\n", d.ID, d.Every, d.Next.Local().Format(time.DateTime))
	if d.Last != nil {
		fmt.Fprintf(a.out, "last check %s (%s): %s — %s\n", d.LastRun, d.Last.Checked.Local().Format(time.DateTime), d.Last.State, d.Last.Summary)
	} else {
		fmt.Fprintln(a.out, "no completed check yet")
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
)

// newFreezeCmd groups the change-freeze verbs.
func newFreezeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freeze",
		Short: "Create, list and lift organisation-wide change freezes",
		Long: "A freeze holds every release into the environments and services it covers: a release in flight\n" +
			"waits, visibly, before its next step until the freeze ends or is lifted. Only an emergency release\n" +
			"(deploy --break-glass) passes, with the approval of the runbook's break-glass group.",
	}
	cmd.AddCommand(newFreezeCreateCmd(a), newFreezeListCmd(a), newFreezeLiftCmd(a), newFreezeRestoreCmd(a))
	return cmd
}

// freezeCreateCmd is `runbook freeze create`.
type freezeCreateCmd struct {
	a                *app
	in               freezes.CreateInput
	from, to, forDur string
	output           outputFlag
}

func newFreezeCreateCmd(a *app) *cobra.Command {
	v := &freezeCreateCmd{a: a}
	in := &v.in
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a freeze",
		Example: "  runbook freeze create --env production --to 2027-01-04 --reason \"holiday peak\"\n" +
			"  runbook freeze create --service checkout --for 48h --reason \"INC-42 under investigation\"",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&in.Environments, "env", nil, "environments it covers (repeat or comma-separate; default all)")
	fl.StringSliceVar(&in.Services, "service", nil, "services it covers (repeat or comma-separate; default all)")
	fl.StringVar(&v.from, "from", "now", "when it starts: now, RFC 3339 or a date (YYYY-MM-DD, UTC)")
	fl.StringVar(&v.to, "to", "", "when it ends: RFC 3339 or a date (YYYY-MM-DD, UTC); default until lifted")
	fl.StringVar(&v.forDur, "for", "", "how long it lasts from its start, e.g. 48h or 7d (instead of --to)")
	fl.StringVar(&in.Reason, "reason", "", "why (required), shown to everyone it holds")
	fl.StringVar(&in.Actor, "as", defaultActor(), "who creates it")
	v.output.register(fl)
	return cmd
}

func (v *freezeCreateCmd) run(ctx context.Context) error {
	now := time.Now().UTC()
	in := v.in
	var err error
	if in.From, err = freezeTime("--from", v.from, now); err != nil {
		return err
	}
	if in.To, err = freezeEnd(v.to, v.forDur, in.From, now); err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		f, err := rc.CreateFreeze(ctx, in)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, f, func() error {
			fmt.Fprintf(v.a.out, "created %s\n", f.Describe())
			return nil
		})
	})
}

// freezeTime parses a freeze's start: now, RFC 3339 or a date in UTC.
func freezeTime(flag, s string, now time.Time) (time.Time, error) {
	switch s {
	case "", "now":
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: use now, RFC 3339 (2026-12-20T18:00:00Z) or a date (2026-12-20, midnight UTC)", flag, s)
}

// freezeEnd works out the end from --to or --for; zero means until lifted.
func freezeEnd(to, forDur string, from, now time.Time) (time.Time, error) {
	if to != "" && forDur != "" {
		return time.Time{}, fmt.Errorf("give --to or --for, not both")
	}
	if forDur != "" {
		d, err := runbooks.ParseDuration(forDur)
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("--for %q: use a duration such as 48h or 7d", forDur)
		}
		if from.IsZero() {
			from = now
		}
		return from.Add(time.Duration(d)), nil
	}
	if to == "" {
		return time.Time{}, nil
	}
	t, err := freezeTime("--to", to, now)
	if err == nil && t.IsZero() {
		err = fmt.Errorf("--to now ends the freeze before it starts; give a later time")
	}
	return t, err
}

// freezeListCmd is `runbook freeze list`.
type freezeListCmd struct {
	a      *app
	all    bool
	output outputFlag
}

func newFreezeListCmd(a *app) *cobra.Command {
	v := &freezeListCmd{a: a}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List active and scheduled freezes (--all adds ended ones)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().BoolVar(&v.all, "all", false, "include lifted and ended freezes")
	v.output.register(cmd.Flags())
	return cmd
}

func (v *freezeListCmd) run(ctx context.Context) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		fs, err := rc.Freezes(ctx)
		if err != nil {
			return err
		}
		noteClosedFreezes(ctx, v.a, rc)
		now := time.Now()
		shown := []freezes.Freeze{}
		for _, f := range fs {
			if v.all || !f.Ended(now) {
				shown = append(shown, f)
			}
		}
		return v.output.write(v.a.out, shown, func() error { return writeFreezes(v.a.out, shown, now) })
	})
}

// writeFreezes prints freezes as a table.
func writeFreezes(w io.Writer, fs []freezes.Freeze, now time.Time) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "no freezes")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSCOPE\tFROM\tUNTIL\tBY\tREASON")
	for _, f := range fs {
		state := "active"
		switch {
		case !f.LiftedAt.IsZero():
			state = "lifted by " + f.LiftedByNote()
		case f.Ended(now):
			state = "ended"
		case now.Before(f.From):
			state = "scheduled"
		}
		until := "lifted"
		if !f.To.IsZero() {
			until = f.To.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, state, f.Scope(),
			f.From.UTC().Format(time.RFC3339), until, f.By(), f.Reason)
	}
	return tw.Flush()
}

// freezeLiftCmd is `runbook freeze lift ID`.
type freezeLiftCmd struct {
	a  *app
	in freezes.LiftInput
}

func newFreezeLiftCmd(a *app) *cobra.Command {
	v := &freezeLiftCmd{a: a}
	cmd := &cobra.Command{
		Use:   "lift ID",
		Short: "Lift a freeze now; the releases it held continue",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.in.Reason, "reason", "", "why (required), recorded in the audit log")
	cmd.Flags().StringVar(&v.in.Actor, "as", defaultActor(), "who lifts it")
	return cmd
}

func (v *freezeLiftCmd) run(ctx context.Context, id string) error {
	in := v.in
	in.ID = id
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		f, err := rc.LiftFreeze(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(v.a.out, "lifted %s (by %s: %s)\n", f.ID, f.LiftedByNote(), f.LiftReason)
		return nil
	})
}

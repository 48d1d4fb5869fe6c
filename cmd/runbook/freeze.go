package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/freezes"
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

func newFreezeCreateCmd(a *app) *cobra.Command {
	var in freezes.CreateInput
	var from, to, forDur, output string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a freeze",
		Example: "  runbook freeze create --env production --to 2027-01-04 --reason \"holiday peak\"\n" +
			"  runbook freeze create --service checkout --for 48h --reason \"INC-42 under investigation\"",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now().UTC()
			var err error
			if in.From, err = freezeTime("--from", from, now); err != nil {
				return err
			}
			if in.To, err = freezeEnd(to, forDur, in.From, now); err != nil {
				return err
			}
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			f, err := rc.CreateFreeze(cmd.Context(), in)
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(a.out).Encode(f)
			}
			fmt.Fprintf(a.out, "created %s\n", f.Describe())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&in.Environments, "env", nil, "environments it covers (repeat or comma-separate; default all)")
	fl.StringSliceVar(&in.Services, "service", nil, "services it covers (repeat or comma-separate; default all)")
	fl.StringVar(&from, "from", "now", "when it starts: now, RFC 3339 or a date (YYYY-MM-DD, UTC)")
	fl.StringVar(&to, "to", "", "when it ends: RFC 3339 or a date (YYYY-MM-DD, UTC); default until lifted")
	fl.StringVar(&forDur, "for", "", "how long it lasts from its start, e.g. 48h or 7d (instead of --to)")
	fl.StringVar(&in.Reason, "reason", "", "why (required), shown to everyone it holds")
	fl.StringVar(&in.Actor, "as", defaultActor(), "who creates it")
	fl.StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
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

func newFreezeListCmd(a *app) *cobra.Command {
	var all bool
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List active and scheduled freezes (--all adds ended ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			fs, err := rc.Freezes(cmd.Context())
			if err != nil {
				return err
			}
			noteClosedFreezes(cmd.Context(), a, rc)
			now := time.Now()
			shown := []freezes.Freeze{}
			for _, f := range fs {
				if all || !f.Ended(now) {
					shown = append(shown, f)
				}
			}
			if output == "json" {
				return json.NewEncoder(a.out).Encode(shown)
			}
			return writeFreezes(a.out, shown, now)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include lifted and ended freezes")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
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

func newFreezeLiftCmd(a *app) *cobra.Command {
	var in freezes.LiftInput
	cmd := &cobra.Command{
		Use:   "lift ID",
		Short: "Lift a freeze now; the releases it held continue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.ID = args[0]
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			f, err := rc.LiftFreeze(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "lifted %s (by %s: %s)\n", f.ID, f.LiftedByNote(), f.LiftReason)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why (required), recorded in the audit log")
	cmd.Flags().StringVar(&in.Actor, "as", defaultActor(), "who lifts it")
	return cmd
}

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
	"github.com/runbookhq/runbook/internal/trains"
	"github.com/runbookhq/runbook/workflows"
)

// newTrainCmd is `runbook train`: several services released as one.
func newTrainCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Release several services as one train: in dependency order, with one set of train gates",
	}
	cmd.AddCommand(newTrainValidateCmd(a), newTrainDeployCmd(a), newTrainStatusCmd(a),
		newTrainDecideCmd(a, true), newTrainDecideCmd(a, false), newTrainAbortCmd(a), newTrainListCmd(a))
	return cmd
}

func newTrainValidateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "validate TRAIN-FILE",
		Short: "Check a train file and every runbook it names, without starting anything",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := trains.Load(args[0])
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if _, err := trains.Resolve(f, "validate", defaultActor()); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			fmt.Fprintf(a.out, "%s: train %s is valid: %d services into %s\n", args[0], f.Train, len(f.Services), strings.Join(f.Environments, " → "))
			return nil
		},
	}
}

// trainDeployCmd is `runbook train deploy`.
type trainDeployCmd struct {
	a                *app
	name, as         string
	versions, digest map[string]string
	wait             bool
	output           outputFlag
}

func newTrainDeployCmd(a *app) *cobra.Command {
	v := &trainDeployCmd{a: a}
	cmd := &cobra.Command{
		Use:   "deploy TRAIN-FILE --name NAME",
		Short: "Start a run of a train (train/<train>/<name>)",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.name, "name", "", "name of this run of the train, e.g. 2026-12-w50 (required)")
	cmd.Flags().StringVar(&v.as, "as", defaultActor(), "who requests the train")
	cmd.Flags().StringToStringVar(&v.versions, "version", nil, "SERVICE=VERSION: the version of a service, over the train file's (repeatable)")
	cmd.Flags().StringToStringVar(&v.digest, "digest", nil, "SERVICE=sha256:<hex>: the artifact digest of a service (repeatable)")
	cmd.Flags().BoolVar(&v.wait, "wait", false, "follow the train until it ends; exit non-zero unless it succeeded")
	v.output.register(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (v *trainDeployCmd) run(ctx context.Context, path string) error {
	f, err := trains.Load(path)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if err := f.Override(v.versions, v.digest); err != nil {
		return err
	}
	in, err := trains.Resolve(f, v.name, v.as)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		run, err := rc.DeployTrain(ctx, in)
		if err != nil {
			return err
		}
		link := rc.Link(run.GetID(), run.GetRunID())
		if v.output.json() && !v.wait {
			return v.output.encode(v.a.out, map[string]string{"train-id": run.GetID(), "run-id": run.GetRunID(), "link": link})
		}
		fmt.Fprintf(v.a.out, "started %s\n  %s\n", run.GetID(), link)
		if !v.wait {
			return nil
		}
		st, err := followTrain(ctx, rc, run.GetID())
		if err != nil {
			return err
		}
		fmt.Fprint(v.a.out, statusview.RenderTrain(st))
		return trainOutcome(st)
	})
}

// followTrain polls the train's status until it ends.
func followTrain(ctx context.Context, rc *releases.Client, id string) (workflows.TrainStatus, error) {
	for {
		st, err := rc.TrainStatus(ctx, id)
		if err != nil || st.Finished() {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// trainOutcome is the exit of a finished train: 0 only on success.
func trainOutcome(st workflows.TrainStatus) error {
	if st.State == workflows.StateSucceeded {
		return nil
	}
	return &exitError{code: exitFailed, msg: fmt.Sprintf("train %s %s: %s", st.TrainID, st.State, strings.Join(strings.Fields(st.Reason), " "))}
}

// trainID accepts train/<train>/<name> or <train>/<name>.
func trainID(arg string) string {
	if strings.HasPrefix(arg, "train/") {
		return arg
	}
	return "train/" + arg
}

func newTrainStatusCmd(a *app) *cobra.Command {
	var output outputFlag
	cmd := &cobra.Command{
		Use:   "status TRAIN",
		Short: "Show a train: each environment's gates and each service's release, in dependency order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withReleases(cmd.Context(), func(rc *releases.Client) error {
				st, err := rc.TrainStatus(cmd.Context(), trainID(args[0]))
				if err != nil {
					return err
				}
				output.indent = true
				return output.write(a.out, st, func() error {
					fmt.Fprint(a.out, statusview.RenderTrain(st))
					// The report's signed link, where this CLI can sign one.
					if link := workerReportLink(st.TrainID); link != "" && st.Finished() {
						fmt.Fprintf(a.out, "\nreport: %s\n", link)
					}
					return nil
				})
			})
		},
	}
	output.register(cmd.Flags())
	return cmd
}

func newTrainDecideCmd(a *app, approve bool) *cobra.Command {
	var in workflows.DecisionInput
	verb, short := "reject", "Reject the train gate waiting now (one rejection stops the train)"
	if approve {
		verb, short = "approve", "Approve the train gate waiting now (one approval for the whole train)"
	}
	cmd := &cobra.Command{
		Use:   verb + " TRAIN",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Channel = "cli"
			return a.withReleases(cmd.Context(), func(rc *releases.Client) error {
				res, err := rc.TrainDecide(cmd.Context(), trainID(args[0]), approve, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%s: train gate %s is %s (%d of %d approvals)\n", in.Actor, res.Gate, res.GateState, res.Approvals, res.Needed)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&in.Gate, "gate", "", "the train gate (default: the one waiting)")
	cmd.Flags().StringVar(&in.Comment, "comment", "", "comment recorded with the decision")
	cmd.Flags().StringVar(&in.Actor, "as", defaultActor(), "who decides")
	return cmd
}

func newTrainAbortCmd(a *app) *cobra.Command {
	var in workflows.ControlInput
	cmd := &cobra.Command{
		Use:   "abort TRAIN --reason ...",
		Short: "Stop a train: its running releases roll back, nothing new starts, the rollback scope applies",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withReleases(cmd.Context(), func(rc *releases.Client) error {
				res, err := rc.TrainAbort(cmd.Context(), trainID(args[0]), in)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%s: train %s\n", in.Actor, res.State)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why (required; goes to the audit log)")
	cmd.Flags().StringVar(&in.Actor, "as", defaultActor(), "who aborts")
	return cmd
}

func newTrainListCmd(a *app) *cobra.Command {
	var output outputFlag
	var limit int
	cmd := &cobra.Command{
		Use:   "list [TRAIN]",
		Short: "List train runs, newest first (of one train when named)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			train := ""
			if len(args) == 1 {
				train = args[0]
			}
			return a.withReleases(cmd.Context(), func(rc *releases.Client) error {
				items, err := rc.ListTrains(cmd.Context(), train, limit)
				if err != nil {
					return err
				}
				return output.write(a.out, items, func() error {
					for _, it := range items {
						fmt.Fprintf(a.out, "%-40s %-12s %s\n", it.TrainID, it.Status, it.StartedAt.UTC().Format(time.RFC3339))
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	output.register(cmd.Flags())
	return cmd
}

package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
	"github.com/runbookhq/runbook/internal/trains"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// demoTrain releases the example train (checkout, then storefront after
// it) under load: checkout through staging, one CAB approval for the
// train, then both into production in order, approving every gate as
// demo-bot. It returns the train's final status.
func (r *run) demoTrain(ctx context.Context, stack *devstack.Stack, stamp string) (workflows.TrainStatus, error) {
	var st workflows.TrainStatus
	cfg := stack.Config
	f, err := trains.Load(r.o.TrainFile)
	if err != nil {
		return st, err
	}
	digest, err := artifact.FileDigest(r.o.Artifact)
	if err != nil {
		return st, fmt.Errorf("%w (run `make build` first)", err)
	}
	versions := map[string]string{"checkout": "1.6.0-demo." + stamp, "storefront": "2.2.0-demo." + stamp}
	if err := f.Override(versions, map[string]string{"checkout": digest, "storefront": digest}); err != nil {
		return st, err
	}
	in, err := trains.Resolve(f, "demo-"+stamp, r.o.Requester)
	if err != nil {
		return st, err
	}
	srv, err := stack.StartEdge()
	if err != nil {
		return st, err
	}
	if !r.o.Keep {
		defer r.demoTrainTeardown(cfg, f, srv)
	}
	_, stopLoad, err := r.demoLoad(ctx, "http://"+srv.ProxyAddr()+"/")
	if err != nil {
		return st, err
	}
	defer stopLoad()
	fmt.Fprintln(r.out, "\n(until storefront's first release takes traffic no slot is live, so the proxy answers 503: that is the 5xx of the first load lines)")
	rc, closeFn, err := worker.DialReleases(ctx, cfg, r.signer)
	if err != nil {
		return st, err
	}
	defer closeFn()
	fmt.Fprintf(r.out, "\n=== train %s: checkout %s, then storefront %s ===\n$ runbook train deploy %s --name %s --version checkout=%s --version storefront=%s\n",
		in.Train, versions["checkout"], versions["storefront"], r.o.TrainFile, in.Name, versions["checkout"], versions["storefront"])
	run, err := rc.DeployTrain(ctx, in)
	if err != nil {
		return st, err
	}
	fmt.Fprintf(r.out, "started %s\n  %s\n\n", run.GetID(), rc.Link(run.GetID(), run.GetRunID()))
	return r.followTrain(ctx, rc, run.GetID())
}

// followTrain prints each change of the train's services, approves the
// train's gates and each release's gates as demo-bot, until it ends.
func (r *run) followTrain(ctx context.Context, rc *releases.Client, id string) (workflows.TrainStatus, error) {
	seen := map[string]string{}
	for {
		st, err := rc.TrainStatus(ctx, id)
		if err != nil {
			return st, err
		}
		for _, e := range st.Environments {
			for _, c := range e.Cells {
				if key := c.Service + "@" + e.Name; seen[key] != c.State {
					seen[key] = c.State
					fmt.Fprintf(r.out, "%s  %-10s %-10s %s %s\n", time.Now().Format("15:04:05"), e.Name, c.Service, c.Version, c.State)
				}
				if c.State == workflows.StateRunning {
					if rs, err := rc.Status(ctx, c.ReleaseID); err == nil {
						r.demoApprove(ctx, rc, rs)
					}
				}
			}
			r.demoApproveTrain(ctx, rc, st, e)
		}
		if st.Finished() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// demoApproveTrain approves the train gate waiting in e as demo-bot.
func (r *run) demoApproveTrain(ctx context.Context, rc *releases.Client, st workflows.TrainStatus, e workflows.TrainEnvironment) {
	for _, g := range e.Gates {
		if g.State != workflows.StateWaiting || approvedBy(*g, demoApprover) {
			continue
		}
		fmt.Fprintf(r.out, "\n$ runbook train approve %s --as %s --comment 'CAB: automatic demo approval'\n", st.TrainID, demoApprover)
		res, err := rc.TrainDecide(ctx, st.TrainID, true, workflows.DecisionInput{Gate: g.Name, Actor: demoApprover,
			Comment: "CAB: automatic demo approval", Channel: "cli"})
		if err != nil {
			fmt.Fprintln(r.out, err)
			continue
		}
		fmt.Fprintf(r.out, "%s: train gate %s is %s (%d of %d approvals)\n\n", demoApprover, res.Gate, res.GateState, res.Approvals, res.Needed)
	}
}

// demoTrainTeardown destroys what the train's services provisioned.
func (r *run) demoTrainTeardown(cfg worker.Config, f *trains.File, srv *edgeproxy.Server) {
	for i, s := range f.Services {
		rb, err := runbooks.Load(f.RunbookPath(i))
		if err != nil {
			continue
		}
		if s.Name == "storefront" {
			r.demoCanaryTeardown(cfg, f.RunbookPath(i), rb, srv)
			continue
		}
		r.demoTeardown(cfg, f.RunbookPath(i), rb)
	}
}

// printTrain prints the train's final status.
func (r *run) printTrain(st workflows.TrainStatus) {
	fmt.Fprintln(r.out)
	fmt.Fprint(r.out, statusview.RenderTrain(st))
}

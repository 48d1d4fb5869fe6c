package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// Demo load and fault.
const (
	demoRate      = 50              // requests per second through the proxy
	demoLoadEvery = 5 * time.Second // how often the load line is printed
	demoBreakRate = 0.5             // share of the broken version's requests that fail
	demoBreakAt   = 2               // the canary weight (1-based) at which it breaks
)

// demoCanary releases the storefront example twice through the edge proxy
// under synthetic load: a first install, then a canary to the other slot.
// With --break the canary's version starts failing at its second weight and
// the analysis sends all traffic back.
func (r *run) demoCanary(ctx context.Context, stack *devstack.Stack, stamp string) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	rb, in, err := r.demoInput(r.o.CanaryRunbook, r.o.Artifact)
	if err != nil {
		return st, "", err
	}
	cfg := stack.Config
	srv, err := stack.StartEdge()
	if err != nil {
		return st, "", err
	}
	if !r.o.Keep {
		defer r.demoCanaryTeardown(cfg, r.o.CanaryRunbook, rb, srv)
	}
	load, stopLoad, err := r.demoLoad(ctx, "http://"+srv.ProxyAddr()+"/")
	if err != nil {
		return st, "", err
	}
	defer stopLoad()

	fmt.Fprintln(r.out, "\n(until the first release takes traffic no slot is live, so the proxy answers 503: that is the 5xx of the first load lines)")
	versions := []string{"2.0.0-demo." + stamp, "2.1.0-demo." + stamp}
	var link string
	for i, v := range versions {
		fmt.Fprintf(r.out, "\n=== canary release %d of %d: %s %s (load: %d req/s through http://%s) ===\n",
			i+1, len(versions), rb.Service, v, demoRate, srv.ProxyAddr())
		var inject func(workflows.ReleaseStatus)
		var brokeAt time.Time
		if r.o.Break && i == len(versions)-1 {
			inject = r.demoBreaker(&brokeAt)
		}
		if st, link, err = r.demoRelease(ctx, cfg, in, v, inject); err != nil {
			return st, link, err
		}
		if !brokeAt.IsZero() {
			r.reportRollback(st, load, v, brokeAt)
		}
		if st.State != workflows.StateSucceeded {
			return st, link, nil
		}
	}
	if st, link, err = r.demoRollback(ctx, cfg, rb.Service, versions[0]); err != nil || st.State != workflows.StateSucceeded {
		return st, link, err
	}
	return r.demoFeature(ctx, cfg, stamp)
}

// demoFeature releases the storefront's new checkout by feature flag: the
// code already runs dark; the flag goes to 10%, 50%, everyone under the
// SLOs, through the file the sample app evaluates with OpenFeature.
func (r *run) demoFeature(ctx context.Context, cfg worker.Config, stamp string) (workflows.ReleaseStatus, string, error) {
	_, in, err := r.demoInput(r.o.FeatureRunbook, r.o.Artifact)
	if err != nil {
		return workflows.ReleaseStatus{}, "", err
	}
	fmt.Fprintf(r.out, "\n=== feature release: storefront's new-checkout flag, 10%% → 50%% → 100%% (the code runs dark already) ===\n")
	return r.demoRelease(ctx, cfg, in, "feature-"+stamp, nil)
}

// demoRollback rolls the finished canary release back with `runbook
// rollback`: the first version still runs in the other slot, so only
// traffic moves back.
func (r *run) demoRollback(ctx context.Context, cfg worker.Config, service, version string) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	rc, closeFn, err := worker.DialReleases(ctx, cfg, r.signer)
	if err != nil {
		return st, "", err
	}
	defer closeFn()
	const reason = "demo: an incident an hour later, put the last version back"
	fmt.Fprintf(r.out, "\n=== rollback of the finished release: %s back to %s ===\n$ runbook rollback %s --env production --reason %q --wait\n", service, version, service, reason)
	plan, err := rc.PlanRollback(ctx, releases.RollbackOptions{Service: service, Environment: "production", Reason: reason, Requester: r.o.Requester})
	if err != nil {
		return st, "", err
	}
	start := time.Now()
	run, err := rc.StartRollback(ctx, plan)
	if err != nil {
		return st, "", err
	}
	fmt.Fprintf(r.out, "started %s: %s → %s, %s path (%s)\n\n", run.GetID(), plan.Current.Version, plan.Target.Version, plan.Path, plan.Why)
	f := statusview.NewFollower(r.out)
	f.Redraw = false
	var moved time.Duration
	f.OnStatus = func(s workflows.ReleaseStatus) {
		r.demoApprove(ctx, rc, s)
		if e, ok := s.Current(); ok && moved == 0 && e.Traffic != nil && e.Traffic.Weights[e.Traffic.Target] == 100 {
			moved = time.Since(start)
		}
	}
	if st, err = f.Follow(ctx, rc, run.GetID()); err != nil {
		return st, "", err
	}
	fmt.Fprintf(r.out, "\nall traffic back on %s within %s of the command; the rollback ended after its bake, in %s\n",
		version, moved.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	return st, rc.Link(run.GetID(), run.GetRunID()), nil
}

// demoLoad puts load through the proxy and prints a line every few seconds.
func (r *run) demoLoad(ctx context.Context, target string) (*loadgen.Generator, func(), error) {
	lctx, cancel := context.WithCancel(ctx)
	g, err := loadgen.Start(lctx, loadgen.Options{URL: target, Rate: demoRate})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(demoLoadEvery)
		defer t.Stop()
		prev := g.Snapshot()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				cur := g.Snapshot()
				fmt.Fprintf(r.out, "  load  %s\n", cur.Sub(prev))
				prev = cur
			}
		}
	}()
	return g, func() {
		cancel()
		wg.Wait()
		fmt.Fprintf(r.out, "load in total: %s\n", g.Stop())
	}, nil
}

// demoBreaker returns a status watcher that, once the canary reaches its
// second weight, makes the new slot fail half its requests, as a bad
// release would, and records when.
func (r *run) demoBreaker(at *time.Time) func(workflows.ReleaseStatus) {
	return func(st workflows.ReleaseStatus) {
		e, ok := st.Current()
		if !at.IsZero() || !ok || e.Traffic == nil || e.Traffic.Phase < demoBreakAt {
			return
		}
		u, err := slotURL(st, e.Traffic.Target)
		if err != nil {
			fmt.Fprintln(r.errOut, "demo --break:", err)
			return
		}
		fmt.Fprintf(r.out, "\n$ curl -X POST '%s/fault?error-rate=%g'   # --break: the new version starts failing\n", u, demoBreakRate)
		resp, err := http.PostForm(u+"/fault", url.Values{"error-rate": {fmt.Sprint(demoBreakRate)}})
		if err != nil {
			fmt.Fprintln(r.errOut, "demo --break:", err)
			return
		}
		resp.Body.Close()
		*at = time.Now()
	}
}

// slotURL is the address of a slot of the local edge.
func slotURL(_ workflows.ReleaseStatus, slot string) (string, error) {
	for _, b := range devstack.LocalEdgeBackends {
		if b.Name == slot {
			return b.URL, nil
		}
	}
	return "", fmt.Errorf("the local edge has no slot %q", slot)
}

// reportRollback says how long the broken version served after it broke.
func (r *run) reportRollback(st workflows.ReleaseStatus, load *loadgen.Generator, version string, brokeAt time.Time) {
	e, ok := envNamed(st, "production")
	if !ok || e.Traffic == nil || e.Traffic.RevertedAt.IsZero() {
		return
	}
	last := load.LastSeen(version)
	fmt.Fprintf(r.out, "\n%s broke at %s; all traffic was back on %s %s later (its last answer through the proxy)\n",
		version, brokeAt.Format(time.TimeOnly), e.Traffic.Live, last.Sub(brokeAt).Round(time.Millisecond))
}

func envNamed(st workflows.ReleaseStatus, name string) (workflows.EnvironmentStatus, bool) {
	for _, e := range st.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return workflows.EnvironmentStatus{}, false
}

// demoCanaryTeardown destroys both slots and takes all weight off them, so
// the next demo starts with a first install again (--keep keeps it all).
func (r *run) demoCanaryTeardown(cfg worker.Config, path string, rb *runbooks.Runbook, srv *edgeproxy.Server) {
	acts := &terraform.Activities{Bin: cfg.TofuBin, StateDir: filepath.Join(cfg.StateDir, "state")}
	for _, e := range rb.Environments {
		wss, err := releases.SlotWorkspaces(path, rb, e.Name)
		if err != nil {
			continue
		}
		for _, ws := range wss {
			fmt.Fprintf(r.out, "tearing down %s slot %s (tofu destroy; --keep keeps it)\n", e.Name, ws.Slot)
			if _, err := acts.Destroy(context.Background(), terraform.DestroyInput{Workspace: ws}); err != nil && !strings.Contains(err.Error(), "no state") {
				fmt.Fprintf(r.errOut, "teardown of %s slot %s: %v\n", e.Name, ws.Slot, err)
			}
		}
	}
	zero := map[string]int{}
	for _, b := range devstack.LocalEdgeBackends {
		zero[b.Name] = 0
	}
	if err := srv.SetWeights(zero); err != nil {
		fmt.Fprintln(r.errOut, "resetting the edge weights:", err)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/statusview"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// demoApprover is who approves gates in the demo; it is not the requester,
// so separation of duties holds.
const demoApprover = "demo-bot"

type demoOptions struct {
	runbook, artifact, version string
	canaryRunbook              string
	port, uiPort               int
	keep, breakCanary          bool
	canaryOnly, governance     bool
}

func newDemoCmd(a *app) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the example releases end to end on the embedded local stack: approvals, migrations, provisioning, then a canary under load",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.demo(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.runbook, "runbook", "runbooks/examples/checkout.yaml", "runbook to release")
	cmd.Flags().StringVar(&o.artifact, "artifact", "bin/sampleapp", "the sample app binary the example releases (must match the runbook's artifact)")
	cmd.Flags().StringVar(&o.version, "version", "", "version of the second release (default 1.4.2-demo.<timestamp>; the first is 1.4.1-demo.<timestamp>)")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "keep the provisioned sample app processes running after the demo")
	cmd.Flags().StringVar(&o.canaryRunbook, "canary-runbook", "runbooks/examples/storefront.yaml", "runbook of the canary part")
	cmd.Flags().BoolVar(&o.breakCanary, "break", false, "make the canary's new version fail half its requests, to show the automatic rollback")
	cmd.Flags().BoolVar(&o.canaryOnly, "canary-only", false, "skip the checkout releases; run only the canary part")
	cmd.Flags().BoolVar(&o.governance, "governance", false, "instead: release checkout under change freezes (a freeze held and lifted, then break-glass)")
	cmd.Flags().IntVar(&o.port, "port", 7233, "Temporal gRPC port")
	cmd.Flags().IntVar(&o.uiPort, "ui-port", 8233, "Web UI port")
	return cmd
}

func (a *app) demo(ctx context.Context, o *demoOptions) error {
	stamp := time.Now().UTC().Format("20060102150405")
	versions := []string{"1.4.1-demo." + stamp, "1.4.2-demo." + stamp}
	if o.version != "" {
		versions[1] = o.version
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if err := demoDatabases(cfg.StateDir); err != nil {
		return err
	}
	cfg, stopStack, err := a.demoStack(ctx, o)
	if err != nil {
		return err
	}
	defer stopStack()
	var st workflows.ReleaseStatus
	var link string
	if o.governance {
		st, link, err = a.demoGovernance(ctx, cfg, o, stamp)
		if err == nil && st.BreakGlass == "" {
			err = fmt.Errorf("the second release was not flagged break-glass")
		}
		return errors.Join(err, a.demoSummary(cfg, st, link))
	}
	if !o.canaryOnly {
		if st, link, err = a.demoCheckout(ctx, cfg, o, versions); err != nil || st.State != workflows.StateSucceeded {
			return errors.Join(err, a.demoSummary(cfg, st, link))
		}
	}
	if st, link, err = a.demoCanary(ctx, cfg, o, stamp); err != nil {
		return err
	}
	err = a.demoSummary(cfg, st, link)
	if o.breakCanary && st.State == workflows.StateRolledBack && strings.Contains(st.Reason, "SLO breach") {
		fmt.Fprintln(a.out, "\n--break: the broken version was rolled back automatically, as it should be.")
		return nil
	}
	return err
}

// demoCheckout releases the checkout example twice, approving its gates.
func (a *app) demoCheckout(ctx context.Context, cfg worker.Config, o *demoOptions, versions []string) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	var link string
	rb, in, err := a.demoInput(o.runbook, o.artifact)
	if err != nil {
		return st, "", err
	}
	if !o.keep {
		defer a.demoTeardown(cfg, o.runbook, rb)
	}
	for i, v := range versions {
		fmt.Fprintf(a.out, "\n=== release %d of %d: %s %s ===\n", i+1, len(versions), rb.Service, v)
		if st, link, err = a.demoRelease(ctx, cfg, in, v, nil); err != nil {
			return st, link, err
		}
		if st.State != workflows.StateSucceeded {
			break
		}
	}
	return st, link, nil
}

// demoSummary prints the last release, the audit check and the UI link.
func (a *app) demoSummary(cfg worker.Config, st workflows.ReleaseStatus, link string) error {
	if st.ReleaseID == "" {
		return nil
	}
	fmt.Fprintln(a.out)
	statusview.Render(a.out, st)
	a.demoAuditLine(cfg, st.ReleaseID)
	fmt.Fprintf(a.out, "\nWeb UI: %s\n(the dev server keeps its state in %s: `make dev` brings the link back)\n", link, filepath.Join(cfg.StateDir, "temporal.db"))
	return outcome(st)
}

// demoStack uses a dev server that is already running on the port, or starts
// one, and runs a worker in this process either way.
func (a *app) demoStack(ctx context.Context, o *demoOptions) (worker.Config, func(), error) {
	var srv *devstack.Server
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", o.port)
	if devstack.Ping(ctx, addr) == nil {
		fmt.Fprintf(a.out, "using the Temporal server already running at %s\n", addr)
		cfg.Client.HostPort = addr
		cfg.UIURL = fmt.Sprintf("http://127.0.0.1:%d", o.uiPort)
	} else if cfg, srv, err = a.startStack(ctx, o.port, o.uiPort, ""); err != nil {
		return cfg, nil, err
	}
	if err := a.demoKeys(&cfg); err != nil {
		if srv != nil {
			_ = srv.Stop()
		}
		return cfg, nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.runWorker(wctx, cfg); err != nil {
			fmt.Fprintln(a.errOut, "worker:", err)
		}
	}()
	return cfg, func() {
		cancel()
		wg.Wait()
		_ = srv.Stop()
	}, nil
}

// demoInput loads an example and pins the artifact's digest.
func (a *app) demoInput(path, art string) (*runbooks.Runbook, releases.ResolveInput, error) {
	rb, err := runbooks.Load(path)
	if err != nil {
		return nil, releases.ResolveInput{}, err
	}
	digest, err := artifact.FileDigest(art)
	if err != nil {
		return nil, releases.ResolveInput{}, fmt.Errorf("%w (run `make build` first)", err)
	}
	return rb, releases.ResolveInput{Path: path, Runbook: rb, Digest: digest, Requester: defaultActor()}, nil
}

// demoRelease deploys one version and approves every gate as demo-bot,
// through the same Update a person sends with `runbook approve`. watch, when
// set, sees every status the follower sees.
func (a *app) demoRelease(ctx context.Context, cfg worker.Config, ri releases.ResolveInput, version string, watch func(workflows.ReleaseStatus)) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	ri.Version = version
	in, err := releases.Resolve(ri)
	if err != nil {
		return st, "", err
	}
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return st, "", err
	}
	defer c.Close()
	rc := &releases.Client{Temporal: c, Namespace: cfg.Client.Namespace, TaskQueue: cfg.TaskQueue, UIURL: cfg.UIURL, Signer: a.signer}
	run, err := rc.Deploy(ctx, in)
	if err != nil {
		return st, "", err
	}
	fmt.Fprintf(a.out, "$ runbook deploy %s --version %s --digest %s\nstarted %s\n  %s\n\n", ri.Path, version, ri.Digest, run.GetID(), rc.Link(run.GetID(), run.GetRunID()))
	f := statusview.NewFollower(a.out)
	f.Redraw = false
	f.OnStatus = func(s workflows.ReleaseStatus) {
		a.demoApprove(ctx, rc, s)
		if watch != nil {
			watch(s)
		}
	}
	st, err = f.Follow(ctx, rc, run.GetID())
	return st, rc.Link(run.GetID(), run.GetRunID()), err
}

// demoTeardown destroys what the demo provisioned, so no sample app keeps
// running after it (use --keep to explore them).
func (a *app) demoTeardown(cfg worker.Config, path string, rb *runbooks.Runbook) {
	acts := &terraform.Activities{Bin: cfg.TofuBin, StateDir: filepath.Join(cfg.StateDir, "state")}
	for _, e := range rb.Environments {
		ws, err := releases.WorkspaceFor(path, rb, e.Name)
		if err != nil {
			continue
		}
		fmt.Fprintf(a.out, "tearing down %s (tofu destroy; --keep keeps it)\n", e.Name)
		if _, err := acts.Destroy(context.Background(), terraform.DestroyInput{Workspace: ws}); err != nil {
			fmt.Fprintf(a.errOut, "teardown of %s: %v\n", e.Name, err)
		}
	}
}

// demoApprove approves any waiting gate demo-bot has not approved yet.
func (a *app) demoApprove(ctx context.Context, rc *releases.Client, st workflows.ReleaseStatus) {
	env, ok := st.Current()
	if !ok {
		return
	}
	for _, g := range env.PendingGates() {
		if approvedBy(g, demoApprover) {
			continue
		}
		fmt.Fprintf(a.out, "\n$ runbook approve %s --gate %s --as %s --comment 'automatic demo approval'\n", st.ReleaseID, g.Name, demoApprover)
		res, err := rc.Decide(ctx, st.ReleaseID, true, workflows.DecisionInput{Gate: g.Name, Actor: demoApprover, Comment: "automatic demo approval", Channel: "cli"})
		if err != nil {
			fmt.Fprintln(a.out, err)
			continue
		}
		fmt.Fprintf(a.out, "%s: gate %s is %s (%d of %d approvals)\n\n", demoApprover, res.Gate, res.GateState, res.Approvals, res.Needed)
	}
}

func approvedBy(g workflows.GateStatus, actor string) bool {
	for _, d := range g.Approvals {
		if d.Actor == actor {
			return true
		}
	}
	return false
}

// demoDatabases points the example's database references at SQLite files
// under the state directory, unless the caller set them: the worker (running
// in this process) resolves env:CHECKOUT_*_DB when it migrates, and the
// provision step passes the file to the sample app.
func demoDatabases(stateDir string) error {
	allowExampleRefs()
	dir, err := filepath.Abs(filepath.Join(stateDir, "demo"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, env := range []string{"staging", "production"} {
		file := filepath.Join(dir, "checkout-"+env+".db")
		name := "CHECKOUT_" + strings.ToUpper(env) + "_DB"
		if os.Getenv(name) == "" {
			_ = os.Setenv(name, "sqlite://"+file)
		}
		if os.Getenv(name+"_PATH") == "" {
			_ = os.Setenv(name+"_PATH", file)
		}
	}
	return nil
}

// exampleRefs are the env: names the shipped example runbook reads.
const exampleRefs = "CHECKOUT_*"

// allowExampleRefs lets the local worker of demo and dev resolve the example
// runbook's references when RUNBOOK_ENV_ALLOW is unset: on a laptop, with
// variables these commands set themselves. An operator's list is kept.
func allowExampleRefs() {
	if os.Getenv(secretref.AllowEnv) == "" {
		_ = os.Setenv(secretref.AllowEnv, exampleRefs)
	}
}

// demoAuditLine verifies the audit log the demo wrote to (the file, or the
// PostgreSQL table with RUNBOOK_AUDIT_DSN) and says so.
func (a *app) demoAuditLine(cfg worker.Config, releaseID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := audit.OpenReader(ctx, cfg.AuditLog, cfg.AuditDSN)
	if err != nil {
		fmt.Fprintf(a.errOut, "audit log: %v\n", err)
		return
	}
	defer r.Close()
	res, err := r.Verify(ctx)
	if err != nil {
		fmt.Fprintf(a.errOut, "audit log %s: %v\n", r, err)
		return
	}
	fmt.Fprintf(a.out, "\naudit log %s: %d records, hash chain intact (runbook audit show --release %s)\n", r, res.Entries, releaseID)
}

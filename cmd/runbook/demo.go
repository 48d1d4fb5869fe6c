package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// demoApprover is who approves gates in the demo; it is not the requester,
// so separation of duties holds.
const demoApprover = "demo-bot"

type demoOptions struct {
	runbook, artifact, version string
	port, uiPort               int
}

func newDemoCmd(a *app) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the example release end to end on the embedded local stack, approving its gates visibly",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.demo(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.runbook, "runbook", "runbooks/examples/checkout.yaml", "runbook to release")
	cmd.Flags().StringVar(&o.artifact, "artifact", "bin/sampleapp", "the sample app binary: released artifact and the process the checks hit")
	cmd.Flags().StringVar(&o.version, "version", "", "version to release (default 1.4.2-demo.<timestamp>)")
	cmd.Flags().IntVar(&o.port, "port", 7233, "Temporal gRPC port")
	cmd.Flags().IntVar(&o.uiPort, "ui-port", 8233, "Web UI port")
	return cmd
}

func (a *app) demo(ctx context.Context, o *demoOptions) error {
	if o.version == "" {
		o.version = "1.4.2-demo." + time.Now().UTC().Format("20060102150405")
	}
	cfg, stopStack, err := a.demoStack(ctx, o)
	if err != nil {
		return err
	}
	defer stopStack()
	stopApps, err := a.startSampleApps(o)
	if err != nil {
		return err
	}
	defer stopApps()
	st, link, err := a.demoRelease(ctx, cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.out)
	releases.Render(a.out, st)
	if res, err := audit.Verify(cfg.AuditLog); err == nil {
		fmt.Fprintf(a.out, "\naudit log %s: %d records, hash chain intact (runbook audit show --release %s)\n", cfg.AuditLog, res.Entries, st.ReleaseID)
	}
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

// startSampleApps starts the new version of the sample app for each
// environment of the example. (The provisioning step will do this itself.)
func (a *app) startSampleApps(o *demoOptions) (func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	}
	for _, addr := range []string{"127.0.0.1:18081", "127.0.0.1:18082"} {
		c := exec.Command(o.artifact, "--addr", addr, "--version", o.version)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start sample app %s: %w (run `make build` first)", o.artifact, err)
		}
		cmds = append(cmds, c)
		fmt.Fprintf(a.out, "sample app %s listening on %s (pid %d)\n", o.version, addr, c.Process.Pid)
	}
	return stop, nil
}

// demoRelease deploys the example and approves every gate as demo-bot,
// through the same Update a person sends with `runbook approve`.
func (a *app) demoRelease(ctx context.Context, cfg worker.Config, o *demoOptions) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	rb, err := runbooks.Load(o.runbook)
	if err != nil {
		return st, "", err
	}
	digest, err := artifact.FileDigest(o.artifact)
	if err != nil {
		return st, "", err
	}
	in, err := releases.Resolve(releases.ResolveInput{Path: o.runbook, Runbook: rb, Version: o.version, Digest: digest, Requester: defaultActor()})
	if err != nil {
		return st, "", err
	}
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return st, "", err
	}
	defer c.Close()
	rc := &releases.Client{Temporal: c, Namespace: cfg.Client.Namespace, TaskQueue: cfg.TaskQueue, UIURL: cfg.UIURL}
	run, err := rc.Deploy(ctx, in)
	if err != nil {
		return st, "", err
	}
	fmt.Fprintf(a.out, "\n$ runbook deploy %s --version %s --digest %s\nstarted %s\n  %s\n\n", o.runbook, o.version, digest, run.GetID(), rc.Link(run.GetID(), run.GetRunID()))
	f := newFollower(a.out)
	f.redraw = false
	f.onStatus = func(s workflows.ReleaseStatus) { a.demoApprove(ctx, rc, s) }
	st, err = f.follow(ctx, rc, run.GetID())
	return st, rc.Link(run.GetID(), run.GetRunID()), err
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
		res, err := rc.Decide(ctx, st.ReleaseID, true, workflows.DecisionInput{Gate: g.Name, Actor: demoApprover, Comment: "automatic demo approval"})
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

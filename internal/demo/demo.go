// Package demo runs the example releases end to end on the local stack
// (devstack.Stack), printing the story a newcomer reads: approvals,
// migrations, provisioning, a canary under load, or releases under change
// freezes. `runbook demo` is a thin verb over Run.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// demoApprover is who approves gates in the demo; it is not the requester,
// so separation of duties holds.
const demoApprover = "demo-bot"

// Options say what the demo releases and where.
type Options struct {
	// Config is the worker configuration (the CLI's global flags applied).
	Config worker.Config
	// Runbook, CanaryRunbook and FeatureRunbook are the examples released
	// (the last by feature flag); Artifact is the sample app binary.
	Runbook, CanaryRunbook, FeatureRunbook, Artifact string
	// Version of the second checkout release (default 1.4.2-demo.<stamp>).
	Version string
	// Port and UIPort of the dev server (used when one already runs).
	Port, UIPort int
	// Keep leaves the provisioned sample apps running.
	Keep bool
	// Break makes the canary's new version fail, to show the rollback.
	Break bool
	// CanaryOnly skips the checkout releases; Governance runs the checkout
	// releases under change freezes instead; Train releases TrainFile (a
	// train of checkout and storefront) instead.
	CanaryOnly, Governance, Train bool
	TrainFile                     string
	// Requester is who requests the releases.
	Requester string
	// ErrOut receives warnings (default io.Discard).
	ErrOut io.Writer
	// Outcome turns the last release's final status into Run's result;
	// nil means an error unless it succeeded.
	Outcome func(workflows.ReleaseStatus) error
}

// run is one demo: its options, where it writes, and the demo's signer.
type run struct {
	o           Options
	out, errOut io.Writer
	// signer signs the demo cast's decisions with local keys.
	signer identity.Signer
}

// Run runs the demo and prints its story to out. Its error is the last
// release's outcome (Options.Outcome) or what stopped it.
func Run(ctx context.Context, o Options, out io.Writer) error {
	r := &run{o: o, out: out, errOut: o.ErrOut}
	if r.errOut == nil {
		r.errOut = io.Discard
	}
	if r.o.Outcome == nil {
		r.o.Outcome = defaultOutcome
	}
	return r.demo(ctx)
}

// defaultOutcome is an error unless the release succeeded.
func defaultOutcome(st workflows.ReleaseStatus) error {
	if st.State == workflows.StateSucceeded {
		return nil
	}
	return fmt.Errorf("release %s %s: %s", st.ReleaseID, st.State, st.Reason)
}

func (r *run) demo(ctx context.Context) error {
	o := &r.o
	stamp := time.Now().UTC().Format("20060102150405")
	versions := []string{"1.4.1-demo." + stamp, "1.4.2-demo." + stamp}
	if o.Version != "" {
		versions[1] = o.Version
	}
	if err := demoDatabases(o.Config.StateDir); err != nil {
		return err
	}
	stack, err := r.demoStack(ctx)
	if err != nil {
		return err
	}
	defer stack.Stop()
	cfg := stack.Config
	var st workflows.ReleaseStatus
	var link string
	if o.Train {
		ts, err := r.demoTrain(ctx, stack, stamp)
		if ts.TrainID != "" {
			r.printTrain(ts)
			r.demoAuditLine(cfg, ts.TrainID)
		}
		if err == nil && ts.State != workflows.StateSucceeded {
			err = fmt.Errorf("train %s %s: %s", ts.TrainID, ts.State, ts.Reason)
		}
		return err
	}
	if o.Governance {
		st, link, err = r.demoGovernance(ctx, cfg, stamp)
		if err == nil && st.BreakGlass == "" {
			err = fmt.Errorf("the second release was not flagged break-glass")
		}
		return errors.Join(err, r.demoSummary(cfg, st, link))
	}
	if !o.CanaryOnly {
		if st, link, err = r.demoCheckout(ctx, cfg, versions); err != nil || st.State != workflows.StateSucceeded {
			return errors.Join(err, r.demoSummary(cfg, st, link))
		}
	}
	if st, link, err = r.demoCanary(ctx, stack, stamp); err != nil {
		return err
	}
	err = r.demoSummary(cfg, st, link)
	if o.Break && st.State == workflows.StateRolledBack && strings.Contains(st.Reason, "SLO breach") {
		fmt.Fprintln(r.out, "\n--break: the broken version was rolled back automatically, as it should be.")
		return nil
	}
	return err
}

// demoCheckout releases the checkout example twice, approving its gates.
func (r *run) demoCheckout(ctx context.Context, cfg worker.Config, versions []string) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	var link string
	rb, in, err := r.demoInput(r.o.Runbook, r.o.Artifact)
	if err != nil {
		return st, "", err
	}
	if !r.o.Keep {
		defer r.demoTeardown(cfg, r.o.Runbook, rb)
	}
	for i, v := range versions {
		fmt.Fprintf(r.out, "\n=== release %d of %d: %s %s ===\n", i+1, len(versions), rb.Service, v)
		if st, link, err = r.demoRelease(ctx, cfg, in, v, nil); err != nil {
			return st, link, err
		}
		if st.State != workflows.StateSucceeded {
			break
		}
	}
	return st, link, nil
}

// demoSummary prints the last release, the audit check and the UI link.
func (r *run) demoSummary(cfg worker.Config, st workflows.ReleaseStatus, link string) error {
	if st.ReleaseID == "" {
		return nil
	}
	fmt.Fprintln(r.out)
	statusview.Render(r.out, st)
	r.demoAuditLine(cfg, st.ReleaseID)
	fmt.Fprintf(r.out, "\nWeb UI: %s\n(the dev server keeps its state in %s: `make dev` brings the link back)\n", link, filepath.Join(cfg.StateDir, "temporal.db"))
	return r.o.Outcome(st)
}

// demoStack uses a dev server that is already running on the port, or starts
// one, and runs a worker in this process either way.
func (r *run) demoStack(ctx context.Context) (*devstack.Stack, error) {
	stack := &devstack.Stack{Config: r.o.Config, Port: r.o.Port, UIPort: r.o.UIPort, Reuse: true, Out: r.out, ErrOut: r.errOut}
	if err := stack.Start(ctx); err != nil {
		return nil, err
	}
	if err := r.demoKeys(&stack.Config); err != nil {
		stack.Stop()
		return nil, err
	}
	stack.StartWorker(ctx)
	return stack, nil
}

// demoInput loads an example and pins the artifact's digest.
func (r *run) demoInput(path, art string) (*runbooks.Runbook, releases.ResolveInput, error) {
	rb, err := runbooks.Load(path)
	if err != nil {
		return nil, releases.ResolveInput{}, err
	}
	digest, err := artifact.FileDigest(art)
	if err != nil {
		return nil, releases.ResolveInput{}, fmt.Errorf("%w (run `make build` first)", err)
	}
	return rb, releases.ResolveInput{Path: path, Runbook: rb, Digest: digest, Requester: r.o.Requester}, nil
}

// demoRelease deploys one version and approves every gate as demo-bot,
// through the same Update a person sends with `runbook approve`. watch, when
// set, sees every status the follower sees.
func (r *run) demoRelease(ctx context.Context, cfg worker.Config, ri releases.ResolveInput, version string, watch func(workflows.ReleaseStatus)) (workflows.ReleaseStatus, string, error) {
	var st workflows.ReleaseStatus
	ri.Version = version
	in, err := releases.Resolve(ri)
	if err != nil {
		return st, "", err
	}
	rc, closeFn, err := worker.DialReleases(ctx, cfg, r.signer)
	if err != nil {
		return st, "", err
	}
	defer closeFn()
	run, err := rc.Deploy(ctx, in)
	if err != nil {
		return st, "", err
	}
	fmt.Fprintf(r.out, "$ runbook deploy %s --version %s --digest %s\nstarted %s\n  %s\n\n", ri.Path, version, ri.Digest, run.GetID(), rc.Link(run.GetID(), run.GetRunID()))
	f := statusview.NewFollower(r.out)
	f.Redraw = false
	f.OnStatus = func(s workflows.ReleaseStatus) {
		r.demoApprove(ctx, rc, s)
		if watch != nil {
			watch(s)
		}
	}
	st, err = f.Follow(ctx, rc, run.GetID())
	return st, rc.Link(run.GetID(), run.GetRunID()), err
}

// demoTeardown destroys what the demo provisioned, so no sample app keeps
// running after it (use --keep to explore them).
func (r *run) demoTeardown(cfg worker.Config, path string, rb *runbooks.Runbook) {
	acts := &terraform.Activities{Bin: cfg.TofuBin, StateDir: filepath.Join(cfg.StateDir, "state")}
	for _, e := range rb.Environments {
		ws, err := releases.WorkspaceFor(path, rb, e.Name)
		if err != nil {
			continue
		}
		fmt.Fprintf(r.out, "tearing down %s (tofu destroy; --keep keeps it)\n", e.Name)
		if _, err := acts.Destroy(context.Background(), terraform.DestroyInput{Workspace: ws}); err != nil {
			fmt.Fprintf(r.errOut, "teardown of %s: %v\n", e.Name, err)
		}
	}
}

// demoApprove approves any waiting gate demo-bot has not approved yet.
func (r *run) demoApprove(ctx context.Context, rc *releases.Client, st workflows.ReleaseStatus) {
	env, ok := st.Current()
	if !ok {
		return
	}
	for _, g := range env.PendingGates() {
		if approvedBy(g, demoApprover) {
			continue
		}
		fmt.Fprintf(r.out, "\n$ runbook approve %s --gate %s --as %s --comment 'automatic demo approval'\n", st.ReleaseID, g.Name, demoApprover)
		res, err := rc.Decide(ctx, st.ReleaseID, true, workflows.DecisionInput{Gate: g.Name, Actor: demoApprover, Comment: "automatic demo approval", Channel: "cli"})
		if err != nil {
			fmt.Fprintln(r.out, err)
			continue
		}
		fmt.Fprintf(r.out, "%s: gate %s is %s (%d of %d approvals)\n\n", demoApprover, res.Gate, res.GateState, res.Approvals, res.Needed)
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
	devstack.AllowExampleRefs()
	dir, err := filepath.Abs(filepath.Join(stateDir, "demo"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := demoFlags(dir); err != nil {
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

// demoFlags points STOREFRONT_FLAGS_FILE (unless set) at a flagd
// definitions file under the demo's directory, with new-checkout off: the
// storefront runs the new checkout dark until the feature release.
func demoFlags(dir string) error {
	file := filepath.Join(dir, "storefront-flags.json")
	if os.Getenv("STOREFRONT_FLAGS_FILE") == "" {
		_ = os.Setenv("STOREFRONT_FLAGS_FILE", file)
	}
	file = os.Getenv("STOREFRONT_FLAGS_FILE")
	const dark = `{"flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}` + "\n"
	return os.WriteFile(file, []byte(dark), 0o644)
}

// demoAuditLine verifies the audit log the demo wrote to (the file, or the
// PostgreSQL table with RUNBOOK_AUDIT_DSN) and says so.
func (r *run) demoAuditLine(cfg worker.Config, releaseID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rd, err := audit.OpenReader(ctx, cfg.AuditLog, cfg.AuditDSN)
	if err != nil {
		fmt.Fprintf(r.errOut, "audit log: %v\n", err)
		return
	}
	defer rd.Close()
	res, err := rd.Verify(ctx)
	if err != nil {
		fmt.Fprintf(r.errOut, "audit log %s: %v\n", rd, err)
		return
	}
	fmt.Fprintf(r.out, "\naudit log %s: %d records, hash chain intact (runbook audit show --release %s)\n", rd, res.Entries, releaseID)
}

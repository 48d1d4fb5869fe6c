package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/activities/history"
	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/activities/traffic"
	"github.com/runbookhq/runbook/activities/trust"
	"github.com/runbookhq/runbook/activities/versions"
	"github.com/runbookhq/runbook/internal/alerts"
	"github.com/runbookhq/runbook/internal/buildinfo"
	"github.com/runbookhq/runbook/internal/hooks"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/report"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/slackin"
	"github.com/runbookhq/runbook/workflows"
)

// Dial connects to Temporal with the configured options and slog logging.
// It is the one place the worker, the CLI and the demo make their clients,
// so with cfg.Codec set all of them encrypt what they write and decrypt
// what they read.
func Dial(ctx context.Context, cfg Config) (client.Client, error) {
	opts := clientOptions(cfg)
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w; start one with `runbook dev` or set TEMPORAL_ADDRESS",
			opts.HostPort, opts.Namespace, err)
	}
	return c, nil
}

// clientOptions are cfg's client options with logging, cfg's data
// converter and, when a codec is set, the encrypting failure converter.
func clientOptions(cfg Config) client.Options {
	opts := cfg.Client
	if opts.Logger == nil {
		opts.Logger = sdklog.NewStructuredLogger(slog.Default())
	}
	if opts.DataConverter == nil {
		opts.DataConverter = cfg.DataConverter()
	}
	if cfg.Metrics != nil && opts.MetricsHandler == nil {
		opts.MetricsHandler = cfg.Metrics.Handler()
	}
	if cfg.Codec != nil {
		// Failure messages and stack traces hold what payloads do (a
		// check's URL, a migration's error, a rejection's comment): the
		// failure converter moves them into the encrypted attributes.
		opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter: opts.DataConverter, EncodeCommonAttributes: true,
		})
	}
	return opts
}

// Register registers the workflows and activities on the shared task queue.
// slackActs may be nil (no Slack).
func Register(w worker.Registry, cfg Config, log audit.Store, slackActs *slack.Activities, c client.Client) {
	for _, r := range workflows.Registrations {
		if r.Name != freezes.WorkflowName {
			w.RegisterWorkflowWithOptions(r.Fn, workflow.RegisterOptions{Name: r.Name, VersioningBehavior: r.Behavior})
		}
	}
	w.RegisterActivity(&freezes.Activities{Client: c})
	w.RegisterActivity(&history.Activities{Client: c, Namespace: cfg.Client.Namespace})
	w.RegisterActivity(&audit.Activities{Log: log, Notify: cfg.AuditNotify})
	w.RegisterActivity(&httpcheck.Activities{})
	w.RegisterActivity(&artifact.Activities{})
	w.RegisterActivity(&migrate.Activities{})
	w.RegisterActivity(terraformActivities(cfg))
	w.RegisterActivity(&traffic.Activities{})
	w.RegisterActivity(&metrics.Activities{Factories: metricsProviders})
	w.RegisterActivity(&trust.Activities{Config: cfg.Trust})
	w.RegisterActivity(&versions.Activities{})
	w.RegisterActivity(&flags.Activities{})
	// A train plans its rollbacks as `runbook rollback` does.
	w.RegisterActivityWithOptions(ReleasesClient(c, cfg, nil).PlanTrainRollback,
		activity.RegisterOptions{Name: workflows.PlanTrainRollbackActivity})
	if slackActs == nil {
		slackActs = &slack.Activities{}
	}
	w.RegisterActivity(slackActs)
}

// terraformActivities are the provisioning activities of this worker; they
// know its host queue so a saved plan is applied where it was made.
func terraformActivities(cfg Config) *terraform.Activities {
	return &terraform.Activities{Bin: cfg.TofuBin, StateDir: filepath.Join(cfg.StateDir, "state"), HostQueue: cfg.HostQueue()}
}

// Run runs a worker on cfg.TaskQueue, and one for the provisioning
// activities on this host's own queue, until ctx is cancelled.
func Run(ctx context.Context, cfg Config, c client.Client) error {
	tuneGC()
	// A bad trust-root file fails the start, not every decision after it.
	roots, err := identity.Load(ctx, cfg.Trust)
	if err != nil {
		return fmt.Errorf("trust roots: %w", err)
	}
	log, err := audit.OpenStore(ctx, cfg.AuditLog, cfg.AuditDSN, cfg.AuditKeys)
	if err != nil {
		return fmt.Errorf("open audit log: %w (set RUNBOOK_AUDIT_LOG to a writable path, or RUNBOOK_AUDIT_DSN to a database; check RUNBOOK_AUDIT_KEY_FILE and RUNBOOK_AUDIT_CHECKPOINT)", err)
	}
	defer log.Close()
	if cfg.AuditRetention > 0 {
		defer audit.StartRetention(ctx, log, cfg.AuditRetention)()
	}
	ann, stopAnn, err := grafanaSetup(cfg)
	if err != nil {
		return err
	}
	if ann != nil {
		// Deferred before the workers stop (below), so it runs after them and
		// sends the annotations of their last audit records.
		defer stopAnn()
		cfg.AuditNotify = ann.Notify
	}
	sl, err := slackSetup(cfg, c, log)
	if err != nil {
		return err
	}
	if sl.interactions != nil {
		defer sl.interactions.Wait()
	}
	if sl.appToken != "" {
		sctx, stopSocket := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); sl.runSocketMode(sctx, cfg) }()
		defer func() { stopSocket(); <-done }()
	} else if sl.interactions != nil && cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultSlackHTTPAddr
	}
	hk, err := hooksSetup(cfg, c)
	if err != nil {
		return err
	}
	if hk != nil && cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultSlackHTTPAddr
	}
	rp, err := reportsSetup(cfg, c, log)
	if err != nil {
		return err
	}
	sl.acts.ReportLink = reportLinks(rp, os.Getenv(report.EnvURL))
	al, err := alertsSetup(cfg, c, log, sl.acts)
	if err != nil {
		return err
	}
	if (rp != nil || al != nil) && cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultSlackHTTPAddr
	}
	if cfg.HTTPAddr != "" {
		mux := Handler(c, cfg.TaskQueue)
		mux.Handle("GET /metrics", newDORAGauges(c, cfg))
		registerPprof(mux)
		if sl.interactions != nil {
			mux.Handle("POST "+slackin.Path, sl.interactions)
		}
		if hk != nil {
			mux.Handle(hooks.Path, hk)
		}
		registerReports(mux, rp)
		if al != nil {
			mux.Handle(alerts.Path, al.handler)
		}
		stop, err := serveHTTP(cfg.HTTPAddr, mux)
		if err != nil {
			return err
		}
		defer stop()
	}
	opts, err := scaleOptions(workerOptions(cfg))
	if err != nil {
		return err
	}
	shared := worker.New(c, cfg.TaskQueue, opts)
	Register(shared, cfg, log, sl.acts, c)
	registerWatch(shared, al, log)
	host := worker.New(c, cfg.HostQueue(), opts)
	host.RegisterActivity(terraformActivities(cfg))
	frz := worker.New(c, freezes.TaskQueue, opts)
	frz.RegisterWorkflowWithOptions(workflows.Freezes, workflow.RegisterOptions{Name: freezes.WorkflowName, VersioningBehavior: freezesBehavior()})
	frz.RegisterActivity(&audit.Activities{Log: log})
	frz.RegisterActivity(&trust.Activities{Config: cfg.Trust})
	started := []worker.Worker{}
	for _, w := range []struct {
		w     worker.Worker
		queue string
	}{{shared, cfg.TaskQueue}, {host, cfg.HostQueue()}, {frz, freezes.TaskQueue}} {
		if err := w.w.Start(); err != nil {
			for _, s := range started {
				s.Stop()
			}
			return fmt.Errorf("start worker on task queue %s: %w", w.queue, err)
		}
		started = append(started, w.w)
	}
	slog.Info("worker running", "task_queue", cfg.TaskQueue, "host_queue", cfg.HostQueue(), "namespace", cfg.Client.Namespace, "audit_log", log.String(),
		// Which variables runbooks may read (names only, never values), so a
		// refused env: reference can be checked against the running worker.
		secretref.AllowEnv, os.Getenv(secretref.AllowEnv),
		// How decisions are verified: which trust roots are set up.
		"trust_roots", strings.Join(roots.Methods(), ","),
		// Which build this is, and where Worker Versioning routes to it.
		"version", buildinfo.Version(), "deployment", cfg.DeploymentName, "build_id", cfg.WorkerBuildID())
	// Before anything waits on a workflow task: a new deployment's first
	// build must be current for tasks to reach it.
	bootstrapDeployment(ctx, c, cfg)
	// After the workers start: restoring reads the closed run through a
	// query that a worker answers.
	stopKeeping := keepFreezes(ctx, c, cfg.Client.Namespace)
	stopBreaker := al.startBreaker(ctx)
	defer stopBreaker()
	stopWitness, err := witnessCheckpoints(ctx, cfg, c, log)
	if err != nil {
		stopKeeping()
		frz.Stop()
		host.Stop()
		shared.Stop()
		return err
	}
	<-ctx.Done()
	// Before the workers stop: the last record is an Update they run.
	stopWitness()
	stopKeeping()
	frz.Stop()
	host.Stop()
	shared.Stop()
	return nil
}

// witnessCheckpoints, for a signing worker, records the audit log's newest
// checkpoint in its AuditCheckpoints workflow now, every
// cfg.AuditTemporalEvery and at shutdown (the returned stop).
func witnessCheckpoints(ctx context.Context, cfg Config, c client.Client, log audit.Store) (func(), error) {
	if audit.StoreSigner(log) == nil || cfg.AuditTemporalEvery == 0 {
		return func() {}, nil
	}
	id, err := audit.LogID(cfg.AuditLog, cfg.AuditDSN)
	if err != nil {
		return nil, err
	}
	tw := &audit.TemporalWitness{Client: c, TaskQueue: cfg.TaskQueue, WorkflowID: audit.CheckpointsWorkflowID(id), Store: log}
	slog.Info("audit log: recording its checkpoint in Temporal", "workflow_id", tw.WorkflowID, "every", cfg.AuditTemporalEvery)
	return audit.StartTemporalWitness(ctx, tw, cfg.AuditTemporalEvery), nil
}

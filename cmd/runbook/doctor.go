package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/doctor"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// doctorCmd is `runbook doctor`.
type doctorCmd struct {
	a       *app
	json    bool
	samples int
}

func newDoctorCmd(a *app) *cobra.Command {
	v := &doctorCmd{a: a}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a deployment: server, namespace retention, search attributes, workers, codec keys, audit role, Slack scopes, OIDC",
		Long: "doctor checks the set-up the worker's environment describes (run it with the same variables: TEMPORAL_*,\n" +
			"RUNBOOK_TASK_QUEUE, RUNBOOK_DEPLOYMENT_NAME, RUNBOOK_CODEC_KEYS, RUNBOOK_AUDIT_DSN, SLACK_BOT_TOKEN,\n" +
			"RUNBOOK_SLACK_GROUPS, RUNBOOK_OIDC_ISSUER) and prints, for each check, OK or what is wrong and the command\n" +
			"that fixes it. It changes nothing. The namespace's retention should be 90 days or more: runbook list and\n" +
			"the DORA metrics read closed releases from Temporal and see no further back.\n" +
			"Exit status: 0 all good (or not configured), 1 a check failed, 2 only warnings.",
		Example: "  runbook doctor\n  runbook doctor --json | jq '.[] | select(.status != \"ok\")'",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().BoolVar(&v.json, "json", false, "print the results as a JSON array of {check, status, detail, fix}")
	cmd.Flags().IntVar(&v.samples, "sample", 20, "how many of the newest workflows' histories the codec check reads")
	return cmd
}

func (v *doctorCmd) run(ctx context.Context) error {
	cfg, opts, err := v.config()
	if err != nil {
		return err
	}
	dialCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	tc, dialErr := client.DialContext(dialCtx, opts)
	cancel()
	if dialErr == nil {
		defer tc.Close()
	} else {
		tc = nil
	}
	checkCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	results := doctor.Run(checkCtx, cfg, tc, dialErr)
	if v.json {
		enc := json.NewEncoder(v.a.out)
		enc.SetIndent("", "  ")
		err = enc.Encode(results)
	} else {
		err = doctor.WriteText(v.a.out, results)
	}
	if err != nil {
		return err
	}
	if code := doctor.ExitCode(results); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// config reads the worker's settings without worker.LoadConfig, which
// refuses to start on the very mistakes (a bad key file, an unreadable
// DSN file) the doctor is there to explain.
func (v *doctorCmd) config() (doctor.Config, client.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return doctor.Config{}, opts, fmt.Errorf("temporal client configuration: %w (check TEMPORAL_* variables and TEMPORAL_CONFIG_FILE)", err)
	}
	opts.HostPort = firstOf(v.a.address, opts.HostPort, "127.0.0.1:7233")
	opts.Namespace = firstOf(v.a.namespace, opts.Namespace, "default")
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	cfg := doctor.Config{
		Address: opts.HostPort, Namespace: opts.Namespace,
		TaskQueue:       firstOf(os.Getenv("RUNBOOK_TASK_QUEUE"), workflows.DefaultTaskQueue),
		DeploymentName:  os.Getenv(worker.EnvDeploymentName),
		CodecKeys:       os.Getenv(codec.EnvKeys),
		SampleWorkflows: v.samples,
		SlackAPIURL:     os.Getenv("RUNBOOK_SLACK_API_URL"),
		SlackGroups:     os.Getenv("RUNBOOK_SLACK_GROUPS") != "",
		OIDCIssuer:      os.Getenv("RUNBOOK_OIDC_ISSUER"),
		OIDCJWKS:        os.Getenv("RUNBOOK_OIDC_JWKS"),
	}
	// Unreadable settings are the checks' findings, not the command's error.
	cfg.AuditDSN, cfg.AuditDSNErr = audit.LoadDSN(os.Getenv(audit.EnvDSN), os.Getenv(audit.EnvDSNFile))
	cfg.SlackToken, cfg.SlackTokenErr = slack.LoadSecret(os.Getenv, slack.EnvBotToken)
	return cfg, opts, nil
}

// firstOf is the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

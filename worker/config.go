// Package worker wires runbook together: configuration, Temporal client,
// activity implementations, registration, and the worker run loop.
package worker

import (
	"github.com/runbookhq/runbook/internal/telemetry"

	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/workflows"
)

// Config is everything a worker or a CLI command needs to reach Temporal and
// the local state. Temporal settings come from the same environment variables
// and config file as the temporal CLI (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE).
type Config struct {
	// Client holds the Temporal connection options.
	Client client.Options
	// Metrics, when set, records the Temporal SDK's metrics of the clients
	// Dial makes; the worker serves them at /metrics.
	Metrics *telemetry.Registry
	// AuditNotify, when set, is told of each stored audit entry (Run sets
	// it to the Grafana annotator when RUNBOOK_GRAFANA_URL is set).
	AuditNotify func(audit.Entry)
	// TaskQueue is where releases run (RUNBOOK_TASK_QUEUE, default "runbook").
	TaskQueue string
	// StateDir holds local state: the dev server database, the audit log
	// (RUNBOOK_STATE_DIR, default .runbook).
	StateDir string
	// AuditLog is the audit log file (RUNBOOK_AUDIT_LOG, default
	// <state dir>/audit.jsonl).
	AuditLog string
	// AuditDSN, when set, keeps the audit log in PostgreSQL instead of the
	// file (RUNBOOK_AUDIT_DSN, or RUNBOOK_AUDIT_DSN_FILE naming a file that
	// holds it). It prints redacted.
	AuditDSN audit.DSN
	// AuditKeys names the worker's audit signing key and checkpoint file
	// (RUNBOOK_AUDIT_KEY_FILE, RUNBOOK_AUDIT_CHECKPOINT, default
	// <audit log>.checkpoint). The key is read only when the log is opened
	// for writing, so CLI commands that only read need no access to it.
	AuditKeys audit.KeyConfig
	// AuditRetention, when set, makes the worker prune audit entries older
	// than this at start and daily (RUNBOOK_AUDIT_RETENTION, e.g. 400d).
	AuditRetention time.Duration
	// AuditTemporalEvery is how often a signing worker records the log's
	// newest checkpoint in the AuditCheckpoints workflow
	// (RUNBOOK_AUDIT_TEMPORAL_CHECKPOINT, default 1m; off: 0).
	AuditTemporalEvery time.Duration
	// UIURL is the Temporal Web UI base URL used in links
	// (RUNBOOK_UI_URL, default http://127.0.0.1:8233).
	UIURL string
	// HTTPAddr, when set, serves /healthz and /readyz (RUNBOOK_HTTP_ADDR,
	// e.g. 127.0.0.1:9464; default off).
	HTTPAddr string
	// TriggersFile, when set, is the trigger file mapping signed webhook
	// deliveries on POST /hooks/release to runbooks (RUNBOOK_TRIGGERS_FILE;
	// see internal/hooks).
	TriggersFile string
	// AlertsFile, when set, is the alerts file: POST /hooks/alertmanager
	// takes Alertmanager's webhook to the release an alert points at, and
	// its breaker section declares automatic freezes (RUNBOOK_ALERTS_FILE;
	// see internal/alerts).
	AlertsFile string
	// TofuBin is the OpenTofu/Terraform binary for provision steps
	// (RUNBOOK_TOFU_BIN; default: tofu on PATH, the pinned .tools/bin/tofu,
	// then terraform on PATH).
	TofuBin string
	// SlackUsers maps Slack user IDs to runbook identities
	// (RUNBOOK_SLACK_USERS, "U0123ABCD=alice,U0456EFGH=bob").
	SlackUsers string
	// SlackGroups maps Slack user group IDs to the approver groups runbooks
	// name as group:NAME (RUNBOOK_SLACK_GROUPS, "S0123ABCD=release-managers").
	SlackGroups string
	// SlackAPIURL overrides Slack's API URL (RUNBOOK_SLACK_API_URL; tests).
	SlackAPIURL string
	// SlackSocketMode receives interactions over Socket Mode instead of
	// POST /slack/interactions (`runbook worker --slack-socket-mode`, or
	// RUNBOOK_SLACK_SOCKET_MODE=true).
	SlackSocketMode bool
	// Trust says where the trust roots of signed decisions are
	// (RUNBOOK_ALLOWED_SIGNERS, RUNBOOK_GROUPS_FILE, RUNBOOK_OIDC_*); the
	// Slack users come from SlackUsers.
	Trust identity.Config
	// SlackSigningKey is the worker's SSH private key that signs Slack
	// clicks on behalf of the mapped user (RUNBOOK_SLACK_SIGNING_KEY). Its
	// public key goes in the allowed signers with
	// namespaces="runbook-slack@runbookhq".
	SlackSigningKey string
	// Codec, when set, encrypts every payload this process stores in
	// Temporal and decrypts what it reads (RUNBOOK_CODEC_KEYS; see
	// internal/codec). Dial puts it in every client.
	Codec *codec.Codec
	// DeploymentName, when set, runs the worker under Worker Versioning in
	// this Worker Deployment (RUNBOOK_DEPLOYMENT_NAME; default unset:
	// unversioned). See versioning.go.
	DeploymentName string
	// BuildID is the worker's build ID in its deployment
	// (RUNBOOK_BUILD_ID; default the binary's version, see WorkerBuildID).
	BuildID string
	// Interceptors are added to every worker Run starts. The product never
	// sets them; the fault-injection suite's worker (test/chaosworker) does,
	// to fail activities at exact moments.
	Interceptors []interceptor.WorkerInterceptor
}

// HostQueue is the task queue only workers on this host poll: saved plans
// and local state live on its disk (RUNBOOK_HOST_QUEUE, default
// <task queue>@<hostname>).
func (c Config) HostQueue() string {
	if q := os.Getenv("RUNBOOK_HOST_QUEUE"); q != "" {
		return q
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return c.TaskQueue + "@" + host
}

// LoadConfig reads the configuration from the environment.
func LoadConfig() (Config, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return Config{}, fmt.Errorf("temporal client configuration: %w (check TEMPORAL_* variables and TEMPORAL_CONFIG_FILE)", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = "127.0.0.1:7233"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.ConnectionOptions.GrpcCompression, err = grpcCompression(os.Getenv(EnvCompression), opts.HostPort); err != nil {
		return Config{}, err
	}
	cfg := Config{
		Client:       opts,
		TaskQueue:    envOr("RUNBOOK_TASK_QUEUE", workflows.DefaultTaskQueue),
		StateDir:     envOr("RUNBOOK_STATE_DIR", ".runbook"),
		UIURL:        envOr("RUNBOOK_UI_URL", "http://127.0.0.1:8233"),
		HTTPAddr:     os.Getenv("RUNBOOK_HTTP_ADDR"),
		TriggersFile: os.Getenv("RUNBOOK_TRIGGERS_FILE"),
		AlertsFile:   os.Getenv("RUNBOOK_ALERTS_FILE"),
		TofuBin:      os.Getenv("RUNBOOK_TOFU_BIN"),

		DeploymentName: os.Getenv(EnvDeploymentName),
		BuildID:        os.Getenv(EnvBuildID),

		SlackUsers:  os.Getenv("RUNBOOK_SLACK_USERS"),
		SlackAPIURL: os.Getenv("RUNBOOK_SLACK_API_URL"),
		SlackGroups: os.Getenv("RUNBOOK_SLACK_GROUPS"),

		SlackSocketMode: os.Getenv("RUNBOOK_SLACK_SOCKET_MODE") == "true",
	}
	// A mistyped allowlist fails the start, not the first release using it.
	if _, err := secretref.ParseAllow(os.Getenv(secretref.AllowEnv)); err != nil {
		return Config{}, err
	}
	if cfg.Trust, err = trustConfig(cfg.SlackUsers); err != nil {
		return Config{}, err
	}
	cfg.SlackSigningKey = os.Getenv("RUNBOOK_SLACK_SIGNING_KEY")
	cfg.AuditLog = envOr("RUNBOOK_AUDIT_LOG", filepath.Join(cfg.StateDir, "audit.jsonl"))
	if cfg.AuditDSN, err = audit.LoadDSN(os.Getenv(audit.EnvDSN), os.Getenv(audit.EnvDSNFile)); err != nil {
		return Config{}, err
	}
	cfg.AuditKeys = audit.KeyConfig{KeyFile: os.Getenv(audit.EnvKeyFile), Checkpoint: os.Getenv(audit.EnvCheckpoint)}
	if cfg.AuditRetention, err = audit.ParseRetention(os.Getenv(audit.EnvRetention)); err != nil {
		return Config{}, err
	}
	if cfg.AuditTemporalEvery, err = audit.ParseTemporalEvery(os.Getenv(audit.EnvTemporalCheckpoint)); err != nil {
		return Config{}, err
	}
	// A bad key file fails every command at once, before anything is
	// written in plaintext or read as garbage.
	if cfg.Codec, err = codec.FromEnv(os.Getenv); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// DataConverter is how this process turns values into payloads: the SDK's
// default, encrypted by Codec when one is set (without one, encrypted
// payloads it reads are an error naming RUNBOOK_CODEC_KEYS). Code that decodes payloads it
// read itself (a history's first event, heartbeat details, a schedule's
// memo) uses it, as the client does.
func (c Config) DataConverter() converter.DataConverter {
	if c.Codec == nil {
		// Plaintext as the SDK's default, but an encrypted payload says
		// RUNBOOK_CODEC_KEYS is missing.
		return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), codec.Missing{})
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c.Codec)
}

// trustConfig reads where the trust roots are.
func trustConfig(slackUsers string) (identity.Config, error) {
	users, err := parseIdentities("RUNBOOK_SLACK_USERS", slackUsers)
	if err != nil {
		return identity.Config{}, err
	}
	return identity.Config{
		AllowedSignersFile: os.Getenv("RUNBOOK_ALLOWED_SIGNERS"),
		GroupsFile:         os.Getenv("RUNBOOK_GROUPS_FILE"),
		OIDCIssuer:         os.Getenv("RUNBOOK_OIDC_ISSUER"),
		OIDCAudience:       os.Getenv("RUNBOOK_OIDC_AUDIENCE"),
		OIDCJWKS:           os.Getenv("RUNBOOK_OIDC_JWKS"),
		OIDCIdentityClaim:  os.Getenv("RUNBOOK_OIDC_IDENTITY_CLAIM"),
		OIDCGroupsClaim:    os.Getenv("RUNBOOK_OIDC_GROUPS_CLAIM"),
		SlackUsers:         users,
	}, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

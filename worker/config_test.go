package worker

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigReadsTheEnvironment(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	t.Setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "releases")
	t.Setenv("RUNBOOK_TASK_QUEUE", "rq")
	t.Setenv("RUNBOOK_STATE_DIR", "/var/lib/runbook")
	t.Setenv("RUNBOOK_AUDIT_LOG", "")
	t.Setenv("RUNBOOK_HTTP_ADDR", "127.0.0.1:9464")
	t.Setenv("RUNBOOK_AUDIT_KEY_FILE", "/etc/runbook/audit-key.pem")
	t.Setenv("RUNBOOK_AUDIT_CHECKPOINT", "/var/backup/audit.checkpoint")
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Client.HostPort != "temporal.example:7233" || cfg.Client.Namespace != "releases" {
		t.Errorf("temporal settings not read: %s %s", cfg.Client.HostPort, cfg.Client.Namespace)
	}
	if cfg.TaskQueue != "rq" || cfg.HTTPAddr != "127.0.0.1:9464" {
		t.Errorf("runbook settings not read: %+v", cfg)
	}
	if cfg.AuditLog != "/var/lib/runbook/audit.jsonl" {
		t.Errorf("audit log should default into the state dir, got %s", cfg.AuditLog)
	}
	if cfg.AuditKeys.KeyFile != "/etc/runbook/audit-key.pem" || cfg.AuditKeys.Checkpoint != "/var/backup/audit.checkpoint" {
		t.Errorf("audit signing settings not read: %+v", cfg.AuditKeys)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "RUNBOOK_TASK_QUEUE", "RUNBOOK_STATE_DIR", "RUNBOOK_AUDIT_LOG", "RUNBOOK_HTTP_ADDR", "TEMPORAL_PROFILE"} {
		t.Setenv(k, "")
	}
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Client.HostPort != "127.0.0.1:7233" || cfg.Client.Namespace != "default" || cfg.TaskQueue != "runbook" {
		t.Errorf("defaults: %s %s %s", cfg.Client.HostPort, cfg.Client.Namespace, cfg.TaskQueue)
	}
	if cfg.HTTPAddr != "" {
		t.Errorf("HTTP endpoints must be off by default, got %s", cfg.HTTPAddr)
	}
}

// TestLoadConfigRefusesABadEnvAllowlist: a worker told to hand its own
// credentials to runbooks, or every variable, does not start.
func TestLoadConfigRefusesABadEnvAllowlist(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for _, v := range []string{"*", "SLACK_BOT_TOKEN", "CHECKOUT_*,AWS_*", "RUNBOOK_AUDIT_DSN", "NOT A NAME"} {
		t.Setenv("RUNBOOK_ENV_ALLOW", v)
		if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "RUNBOOK_ENV_ALLOW") {
			t.Errorf("RUNBOOK_ENV_ALLOW=%q: err %v, want a refusal naming the setting", v, err)
		}
	}
	t.Setenv("RUNBOOK_ENV_ALLOW", "CHECKOUT_*, APP_TOKEN")
	if _, err := LoadConfig(); err != nil {
		t.Errorf("a good allowlist: %v", err)
	}
}

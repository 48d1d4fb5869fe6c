package edgerouter

import (
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/secretref"
)

// TestRouterRefusesToLeakSecrets: the token option cannot name the worker's
// own credentials, and the admin URL cannot be the metadata service, so a
// runbook cannot send a worker secret to an address it picks.
func TestRouterRefusesToLeakSecrets(t *testing.T) {
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, secret)
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-leaked")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-leaked")
	for name, opts := range map[string]map[string]string{
		"slack token":     {OptAdmin: "http://127.0.0.1:1", OptToken: "env:SLACK_BOT_TOKEN"},
		"aws secret":      {OptAdmin: "http://127.0.0.1:1", OptToken: "env:AWS_SECRET_ACCESS_KEY"},
		"unlisted":        {OptAdmin: "http://127.0.0.1:1", OptToken: "env:HOME"},
		"metadata admin":  {OptAdmin: "http://169.254.169.254/", OptToken: "env:" + tokenEnv},
		"decimal admin":   {OptAdmin: "http://2852039166/", OptToken: "env:" + tokenEnv},
		"link-local IPv6": {OptAdmin: "http://[fe80::1]:8081", OptToken: "env:" + tokenEnv},
	} {
		_, err := New(opts)
		if err == nil || strings.Contains(err.Error(), "leaked") {
			t.Errorf("%s: New = %v, want a refusal without the value", name, err)
		}
	}
	t.Setenv(secretref.AllowEnv, "")
	t.Setenv(secretref.EdgeToken, secret)
	if _, err := New(map[string]string{OptAdmin: "http://127.0.0.1:1"}); err != nil {
		t.Errorf("the default token reference needs no allowlist entry: %v", err)
	}
}

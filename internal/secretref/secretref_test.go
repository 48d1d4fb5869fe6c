package secretref

import (
	"errors"
	"strings"
	"testing"
)

func TestNeverReadableWhateverTheAllowlistSays(t *testing.T) {
	t.Setenv(AllowEnv, "CHECKOUT_*,APP_TOKEN")
	for _, name := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
		"TEMPORAL_API_KEY", "RUNBOOK_AUDIT_DSN", "RUNBOOK_AUDIT_KEY", "RUNBOOK_ENV_ALLOW", "slack_bot_token", "Aws_Session_Token"} {
		t.Setenv(name, "leaked")
		v, _, err := Lookup(name)
		if !errors.Is(err, ErrRefused) || v != "" {
			t.Errorf("Lookup(%s) = %q, %v; want refused", name, v, err)
			continue
		}
		if !strings.Contains(err.Error(), "never readable") || strings.Contains(err.Error(), "leaked") {
			t.Errorf("Lookup(%s): %v; want the never-readable reason without the value", name, err)
		}
	}
}

func TestOnlyAllowedNamesResolve(t *testing.T) {
	t.Setenv(AllowEnv, " CHECKOUT_* , APP_TOKEN ")
	t.Setenv("CHECKOUT_DB", "sqlite://x")
	t.Setenv("APP_TOKEN", "t")
	t.Setenv("APP_TOKEN2", "t2")
	t.Setenv("HOME_TOKEN", "h")
	for name, want := range map[string]string{"CHECKOUT_DB": "sqlite://x", "APP_TOKEN": "t"} {
		if v, ok, err := Lookup(name); err != nil || !ok || v != want {
			t.Errorf("Lookup(%s) = %q, %v, %v", name, v, ok, err)
		}
	}
	if _, ok, err := Lookup("CHECKOUT_UNSET"); err != nil || ok {
		t.Errorf("an allowed unset name: ok %v, err %v", ok, err)
	}
	for _, name := range []string{"APP_TOKEN2", "HOME_TOKEN", "PATH"} {
		_, _, err := Lookup(name)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), AllowEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("Lookup(%s): %v; want a refusal naming %s", name, err, AllowEnv)
		}
	}
}

func TestNothingResolvesByDefault(t *testing.T) {
	t.Setenv(AllowEnv, "")
	t.Setenv("CHECKOUT_DB", "x")
	if _, _, err := Lookup("CHECKOUT_DB"); !errors.Is(err, ErrRefused) {
		t.Errorf("with no allowlist: %v", err)
	}
}

func TestEdgeTokenOnlyWhereTheProductReadsIt(t *testing.T) {
	t.Setenv(AllowEnv, "")
	t.Setenv(EdgeToken, "edge")
	if v, ok, err := Lookup(EdgeToken, EdgeToken); err != nil || !ok || v != "edge" {
		t.Errorf("the edge router's own token: %q %v %v", v, ok, err)
	}
	if _, _, err := Lookup(EdgeToken); !errors.Is(err, ErrRefused) {
		t.Errorf("the edge token in a header: %v, want refused", err)
	}
	if !Never("RUNBOOK_AUDIT_DSN", EdgeToken) || !Never(EdgeToken) || Never(EdgeToken, EdgeToken) {
		t.Error("Never's exemption applies to the product names only")
	}
}

func TestParseAllowRefusesMistakes(t *testing.T) {
	for _, v := range []string{"*", "CHECKOUT DB", "SLACK_*", "AWS_SECRET_ACCESS_KEY", "RUNBOOK_*", "RUNBOOK_EDGE_TOKEN", "A-B", "X_**"} {
		if _, err := ParseAllow(v); err == nil {
			t.Errorf("ParseAllow(%q) accepted", v)
		}
	}
	a, err := ParseAllow("A,B_*,,")
	if err != nil || !a.Allows("A") || !a.Allows("B_X") || a.Allows("AB") {
		t.Errorf("ParseAllow: %+v %v", a, err)
	}
	t.Setenv(AllowEnv, "*")
	if _, _, err := Lookup("ANY"); err == nil || !strings.Contains(err.Error(), "bare *") {
		t.Errorf("a malformed allowlist: %v", err)
	}
}

package worker

import (
	"strings"
	"testing"
)

// TestGrafanaSetup: off without a URL; the token must be a reference, not
// the token itself; a bad URL is refused at start.
func TestGrafanaSetup(t *testing.T) {
	for _, c := range []struct {
		url, token, want string
	}{
		{"", "", ""},
		{"http://127.0.0.1:3000", "", "RUNBOOK_GRAFANA_TOKEN"},
		{"http://127.0.0.1:3000", "glsa_literal", "must be a reference"},
		{"http://127.0.0.1:3000", "env:TEST_GRAFANA_UNSET", "empty or unset"},
		{"127.0.0.1:3000", "env:TEST_GRAFANA_TOKEN", "want http(s)://"},
	} {
		t.Setenv("RUNBOOK_GRAFANA_URL", c.url)
		t.Setenv("RUNBOOK_GRAFANA_TOKEN", c.token)
		t.Setenv("TEST_GRAFANA_TOKEN", "glsa_x")
		a, stop, err := grafanaSetup(Config{})
		if stop != nil {
			stop()
		}
		switch {
		case c.want == "" && (err != nil || a != nil):
			t.Errorf("%+v: %v, %v; want off", c, a, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v; want %q", c, err, c.want)
		}
	}
	t.Setenv("RUNBOOK_GRAFANA_URL", "http://127.0.0.1:3000")
	t.Setenv("RUNBOOK_GRAFANA_TOKEN", "env:TEST_GRAFANA_TOKEN")
	a, stop, err := grafanaSetup(Config{})
	if err != nil || a == nil {
		t.Fatalf("a good configuration: %v", err)
	}
	stop()
}

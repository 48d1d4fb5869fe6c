package runbooks

import (
	"strings"
	"testing"
	"time"
)

func TestAlertFieldsProblems(t *testing.T) {
	for _, c := range []struct{ name, production, want string }{
		{"unknown action", "    on-alert: {critical: restart}\n", `rb.yaml:9:26: on-alert action "restart" for critical is not known; use rollback, pause, notify`},
		{"empty map", "    on-alert: {}\n", "on-alert is empty"},
		{"bad severity key", "    on-alert: {\"a b\": pause}\n", `on-alert key "a b" is not a severity`},
		{"watch-after too long", "    watch-after: 8d\n", "watch-after 192h0m0s must be more than 0 and at most 7d"},
		{"watch-after zero", "    watch-after: 0s\n", "watch-after 0s must be more than 0"},
	} {
		_, err := Parse("rb.yaml", []byte(promoteRunbook("", c.production)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", c.name, err, c.want)
		}
	}
}

func TestAlertFieldsDefaults(t *testing.T) {
	rb, err := Parse("rb.yaml", []byte(promoteRunbook("", "    watch-after: 30m\n    on-alert: {default: notify, critical: rollback, warning: pause}\n")))
	if err != nil {
		t.Fatal(err)
	}
	staging, prod := &rb.Environments[0], &rb.Environments[1]
	if staging.WatchAfterOr() != time.Hour || staging.OnAlertAction("critical") != AlertNotify {
		t.Errorf("staging: watch-after %s, critical → %s; want the defaults 1h and notify", staging.WatchAfterOr(), staging.OnAlertAction("critical"))
	}
	for sev, want := range map[string]string{"critical": AlertRollback, "warning": AlertPause, "info": AlertNotify, "": AlertNotify} {
		if got := prod.OnAlertAction(sev); got != want {
			t.Errorf("production: severity %q → %s, want %s", sev, got, want)
		}
	}
	if prod.WatchAfterOr() != 30*time.Minute {
		t.Errorf("production watch-after %s, want 30m", prod.WatchAfterOr())
	}
}

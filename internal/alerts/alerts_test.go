package alerts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/runbookhq/runbook/internal/testenv/slackfake"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(vals map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
}

func TestLoadProblems(t *testing.T) {
	vars := env(map[string]string{"AM_TOKEN": "s3cret", "AM_PASS": "pw"})
	for _, c := range []struct{ name, text, want string }{
		{"no auth", "labels: {service: [app]}\n", "auth is required"},
		{"literal token", "auth: {bearer: s3cret}\n", "auth.bearer must be env:NAME; a secret written in the alerts file is refused"},
		{"unset variable", "auth: {bearer: env:NOPE}\n", "env:NOPE is not set in the worker's environment"},
		{"both", "auth: {bearer: env:AM_TOKEN, basic: {username: am, password: env:AM_PASS}}\n", "set bearer or basic, not both"},
		{"basic without user", "auth: {basic: {password: env:AM_PASS}}\n", "auth.basic.username is required"},
		{"unknown field", "auth: {bearer: env:AM_TOKEN}\nfoo: 1\n", "field foo not found"},
		{"bad rule", "auth: {bearer: env:AM_TOKEN}\nbreaker: {rules: [{scope: team, failures: 0, within: 0s}]}\n", `scope "team": use service or namespace`},
		{"no rules", "auth: {bearer: env:AM_TOKEN}\nbreaker: {}\n", "breaker.rules is empty"},
		{"burn without query", "auth: {bearer: env:AM_TOKEN}\nbreaker: {burn: [{name: b, provider: prometheus, above: 2}]}\n", "breaker.burn[0]: provider and query are required"},
	} {
		_, err := Load(writeFile(t, c.text), vars)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestLoadDefaultsAndVerify(t *testing.T) {
	c, err := Load(writeFile(t, "auth: {bearer: env:AM_TOKEN}\nbreaker: {rules: [{scope: service, failures: 2, within: 1h}]}\n"), env(map[string]string{"AM_TOKEN": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Labels.Environment, ",") != "environment,env" || c.Labels.Service[0] != "service" || c.Labels.Severity[0] != "severity" {
		t.Errorf("default labels %+v", c.Labels)
	}
	if c.Breaker.CheckEvery.D() != DefaultCheckEvery {
		t.Errorf("check-every %s, want the default %s", c.Breaker.CheckEvery, DefaultCheckEvery)
	}
	for header, ok := range map[string]bool{"Bearer s3cret": true, "Bearer s3cre": false, "bearer s3cret": false, "": false, "Basic czNjcmV0": false} {
		h := http.Header{}
		if header != "" {
			h.Set("Authorization", header)
		}
		if got := c.Verify(h) == nil; got != ok {
			t.Errorf("Authorization %q: verified %v, want %v", header, got, ok)
		}
	}
	b, err := Load(writeFile(t, "auth: {basic: {username: am, password: env:AM_PASS}}\n"), env(map[string]string{"AM_PASS": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range []struct {
		u, p string
		ok   bool
	}{{"am", "pw", true}, {"am", "px", false}, {"xx", "pw", false}} {
		r := httptest.NewRequest(http.MethodPost, Path, nil)
		r.SetBasicAuth(up.u, up.p)
		if got := b.Verify(r.Header) == nil; got != up.ok {
			t.Errorf("basic %s:%s verified %v, want %v", up.u, up.p, got, up.ok)
		}
	}
}

const message = `{"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","status":"firing","receiver":"runbook",
"externalURL":"http://am.example:9093","alerts":[
{"status":"firing","labels":{"alertname":"HighErrorRate","service":"shop","env":"production","severity":"critical","team":"pay"},
 "annotations":{"summary":"5xx above 5%"},"startsAt":"2026-12-07T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
 "generatorURL":"http://prom.example:9090/graph?g0.expr=x","fingerprint":"a1b2c3d4e5f60718"}]}`

func TestParseAndMap(t *testing.T) {
	m, err := ParseMessage([]byte(message))
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Labels: Labels{Service: DefaultServiceLabels, Environment: DefaultEnvironmentLabels, Severity: DefaultSeverityLabels}, Match: map[string]string{"team": "pay"}}
	svc, envName, sev, why := c.Map(m.Alerts[0])
	if why != "" || svc != "shop" || envName != "production" || sev != "critical" {
		t.Errorf("Map = %q %q %q (why %q); want shop production critical", svc, envName, sev, why)
	}
	c.Match["team"] = "search"
	if _, _, _, why := c.Map(m.Alerts[0]); !strings.Contains(why, `label team is "pay", not "search"`) {
		t.Errorf("a differing static matcher: why = %q", why)
	}
	if got := RecordID(m.Alerts[0]); got != "alert/a1b2c3d4e5f60718/1796637600000000000" {
		t.Errorf("RecordID = %s", got)
	}
	for _, bad := range []string{
		strings.Replace(message, `"version":"4"`, `"version":"3"`, 1),
		strings.Replace(message, `"fingerprint":"a1b2c3d4e5f60718"`, `"fingerprint":"../x"`, 1),
		strings.Replace(message, `"startsAt":"2026-12-07T10:00:00Z",`, ``, 1),
		`{"version":`,
	} {
		if _, err := ParseMessage([]byte(bad)); err == nil {
			t.Errorf("accepted %.60s…", bad)
		}
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	prod := runbooks.Environment{Name: "production", OnAlert: map[string]string{"critical": "rollback", "warning": "pause"}, WatchAfter: runbooks.Duration(30 * time.Minute)}
	running := Target{ReleaseID: "release/shop/2.0.0", Running: true, Env: prod}
	done := Target{ReleaseID: "release/shop/2.0.0", State: workflows.StateSucceeded, EndedAt: now.Add(-10 * time.Minute), Env: prod}
	old := done
	old.EndedAt = now.Add(-time.Hour)
	failed := done
	failed.State = workflows.StateRolledBack
	back := done
	back.IsRollback = true
	rollingBack := running
	rollingBack.IsRollback = true
	for _, c := range []struct {
		name, sev string
		t         Target
		want      string
	}{
		{"running, critical", "critical", running, actAbort},
		{"running, warning", "warning", running, runbooks.AlertPause},
		{"running, info", "info", running, runbooks.AlertNotify},
		{"finished within watch-after", "critical", done, actRollbackStart},
		{"finished, warning: nothing to pause", "warning", done, runbooks.AlertNotify},
		{"past watch-after", "critical", old, runbooks.AlertNotify},
		{"already rolled back", "critical", failed, runbooks.AlertNotify},
		{"a rollback itself", "critical", back, runbooks.AlertNotify},
		{"a running rollback is left alone", "critical", rollingBack, runbooks.AlertNotify},
		{"a running rollback is not paused", "warning", rollingBack, runbooks.AlertNotify},
	} {
		if got, why := decide(now, c.sev, c.t); got != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, got, why, c.want)
		}
	}
}

// The handler refuses before it reads Temporal: wrong credentials, a body
// too large, a message that is not Alertmanager's.
func TestHandlerRefusals(t *testing.T) {
	c, err := Load(writeFile(t, "auth: {bearer: env:AM_TOKEN}\n"), env(map[string]string{"AM_TOKEN": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Config: c, Acter: &Acter{}}
	for _, r := range []struct {
		name, method, auth, body string
		want                     int
	}{
		{"GET", http.MethodGet, "Bearer s3cret", "", http.StatusMethodNotAllowed},
		{"no token", http.MethodPost, "", message, http.StatusUnauthorized},
		{"wrong token", http.MethodPost, "Bearer nope", message, http.StatusUnauthorized},
		{"too large", http.MethodPost, "Bearer s3cret", strings.Repeat(" ", MaxBody+1), http.StatusRequestEntityTooLarge},
		{"not version 4", http.MethodPost, "Bearer s3cret", `{"version":"2","alerts":[]}`, http.StatusBadRequest},
		{"unlabelled alert ignored", http.MethodPost, "Bearer s3cret", strings.Replace(message, `"service":"shop",`, "", 1), http.StatusOK},
	} {
		req := httptest.NewRequest(r.method, Path, strings.NewReader(r.body))
		if r.auth != "" {
			req.Header.Set("Authorization", r.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != r.want {
			t.Errorf("%s: %d %s, want %d", r.name, rec.Code, rec.Body, r.want)
		}
	}
}

// A handled alert is noted in the environment's Slack channel, with its
// action, source and fingerprint; no channel, no post.
func TestSlackNote(t *testing.T) {
	fake := slackfake.New("xoxb-test")
	t.Cleanup(fake.Stop)
	x := &Acter{Slack: goslack.New("xoxb-test", goslack.OptionAPIURL(fake.URL()))}
	m, err := ParseMessage([]byte(message))
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{Service: "shop", Environment: "production", Env: runbooks.Environment{Slack: &runbooks.Slack{Channel: "C0ALERTS"}}}
	x.note(context.Background(), m.Alerts[0], tg, "critical", outcome{action: actAbort, detail: "abort the running release/shop/2.0.0"})
	x.note(context.Background(), m.Alerts[0], Target{Service: "shop", Environment: "staging"}, "critical", outcome{action: actAbort})
	calls := fake.Calls(slackfake.PostMessage)
	if len(calls) != 1 {
		t.Fatalf("%d posts, want 1 (staging has no channel)", len(calls))
	}
	text := calls[0].Form.Get("text")
	for _, want := range []string{"HighErrorRate", "critical", "shop in production", "*abort*", "http://prom.example:9090/graph", "a1b2c3d4e5f60718"} {
		if calls[0].Form.Get("channel") != "C0ALERTS" || !strings.Contains(text, want) {
			t.Errorf("post to %s %q lacks %q", calls[0].Form.Get("channel"), text, want)
		}
	}
}

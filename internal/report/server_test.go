package report

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// fakeReleases answers one release; the log is a real file log.
type fakeReleases struct{ st workflows.ReleaseStatus }

func (f fakeReleases) Status(_ context.Context, id string) (workflows.ReleaseStatus, error) {
	if id != f.st.ReleaseID {
		return workflows.ReleaseStatus{}, errors.New("no release " + id)
	}
	return f.st, nil
}

func (f fakeReleases) Wait(ctx context.Context, id string) (workflows.ReleaseStatus, error) {
	return f.Status(ctx, id)
}

func TestServerNeedsTokenOrSignedLink(t *testing.T) {
	st, _ := breachedCanary()
	log, err := audit.Open(t.TempDir() + "/audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	now := t0.Add(time.Hour)
	s := &Server{Token: []byte("s3cret"), Releases: fakeReleases{st}, Log: log, Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	s.Register(mux)
	get := func(target, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", target, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	path := PathRelease + st.ReleaseID
	signed := SignLink(s.Token, path, now.Add(time.Hour))
	for _, c := range []struct {
		name, target, auth string
		code               int
	}{
		{"no token", path, "", 401},
		{"wrong token", path, "Bearer nope", 401},
		{"token as a query parameter", path + "?token=s3cret", "", 401},
		{"bearer token", path, "Bearer s3cret", 200},
		{"signed link", signed, "", 200},
		{"signed link for another release", strings.Replace(signed, "3.0.0", "4.0.0", 1), "", 401},
		{"expired link", SignLink(s.Token, path, now.Add(-time.Second)), "", 401},
		{"unknown release", PathRelease + "release/svc/9", "Bearer s3cret", 404},
	} {
		rec := get(c.target, c.auth)
		if rec.Code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.name, rec.Code, c.code, rec.Body)
		}
		if c.code == 200 {
			if !strings.Contains(rec.Body.String(), "<svg") || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("%s: the report has no chart or no CSP", c.name)
			}
		} else if strings.Contains(rec.Body.String(), "svc") && c.code == 401 {
			t.Errorf("%s: a refused request shows something of the release: %s", c.name, rec.Body)
		}
	}
	if (&Server{}).Token != nil || Authorized(nil, nil, "Bearer ", now) {
		t.Errorf("an empty token authorizes")
	}
}

func TestLoadTokenIsAReference(t *testing.T) {
	env := map[string]string{"T": "0123456789abcdef0123", "SHORT": "abc"}
	get := func(ref string) ([]byte, error) {
		return LoadToken(func(k string) string {
			if k == EnvToken {
				return ref
			}
			return env[k]
		})
	}
	if tok, err := get(""); tok != nil || err != nil {
		t.Errorf("unset: %q %v, want no token and no error", tok, err)
	}
	if tok, err := get("env:T"); err != nil || string(tok) != env["T"] {
		t.Errorf("env:T: %q %v", tok, err)
	}
	for _, bad := range []string{"0123456789abcdef0123", "env:SHORT", "env:MISSING", "file:/nonexistent"} {
		if _, err := get(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

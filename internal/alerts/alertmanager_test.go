package alerts

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/alertmgr"
)

// A real Alertmanager's webhook, with http_config basic_auth, passes the
// handler's checks: the message parses and its alert is handled (here
// ignored: it names no service). Wrong credentials are refused.
func TestRealAlertmanagerBasicAuth(t *testing.T) {
	for _, c := range []struct {
		name, password string
		want           int
	}{{"right password", "pw-0123", http.StatusOK}, {"wrong password", "nope", http.StatusUnauthorized}} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(writeFile(t, "auth: {basic: {username: am, password: env:AM_PASS}}\n"), env(map[string]string{"AM_PASS": "pw-0123"}))
			if err != nil {
				t.Fatal(err)
			}
			codes := make(chan int, 10)
			h := &Handler{Config: cfg, Acter: &Acter{}}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				codes <- rec.Code
				w.WriteHeader(rec.Code)
			}))
			t.Cleanup(srv.Close)
			am := alertmgr.Start(t, alertmgr.Receiver{URL: srv.URL + Path, User: "am", Password: c.password})
			resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewBufferString(`[{"labels":{"alertname":"Probe","severity":"critical"}}]`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			select {
			case code := <-codes:
				if code != c.want {
					t.Errorf("handler answered %d, want %d", code, c.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no webhook within 30s\n%s", am.LogTail())
			}
		})
	}
}

package alertmgr

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An alert posted to the real Alertmanager reaches the webhook with the
// configured bearer token, as version 4, within seconds.
func TestAlertReachesTheWebhook(t *testing.T) {
	got := make(chan string, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct{ Version string }
		_ = json.Unmarshal(body, &m)
		got <- r.Header.Get("Authorization") + " v" + m.Version
	}))
	defer recv.Close()
	s := Start(t, Receiver{URL: recv.URL, Bearer: "tok"})
	alert := `[{"labels":{"alertname":"Probe","service":"x"},"annotations":{"summary":"test"}}]`
	resp, err := http.Post(s.URL+"/api/v2/alerts", "application/json", bytes.NewBufferString(alert))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting the alert: %s", resp.Status)
	}
	select {
	case h := <-got:
		if h != "Bearer tok v4" {
			t.Errorf("webhook got %q, want Bearer tok v4", h)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no notification within 30s\n%s", s.LogTail())
	}
}

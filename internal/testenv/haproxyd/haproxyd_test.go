package haproxyd

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStartReloadStop(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("a")) }))
	defer a.Close()
	h := Start(t, Server{Name: "a", URL: a.URL})
	resp, err := http.Get(h.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("through the frontend: %s", resp.Status)
	}
	before, err := h.WorkerPid()
	if err != nil {
		t.Fatal(err)
	}
	h.Reload(t)
	after, err := h.WorkerPid()
	if err != nil || after == before {
		t.Fatalf("worker pid %q -> %q (%v): no reload", before, after, err)
	}
	out, err := h.Command("get weight " + Backend + "/a")
	if err != nil || !strings.HasPrefix(out, "50") {
		t.Fatalf("get weight: %q %v", out, err)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
}

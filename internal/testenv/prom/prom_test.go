package prom

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStartScrapesTarget(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE testenv_probe gauge\ntestenv_probe 42")
	}))
	defer target.Close()
	srv := Start(t, strings.TrimPrefix(target.URL, "http://"))
	srv.WaitForData(t, `testenv_probe{job="targets"} == 42`, time.Minute)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestConfig(t *testing.T) {
	got := config([]string{"127.0.0.1:1", "127.0.0.1:2"})
	for _, want := range []string{"scrape_interval: 250ms", "scrape_timeout: 200ms", `targets: ["127.0.0.1:1", "127.0.0.1:2"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}

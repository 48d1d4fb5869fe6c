package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheckoutsConvertPerVariant: each variant converts at its own rate
// and /metrics counts checkouts and conversions per variant.
func TestCheckoutsConvertPerVariant(t *testing.T) {
	c := newCheckouts()
	set := httptest.NewRequest(http.MethodPost, "/feature-fault?conversion-on=0&conversion-off=1", nil)
	if given, err := c.setRates(set); !given || err != nil {
		t.Fatalf("setRates: %v %v", given, err)
	}
	if _, err := c.setRates(httptest.NewRequest(http.MethodPost, "/feature-fault?conversion-on=1.5", nil)); err == nil {
		t.Error("conversion-on=1.5 accepted")
	}
	for i := range 20 {
		w := httptest.NewRecorder()
		if i%4 == 0 {
			w.Header().Set("X-Feature", "on")
		}
		c.checkout(w, httptest.NewRequest(http.MethodGet, "/checkout", nil))
		want := fmt.Sprintf(`"converted":%v`, i%4 != 0)
		if !strings.Contains(w.Body.String(), want) {
			t.Fatalf("checkout %d answered %s, want %s", i, w.Body, want)
		}
	}
	w := httptest.NewRecorder()
	c.metrics(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, line := range []string{
		`sampleapp_checkouts_total{variant="on"} 5`, `sampleapp_checkouts_total{variant="off"} 15`,
		`sampleapp_conversions_total{variant="on"} 0`, `sampleapp_conversions_total{variant="off"} 15`,
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
}

package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
)

// defaultConversion is each variant's conversion rate until POST
// /feature-fault changes it: equal, so an experiment sees no effect.
const defaultConversion = 0.3

// checkouts is the business metric of the sample app's experiment: GET
// /checkout converts at its variant's rate (X-Feature, set by the flag:
// on or off), and /metrics exposes the counts per variant in the
// Prometheus text format, for an experiment to compare.
type checkouts struct {
	mu        sync.Mutex
	rate      map[string]float64
	checkouts map[string]int64
	converted map[string]int64
}

func newCheckouts() *checkouts {
	return &checkouts{rate: map[string]float64{"on": defaultConversion, "off": defaultConversion},
		checkouts: map[string]int64{"on": 0, "off": 0}, converted: map[string]int64{"on": 0, "off": 0}}
}

// variantOf is the flag variant that served the request.
func variantOf(w http.ResponseWriter) string {
	if w.Header().Get("X-Feature") == "on" {
		return "on"
	}
	return "off"
}

// checkout answers whether this checkout converted.
func (c *checkouts) checkout(w http.ResponseWriter, _ *http.Request) {
	v := variantOf(w)
	c.mu.Lock()
	converted := rand.Float64() < c.rate[v]
	c.checkouts[v]++
	if converted {
		c.converted[v]++
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"variant": v, "converted": converted})
}

// setRates reads conversion-on and conversion-off from the query; it
// reports whether either was given.
func (c *checkouts) setRates(r *http.Request) (bool, error) {
	given := false
	for _, v := range []string{"on", "off"} {
		s := r.URL.Query().Get("conversion-" + v)
		if s == "" {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1 {
			return given, fmt.Errorf("conversion-%s %q is not a rate between 0 and 1", v, s)
		}
		c.mu.Lock()
		c.rate[v] = f
		c.mu.Unlock()
		given = true
		slog.Info("conversion rate set", "variant", v, "rate", f)
	}
	return given, nil
}

// metrics writes the counters in the Prometheus text format.
func (c *checkouts) metrics(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP sampleapp_checkouts_total Checkouts served, by flag variant.")
	fmt.Fprintln(w, "# TYPE sampleapp_checkouts_total counter")
	for _, v := range []string{"off", "on"} {
		fmt.Fprintf(w, "sampleapp_checkouts_total{variant=%q} %d\n", v, c.checkouts[v])
	}
	fmt.Fprintln(w, "# HELP sampleapp_conversions_total Checkouts that converted, by flag variant.")
	fmt.Fprintln(w, "# TYPE sampleapp_conversions_total counter")
	for _, v := range []string{"off", "on"} {
		fmt.Fprintf(w, "sampleapp_conversions_total{variant=%q} %d\n", v, c.converted[v])
	}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/runbookhq/runbook/internal/flagd/ofprovider"
)

// feature is the sample app's feature behind a flag: GET / evaluates the
// flag through the OpenFeature Go SDK (the provider reads the flagd file a
// flag step changes) for each request's subject, and the subjects it is on
// for get the new behaviour — which fails when told to (POST
// /feature-fault), to show a flag rollout rolled back.
type feature struct {
	flag   string
	client *of.Client
	// subjects numbers requests without an X-User header, so a percentage
	// of requests gets the feature.
	subjects atomic.Int64
	mu       sync.Mutex
	failing  bool
	on, off  int64
	// checkouts converts at a rate per variant (POST /feature-fault?conversion-on=0.1).
	checkouts *checkouts
}

// newFeature sets the OpenFeature provider to the flagd file at path; nil
// when there is none.
func newFeature(path, flag string) (*feature, error) {
	if path == "" {
		return nil, nil
	}
	if err := of.SetNamedProviderAndWait("sampleapp", ofprovider.New(path)); err != nil {
		return nil, fmt.Errorf("OpenFeature provider: %w", err)
	}
	return &feature{flag: flag, client: of.NewClient("sampleapp"), checkouts: newCheckouts()}, nil
}

// register adds GET /feature, POST /feature-fault (failing=true|false,
// conversion-on=RATE, conversion-off=RATE) and GET /metrics.
func (f *feature) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /feature", f.show)
	mux.HandleFunc("GET /metrics", f.checkouts.metrics)
	mux.HandleFunc("POST /feature-fault", func(w http.ResponseWriter, r *http.Request) {
		rates, err := f.checkouts.setRates(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if q := r.URL.Query().Get("failing"); q != "" || !rates {
			fail, err := strconv.ParseBool(q)
			if err != nil {
				http.Error(w, "give failing=true|false, conversion-on=RATE or conversion-off=RATE", http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			f.failing = fail
			f.mu.Unlock()
			slog.Info("feature fault set", "flag", f.flag, "failing", fail)
		}
		f.show(w, r)
	})
}

func (f *feature) show(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkouts.mu.Lock()
	rates := map[string]float64{"on": f.checkouts.rate["on"], "off": f.checkouts.rate["off"]}
	f.checkouts.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"flag": f.flag, "failing": f.failing, "on": f.on, "off": f.off, "conversion": rates})
}

// wrap evaluates the flag for the request's subject: on, the new behaviour
// (X-Feature: on, "new" in the body, or a 500 when failing); off, next.
func (f *feature) wrap(next http.HandlerFunc) http.HandlerFunc {
	if f == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		subject := r.Header.Get("X-User")
		if subject == "" {
			subject = "request-" + strconv.FormatInt(f.subjects.Add(1), 10)
		}
		attrs := map[string]any{}
		if seg := r.Header.Get("X-Segment"); seg != "" {
			attrs["segment"] = seg
		}
		on, _ := f.client.BooleanValue(context.Background(), f.flag, false, of.NewEvaluationContext(subject, attrs))
		f.mu.Lock()
		failing := f.failing
		if on {
			f.on++
		} else {
			f.off++
		}
		f.mu.Unlock()
		if !on {
			w.Header().Set("X-Feature", "off")
			next(w, r)
			return
		}
		w.Header().Set("X-Feature", "on")
		if failing {
			http.Error(w, "the new "+f.flag+" failed (POST /feature-fault)", http.StatusInternalServerError)
			return
		}
		next(w, r)
	}
}

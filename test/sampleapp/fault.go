package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// fault is what the app injects into the requests it serves to users (/ and
// /orders), so a test or the demo can make one version fail on cue.
type fault struct {
	ErrorRate float64       // fraction of requests answered 500, 0..1
	Delay     time.Duration // added to every such request before it is served
}

// validate rejects values the injector cannot honour.
func (f fault) validate() error {
	if math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1 {
		return fmt.Errorf("error-rate %v is not between 0 and 1", f.ErrorRate)
	}
	if f.Delay < 0 {
		return fmt.Errorf("delay %v is negative", f.Delay)
	}
	return nil
}

// faultState is the JSON of GET /fault (and of the answers to POST and
// DELETE): the fault, and what it did since it was last set.
type faultState struct {
	ErrorRate float64 `json:"error-rate"`
	Delay     string  `json:"delay"`
	Requests  int64   `json:"requests"`
	Failures  int64   `json:"failures"`
}

// injector decides, request by request, whether to fail. It counts instead of
// drawing random numbers: after n requests exactly round(n*rate) have failed,
// so a test can predict the failures and the demo shows a steady rate.
type injector struct {
	mu       sync.Mutex
	f        fault
	requests int64 // since f was last set
	failures int64
}

// set replaces the fault and restarts the count, so the rate applies from
// this moment on rather than catching up on earlier requests.
func (in *injector) set(f fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.f, in.requests, in.failures = f, 0, 0
}

// get returns the current fault.
func (in *injector) get() fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.f
}

// state reports the fault and its counts.
func (in *injector) state() faultState {
	in.mu.Lock()
	defer in.mu.Unlock()
	return faultState{ErrorRate: in.f.ErrorRate, Delay: in.f.Delay.String(), Requests: in.requests, Failures: in.failures}
}

// next counts one request and says how long to delay it and whether to fail
// it. The decision is taken on arrival, so the order of arrival decides which
// requests fail, whatever order the delays end in.
func (in *injector) next() (time.Duration, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.requests++
	fail := int64(math.Round(float64(in.requests)*in.f.ErrorRate)) > in.failures
	if fail {
		in.failures++
	}
	return in.f.Delay, fail
}

// wrap injects the fault into next.
func (in *injector) wrap(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		delay, fail := in.next()
		if !sleep(r.Context(), delay) {
			return // the client has gone; nobody reads an answer
		}
		if fail {
			http.Error(w, "injected fault (see GET /fault)", http.StatusInternalServerError)
			return
		}
		next(w, r)
	}
}

// sleep waits d unless ctx ends first, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// register adds the admin endpoints GET, POST and DELETE /fault to mux.
func (in *injector) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /fault", in.show)
	mux.HandleFunc("POST /fault", in.update)
	mux.HandleFunc("DELETE /fault", in.clear)
}

func (in *injector) show(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, in.state())
}

// update sets the values given as error-rate and delay, in the query or a
// form body; a value not given keeps its current setting.
func (in *injector) update(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, err := parseFault(r.Form, in.get())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.set(f)
	slog.Info("fault set", "error-rate", f.ErrorRate, "delay", f.Delay)
	in.show(w, r)
}

func (in *injector) clear(w http.ResponseWriter, r *http.Request) {
	in.set(fault{})
	slog.Info("fault cleared")
	in.show(w, r)
}

// parseFault applies the error-rate and delay in form to f.
func parseFault(form url.Values, f fault) (fault, error) {
	if !form.Has("error-rate") && !form.Has("delay") {
		return f, errors.New("give error-rate (0..1) and/or delay (a Go duration such as 200ms)")
	}
	if form.Has("error-rate") {
		rate, err := strconv.ParseFloat(form.Get("error-rate"), 64)
		if err != nil {
			return f, fmt.Errorf("error-rate: %v", err)
		}
		f.ErrorRate = rate
	}
	if form.Has("delay") {
		d, err := time.ParseDuration(form.Get("delay"))
		if err != nil {
			return f, fmt.Errorf("delay: %v", err)
		}
		f.Delay = d
	}
	return f, f.validate()
}

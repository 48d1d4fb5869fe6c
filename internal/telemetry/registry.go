// Package telemetry keeps the Temporal SDK's metrics (workflow task
// latency, activity failures, schedule-to-start, sticky cache, …) in
// memory and renders them in Prometheus's text format for the worker's
// /metrics, next to runbook's own gauges: a client.MetricsHandler with no
// dependency beyond the SDK.
package telemetry

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
)

// Buckets are the upper bounds, in seconds, of the timers' histograms.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// LongBuckets are the bounds of timers that measure people and rollbacks
// (a gate waits minutes to days): Buckets would put them all in +Inf.
var LongBuckets = []float64{1, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600}

// longTimers are the timers recorded with LongBuckets.
var longTimers = map[string]bool{GateWaitSeconds: true, RollbackSeconds: true}

// Kinds of series.
const (
	kindCounter   = "counter"
	kindGauge     = "gauge"
	kindHistogram = "histogram"
)

// Registry holds every series the handlers recorded.
type Registry struct {
	mu     sync.Mutex
	series map[string]*series
	kinds  map[string]string
	// found finds a series by what a handler asks for, without rendering
	// its name and labels again: the SDK asks on every workflow task.
	found map[foundKey]*series
	// handlers are shared by label set: the SDK makes one per workflow
	// in the worker's cache, and a thousand releases have a few label sets.
	handlers map[string]*handler
}

// foundKey is a series as a handler asks for it.
type foundKey struct{ name, kind, labels string }

// series is one metric with one label set.
type series struct {
	name   string
	labels string // rendered {k="v",...}, sorted by key
	value  float64
	bounds []float64 // Buckets or LongBuckets
	counts []uint64  // per bucket, then +Inf
	sum    float64
	count  uint64
}

// New is an empty registry.
func New() *Registry {
	return &Registry{series: map[string]*series{}, kinds: map[string]string{},
		found: map[foundKey]*series{}, handlers: map[string]*handler{}}
}

// Handler is the SDK's view of the registry: pass it as
// client.Options.MetricsHandler.
func (r *Registry) Handler() client.MetricsHandler { return &handler{r: r} }

// handler records into the registry with one label set; it is never
// modified after it is made, so handlers can be shared.
type handler struct {
	r      *Registry
	tags   map[string]string
	labels string // renderLabels(tags)
}

func (h *handler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	labels := renderLabels(merged)
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	if shared, ok := h.r.handlers[labels]; ok {
		return shared
	}
	nh := &handler{r: h.r, tags: merged, labels: labels}
	h.r.handlers[labels] = nh
	return nh
}

func (h *handler) Counter(name string) client.MetricsCounter {
	s := h.r.get(name, kindCounter, h.labels)
	return counterFunc(func(d int64) { h.r.update(func() { s.value += float64(d) }) })
}

func (h *handler) Gauge(name string) client.MetricsGauge {
	s := h.r.get(name, kindGauge, h.labels)
	return gaugeFunc(func(v float64) { h.r.update(func() { s.value = v }) })
}

func (h *handler) Timer(name string) client.MetricsTimer {
	s := h.r.get(name, kindHistogram, h.labels)
	return timerFunc(func(d time.Duration) { h.r.update(func() { s.observe(d.Seconds()) }) })
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }
func (r *Registry) update(f func())        { r.mu.Lock(); defer r.mu.Unlock(); f() }
func (s *series) observe(v float64) {
	i, _ := slices.BinarySearch(s.bounds, v)
	s.counts[i]++
	s.sum += v
	s.count++
}

// metricName is name made valid for Prometheus: bytes outside
// [a-zA-Z0-9_] become _, and a leading digit gets a _ before it. Names the
// SDK uses are valid already and come back as they are.
func metricName(name string) string {
	valid := name != "" && !(name[0] >= '0' && name[0] <= '9')
	for i := 0; valid && i < len(name); i++ {
		valid = nameByte(name[i])
	}
	if valid {
		return name
	}
	b := []byte(name)
	for i := range b {
		if !nameByte(b[i]) {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

func nameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// escaper escapes label values.
var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// renderLabels is the sorted, escaped label set.
func renderLabels(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(tags)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(metricName(k))
		b.WriteString(`="`)
		v := tags[k]
		if strings.ContainsAny(v, "\\\"\n") {
			v = escaper.Replace(v)
		}
		b.WriteString(v)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// get finds or makes the series of name with rendered labels. A name keeps
// the kind it was first used with; a clash gets its own name (name_kind).
func (r *Registry) get(name, kind, labels string) *series {
	r.mu.Lock()
	defer r.mu.Unlock()
	fk := foundKey{name, kind, labels}
	if s, ok := r.found[fk]; ok {
		return s
	}
	name = metricName(name)
	if k, ok := r.kinds[name]; ok && k != kind {
		name += "_" + kind
	}
	r.kinds[name] = kind
	key := name + labels
	s, ok := r.series[key]
	if !ok {
		s = &series{name: name, labels: labels}
		if kind == kindHistogram {
			s.bounds = Buckets
			if longTimers[name] {
				s.bounds = LongBuckets
			}
			s.counts = make([]uint64, len(s.bounds)+1)
		}
		r.series[key] = s
	}
	r.found[fk] = s
	return s
}

// WriteText writes every series in Prometheus's text format, names sorted.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := slices.Sorted(maps.Keys(r.series))
	var b strings.Builder
	typed := map[string]bool{}
	for _, k := range keys {
		s := r.series[k]
		kind := r.kinds[s.name]
		if !typed[s.name] {
			fmt.Fprintf(&b, "# TYPE %s %s\n", s.name, kind)
			typed[s.name] = true
		}
		if kind != kindHistogram {
			fmt.Fprintf(&b, "%s%s %s\n", s.name, s.labels, num(s.value))
			continue
		}
		s.writeHistogram(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHistogram writes the cumulative buckets, the sum and the count.
func (s *series) writeHistogram(b *strings.Builder) {
	var cum uint64
	for i, le := range append(slices.Clone(s.bounds), math.Inf(1)) {
		cum += s.counts[i]
		bound := num(le)
		if math.IsInf(le, 1) {
			bound = "+Inf"
		}
		fmt.Fprintf(b, "%s_bucket%s %d\n", s.name, withLabel(s.labels, "le", bound), cum)
	}
	fmt.Fprintf(b, "%s_sum%s %s\n%s_count%s %d\n", s.name, s.labels, num(s.sum), s.name, s.labels, s.count)
}

// withLabel adds one label to a rendered label set.
func withLabel(labels, k, v string) string {
	l := fmt.Sprintf(`%s="%s"`, k, v)
	if labels == "" {
		return "{" + l + "}"
	}
	return labels[:len(labels)-1] + "," + l + "}"
}

func num(v float64) string { return fmt.Sprintf("%g", v) }

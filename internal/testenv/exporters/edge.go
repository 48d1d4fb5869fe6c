package exporters

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/internal/edgeproxy"
)

// Backend is what the edge proxy's /metrics says about one backend: the
// raw material every exporter's numbers are made of.
type Backend struct {
	Name string
	// ByClass counts requests by status class, "2xx" to "5xx".
	ByClass map[string]uint64
	// Buckets are the cumulative counts of the edge's duration histogram,
	// one per edgeproxy.DurationBuckets bound (seconds), then +Inf.
	Buckets []uint64
	// Sum is the histogram's sum in seconds.
	Sum float64
}

// Total is the number of requests the backend answered.
func (b Backend) Total() uint64 {
	var n uint64
	for _, c := range b.ByClass {
		n += c
	}
	return n
}

// Count is the histogram's count (its +Inf bucket).
func (b Backend) Count() uint64 { return b.Buckets[len(b.Buckets)-1] }

// CumulativeAt is the number of requests that took at most le seconds, as
// far as the edge's bounds tell: the count of its largest bound not above
// le. Requests between that bound and le count as slower than le, so a
// translated histogram never shows an answer faster than it was.
func (b Backend) CumulativeAt(le float64) uint64 {
	var n uint64
	for i, bound := range edgeproxy.DurationBuckets {
		if bound > le*(1+1e-9) {
			break
		}
		n = b.Buckets[i]
	}
	return n
}

// ScrapeEdge reads the edge proxy's /metrics at url and returns its
// backends sorted by name.
func ScrapeEdge(ctx context.Context, url string) ([]Backend, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return parseEdge(resp.Body)
}

// parseEdge reads the two families the exporters translate; it relies on
// the edge writing one sample a line with quoted label values.
func parseEdge(r io.Reader) ([]Backend, error) {
	byName := map[string]*Backend{}
	get := func(name string) *Backend {
		b, ok := byName[name]
		if !ok {
			b = &Backend{Name: name, ByClass: map[string]uint64{}, Buckets: make([]uint64, len(edgeproxy.DurationBuckets)+1)}
			byName[name] = b
		}
		return b
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, value, err := parseSample(line)
		if err != nil {
			return nil, err
		}
		if err := record(get, name, labels, value); err != nil {
			return nil, fmt.Errorf("%w in %q", err, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]Backend, 0, len(byName))
	for _, b := range byName {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// record adds one edge sample to its backend.
func record(get func(string) *Backend, name string, labels map[string]string, value float64) error {
	switch name {
	case "edge_requests_total":
		get(labels["backend"]).ByClass[labels["code_class"]] = uint64(value)
	case "edge_request_duration_seconds_bucket":
		b := get(labels["backend"])
		if labels["le"] == "+Inf" {
			b.Buckets[len(b.Buckets)-1] = uint64(value)
			return nil
		}
		le, err := strconv.ParseFloat(labels["le"], 64)
		if err != nil {
			return err
		}
		i := sort.SearchFloat64s(edgeproxy.DurationBuckets, le)
		if i == len(edgeproxy.DurationBuckets) || edgeproxy.DurationBuckets[i] != le {
			return fmt.Errorf("unknown bucket bound %g", le)
		}
		b.Buckets[i] = uint64(value)
	case "edge_request_duration_seconds_sum":
		get(labels["backend"]).Sum = value
	}
	return nil
}

// parseSample splits `name{k="v",...} value` into its parts.
func parseSample(line string) (string, map[string]string, float64, error) {
	labels := map[string]string{}
	open := strings.IndexByte(line, '{')
	end := strings.LastIndexByte(line, '}')
	if open < 0 || end < open {
		return "", nil, 0, fmt.Errorf("sample without labels: %q", line)
	}
	name, rest := line[:open], line[open+1:end]
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return "", nil, 0, fmt.Errorf("bad labels in %q", line)
		}
		key := rest[:eq]
		v, tail, err := quotedPrefix(rest[eq+1:])
		if err != nil {
			return "", nil, 0, fmt.Errorf("bad label %s in %q: %w", key, line, err)
		}
		labels[key] = v
		rest = strings.TrimPrefix(tail, ",")
	}
	value, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
	return name, labels, value, err
}

// quotedPrefix unquotes the Go-quoted string s starts with.
func quotedPrefix(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	v, err := strconv.Unquote(q)
	return v, s[len(q):], err
}

package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/internal/secretref"
)

func TestFactoriesUnknownProvider(t *testing.T) {
	_, err := Factories{}.New("datadog", nil)
	if err == nil || !strings.Contains(err.Error(), `"datadog"`) ||
		!strings.Contains(err.Error(), "known: edge, prometheus, cloudwatch") {
		t.Fatalf("err = %v, want unknown provider listing the known ones", err)
	}
	// A name the format knows but the table lacks says where to add it.
	_, err = Factories{}.New("edge", map[string]string{"url": "http://127.0.0.1:1/metrics"})
	if err == nil || !strings.Contains(err.Error(), "activities/metrics/edgestats ") || !strings.Contains(err.Error(), "worker/providers.go") {
		t.Fatalf("edge missing from the table: err = %v", err)
	}
}

func TestFactoriesBuildByName(t *testing.T) {
	var got map[string]string
	fs := Factories{"fake": FactoryOf(func(opts map[string]string) (fake, error) {
		got = opts
		return fake{}, nil
	})}
	p, err := fs.New("fake", map[string]string{"url": "http://a"})
	if err != nil || p == nil || got["url"] != "http://a" {
		t.Fatalf("New(fake) = %v, %v; options seen %v", p, err, got)
	}
	// A failed constructor is a nil Provider, not a typed nil.
	failing := Factories{"bad": FactoryOf(func(map[string]string) (*fakePtr, error) {
		return nil, errors.New("no url")
	})}
	if p, err := failing.New("bad", nil); err == nil || p != nil {
		t.Fatalf("New(bad) = %v, %v; want nil and the error", p, err)
	}
}

// fakePtr is a Provider with a pointer receiver, as the real ones are.
type fakePtr struct{}

func (*fakePtr) Query(context.Context, Query) (Sample, error) { return Sample{}, nil }

func TestSecret(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "METRICS_TEST_*")
	t.Setenv("METRICS_TEST_TOKEN", "s3cret")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-leaked")
	if v, err := Secret("env:SLACK_BOT_TOKEN"); err == nil || v != "" || strings.Contains(err.Error(), "leaked") {
		t.Errorf("Secret(env:SLACK_BOT_TOKEN) = %q, %v; want refused", v, err)
	}
	if v, err := Secret("env:METRICS_TEST_TOKEN"); err != nil || v != "s3cret" {
		t.Errorf("Secret(env:) = %q, %v", v, err)
	}
	if v, err := Secret("plain"); err != nil || v != "plain" {
		t.Errorf("Secret(plain) = %q, %v", v, err)
	}
	if _, err := Secret("env:METRICS_TEST_UNSET"); err == nil || !strings.Contains(err.Error(), "METRICS_TEST_UNSET") {
		t.Errorf("unset: err = %v", err)
	}
}

func TestNumberJSON(t *testing.T) {
	b, err := json.Marshal(Measurement{Value: Number(math.NaN()), Baseline: 0.25, PValue: Number(math.Inf(1))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"value":null`) || !strings.Contains(string(b), `"baseline":0.25`) {
		t.Fatalf("json = %s", b)
	}
	var m Measurement
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(m.Value)) || m.Baseline != 0.25 || !math.IsNaN(float64(m.PValue)) {
		t.Errorf("round trip = %+v", m)
	}
}

// fake answers by expression from a table; a missing entry is an error.
type fake map[string]fakeAnswer

type fakeAnswer struct {
	s   Sample
	err error
}

func (f fake) Query(_ context.Context, q Query) (Sample, error) {
	key := q.Expr
	if q.Window > 0 {
		key += "@" + q.Window.String()
	}
	a, ok := f[key]
	if !ok {
		return Sample{}, errors.New("connection refused: " + key)
	}
	return a.s, a.err
}

func seq(from, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(from + i)
	}
	return out
}

func TestMeasure(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := fake{
		"errors":           {s: Sample{Value: 0.01, At: at}},
		"p99":              {s: Sample{Value: 0.8, At: at}},
		"nan":              {err: Inconclusivef("value is NaN")},
		"canary":           {s: Sample{Values: seq(20, 12), At: at}},
		"baseline":         {s: Sample{Values: seq(0, 12), At: at}},
		"few":              {s: Sample{Values: seq(0, 3), At: at}},
		"ratio@5m0s":       {s: Sample{Value: 0.02}},
		"ratio@1h0m0s":     {s: Sample{Value: 0.016}},
		"calmratio@5m0s":   {s: Sample{Value: 0.02}},
		"calmratio@1h0m0s": {s: Sample{Value: 0.0001}},
	}
	a := &Activities{Providers: map[string]Provider{"prom": p}}
	in := MeasureInput{Round: 3, Checks: []Check{
		{Name: "error ratio", Kind: KindErrorRatio, Provider: "prom", Query: Query{Expr: "errors"}, Max: 0.02},
		{Name: "p99", Kind: KindLatency, Provider: "prom", Query: Query{Expr: "p99"}, Max: 0.5},
		{Name: "nan", Kind: KindQuery, Provider: "prom", Query: Query{Expr: "nan"}, Max: 1},
		{Name: "latency vs baseline", Kind: KindCompare, Provider: "prom", Query: Query{Expr: "canary"}, Baseline: Query{Expr: "baseline"}},
		{Name: "too few", Kind: KindCompare, Provider: "prom", Query: Query{Expr: "canary"}, Baseline: Query{Expr: "few"}},
		{Name: "burn", Kind: KindBurnRate, Provider: "prom", Query: Query{Expr: "ratio", Window: 5 * time.Minute}, LongWindow: time.Hour, SLOTarget: 0.999, BurnThreshold: 14.4},
		{Name: "calm burn", Kind: KindBurnRate, Provider: "prom", Query: Query{Expr: "calmratio", Window: 5 * time.Minute}, LongWindow: time.Hour, SLOTarget: 0.999, BurnThreshold: 14.4},
	}}
	res, err := a.Measure(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Verdict{Pass, Fail, Inconclusive, Fail, Inconclusive, Fail, Pass}
	if len(res.Measurements) != len(want) {
		t.Fatalf("%d measurements, want %d", len(res.Measurements), len(want))
	}
	for i, m := range res.Measurements {
		if m.Verdict != want[i] {
			t.Errorf("%s: verdict %v, want %v (%s)", m.Check, m.Verdict, want[i], m.Detail)
		}
		if m.Detail == "" {
			t.Errorf("%s: no detail", m.Check)
		}
	}
	if res.Verdict != Fail || res.Round != 3 {
		t.Errorf("round verdict %v round %d, want fail 3", res.Verdict, res.Round)
	}
	cmp := res.Measurements[3]
	if len(cmp.CanarySamples) != 12 || len(cmp.BaselineSamples) != 12 || cmp.Value != 25.5 || cmp.Baseline != 5.5 || !(cmp.PValue < 0.001) {
		t.Errorf("compare measurement = %+v", cmp)
	}
	burn := res.Measurements[5]
	if math.Abs(float64(burn.Value)-20) > 1e-9 || math.Abs(float64(burn.Baseline)-16) > 1e-9 || burn.Limit != 14.4 {
		t.Errorf("burn measurement = %+v", burn)
	}
	// Every measurement, NaNs included, must survive Temporal's JSON.
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("result does not encode: %v", err)
	}
}

func TestMeasureErrors(t *testing.T) {
	a := &Activities{Providers: map[string]Provider{"prom": fake{}}}
	ctx := context.Background()
	for _, c := range []Check{
		{Name: "x", Kind: "p-value-hacking", Provider: "prom"},
		{Name: "x", Kind: KindQuery, Provider: "nope"},
		{Name: "x", Kind: KindBurnRate, Provider: "prom", Query: Query{Expr: "r"}},
	} {
		_, err := a.Measure(ctx, MeasureInput{Checks: []Check{c}})
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidCheck || !appErr.NonRetryable() {
			t.Errorf("%+v: err = %v, want non-retryable %s", c, err, ErrTypeInvalidCheck)
		}
	}
	// A provider failure is retryable: a plain error.
	_, err := a.Measure(ctx, MeasureInput{Checks: []Check{{Name: "down", Kind: KindQuery, Provider: "prom", Query: Query{Expr: "x"}}}})
	var appErr *temporal.ApplicationError
	if err == nil || errors.As(err, &appErr) || !strings.Contains(err.Error(), "down") {
		t.Errorf("provider failure: err = %v", err)
	}
	res, err := a.Measure(ctx, MeasureInput{})
	if err != nil || res.Verdict != Inconclusive {
		t.Errorf("no checks: %+v, %v; want inconclusive", res, err)
	}
}

// TestMeasureThroughTemporal runs the activity in the SDK's test environment,
// so the result goes through Temporal's JSON data converter, NaNs included.
func TestMeasureThroughTemporal(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	a := &Activities{Providers: map[string]Provider{"p": fake{
		"nan": {err: Inconclusivef("value is NaN")},
		"ok":  {s: Sample{Value: 0.5}},
	}}}
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.Measure, MeasureInput{Round: 1, Checks: []Check{
		{Name: "nan", Kind: KindQuery, Provider: "p", Query: Query{Expr: "nan"}, Max: 1},
		{Name: "ok", Kind: KindQuery, Provider: "p", Query: Query{Expr: "ok"}, Max: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var res MeasureResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Inconclusive || len(res.Measurements) != 2 || !math.IsNaN(float64(res.Measurements[0].Value)) || res.Measurements[1].Value != 0.5 {
		t.Fatalf("result = %+v", res)
	}
}

// A provider built from a check's options is built once per distinct options
// and reused by later rounds: the edge provider keeps its previous scrape.
func TestMeasureBuildsProvidersOnceFromOptions(t *testing.T) {
	const name = "test-cached"
	var built []map[string]string
	a := &Activities{Factories: Factories{name: func(opts map[string]string) (Provider, error) {
		built = append(built, opts)
		return fake{"errors": {s: Sample{Value: 0.01}}}, nil
	}}}
	check := func(url string) Check {
		return Check{Name: "err", Kind: KindErrorRatio, Provider: name, Options: map[string]string{"url": url}, Query: Query{Expr: "errors"}, Max: 0.05}
	}
	for round := 1; round <= 2; round++ {
		res, err := a.Measure(context.Background(), MeasureInput{Round: round, Checks: []Check{check("http://a"), check("http://b")}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict != Pass {
			t.Fatalf("round %d: verdict %s, want pass", round, res.Verdict)
		}
	}
	if len(built) != 2 || built[0]["url"] != "http://a" || built[1]["url"] != "http://b" {
		t.Fatalf("providers built %v, want one per distinct options, reused across rounds", built)
	}
	_, err := a.Measure(context.Background(), MeasureInput{Checks: []Check{{Name: "x", Kind: KindErrorRatio, Provider: "datadog", Query: Query{Expr: "e"}, Max: 1}}})
	if err == nil || !strings.Contains(err.Error(), "datadog") {
		t.Fatalf("unknown provider: err = %v", err)
	}
}

func TestCheckURLRefusesMetadata(t *testing.T) {
	for _, u := range []string{"http://169.254.169.254/", "http://2852039166:9090", "http://metadata.google.internal/", "http://[fd00:ec2::254]/"} {
		if err := CheckURL(u); err == nil {
			t.Errorf("CheckURL(%s) accepted a metadata address", u)
		}
	}
	if err := CheckURL("http://127.0.0.1:9090"); err != nil {
		t.Errorf("CheckURL(loopback): %v", err)
	}
}

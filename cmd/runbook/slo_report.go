package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/runbooks"
)

// verdictError is the verdict of an SLO whose query failed outright (bad
// query, provider unreachable): no data either.
const verdictError = "error"

// sloReport is what `runbook slo check` found; -o json prints it as is.
type sloReport struct {
	Runbook     string      `json:"runbook"`
	Service     string      `json:"service"`
	Environment string      `json:"environment"`
	Provider    string      `json:"provider"`
	Version     string      `json:"version"`
	Window      string      `json:"window"`
	Results     []sloResult `json:"results"`
	// OK is the exit status in a word: every SLO returned data on every
	// slot (a fail is data).
	OK      bool   `json:"ok"`
	Summary string `json:"summary"`
}

// sloResult is one SLO measured on one slot.
type sloResult struct {
	Slot string `json:"slot,omitempty"`
	// Baseline is the other slot, which a compare SLO measures too.
	BaselineSlot string `json:"baseline-slot,omitempty"`
	SLO          string `json:"slo"`
	Kind         string `json:"kind"`
	// Template is the metric template read and TemplateFrom where it came
	// from (preset NAME, file NAME or runbook); empty for an inline query.
	Template     string         `json:"template,omitempty"`
	TemplateFrom string         `json:"template-from,omitempty"`
	Value        metrics.Number `json:"value"`
	// Baseline is the baseline slot's median (compare) or the long
	// window's burn rate (burn-rate).
	Baseline metrics.Number  `json:"baseline"`
	Count    *metrics.Number `json:"count,omitempty"`
	Limit    float64         `json:"limit"`
	// Verdict is pass, fail, inconclusive or error.
	Verdict string `json:"verdict"`
	// Why says, for a result without data, which kind of missing it is:
	// "no data" or "too few requests".
	Why     string     `json:"why,omitempty"`
	Detail  string     `json:"detail,omitempty"`
	Queries []sloQuery `json:"queries"`
}

// sloQuery is one expanded query of a check, as the provider receives it
// (${window} is the provider's to fill).
type sloQuery struct {
	Role   string `json:"role"`
	Expr   string `json:"expr"`
	Window string `json:"window,omitempty"`
}

// newSLOResult describes check c of SLO s on p's slot, before measuring.
func newSLOResult(env *runbooks.Environment, s runbooks.SLO, p sloPlan, c metrics.Check) sloResult {
	nan := metrics.Number(math.NaN())
	r := sloResult{Slot: p.slot, SLO: s.Name, Kind: c.Kind, Value: nan, Baseline: nan, Queries: checkQueries(c)}
	if c.Kind == metrics.KindCompare {
		r.BaselineSlot = p.other
	}
	if name := templateOf(s); name != "" {
		r.Template = name
		t, ok := env.Metrics.Templates[name]
		switch {
		case !ok:
			r.TemplateFrom = "missing"
		case t.From == "":
			r.TemplateFrom = "runbook"
		default:
			r.TemplateFrom = t.From
		}
	}
	return r
}

// templateOf names the template SLO s reads, as workflows.SLOChecks picks
// it; "" for an inline query.
func templateOf(s runbooks.SLO) string {
	switch {
	case s.Template != "":
		return s.Template
	case s.ErrorRatio != nil, s.BurnRate != nil:
		return runbooks.TemplateErrorRatio
	case s.Latency != nil:
		return runbooks.TemplateLatency
	}
	return ""
}

// checkQueries lists the expanded queries of c.
func checkQueries(c metrics.Check) []sloQuery {
	var out []sloQuery
	add := func(role, expr string, q metrics.Query) {
		if expr != "" {
			out = append(out, sloQuery{Role: role, Expr: expr, Window: q.Window.String()})
		}
	}
	if c.Ratio != nil {
		add("bad", c.Ratio.Bad, c.Query)
		add("good", c.Ratio.Good, c.Query)
		add("total", c.Ratio.Total, c.Query)
	} else {
		add("value", c.Query.Expr, c.Query)
	}
	add("count", c.Count, c.Query)
	if c.Kind == metrics.KindCompare {
		add("baseline", c.Baseline.Expr, c.Baseline)
	}
	return out
}

// measured fills r from measurement m of check c.
func (r *sloResult) measured(m metrics.Measurement, c metrics.Check) {
	r.Value, r.Baseline, r.Count, r.Limit = m.Value, m.Baseline, m.Count, m.Limit
	r.Verdict, r.Detail = string(m.Verdict), m.Detail
	if m.Verdict == metrics.Inconclusive {
		r.Why = "no data"
		if c.Count != "" && m.Count != nil && float64(*m.Count) < c.MinCount {
			r.Why = "too few requests"
		}
	}
}

// hasData reports whether r returned data: a pass or a fail.
func (r sloResult) hasData() bool {
	return r.Verdict == string(metrics.Pass) || r.Verdict == string(metrics.Fail)
}

// where names r's slot for messages.
func (r sloResult) where() string {
	if r.Slot == "" {
		return "the environment"
	}
	return "slot " + r.Slot
}

// summarize sets OK and the one-line summary.
func (rep *sloReport) summarize() {
	var missing, failing []string
	for _, r := range rep.Results {
		switch {
		case !r.hasData():
			missing = append(missing, r.SLO+" on "+r.where())
		case r.Verdict == string(metrics.Fail):
			failing = append(failing, r.SLO+" on "+r.where())
		}
	}
	rep.OK = len(missing) == 0
	n := len(rep.Results)
	switch {
	case !rep.OK:
		rep.Summary = fmt.Sprintf("%d of %d SLO checks returned no data: %s; a release would get no verdict from them", len(missing), n, strings.Join(missing, ", "))
	case len(failing) > 0:
		rep.Summary = fmt.Sprintf("all %d SLO checks returned data; %d would fail now: %s", n, len(failing), strings.Join(failing, ", "))
	default:
		rep.Summary = fmt.Sprintf("all %d SLO checks returned data and pass now", n)
	}
}

// text prints the report for people: a table per slot (with its queries
// when asked), warnings for the SLOs that would fail now, and the summary.
func (rep *sloReport) text(w io.Writer, showQueries bool) error {
	fmt.Fprintf(w, "%s %s: %d SLO(s) via %s, window %s, ${version}=%s\n",
		rep.Service, rep.Environment, countSLOs(rep.Results), rep.Provider, rep.Window, rep.Version)
	for _, group := range bySlot(rep.Results) {
		fmt.Fprintf(w, "\n%s:\n", group[0].where())
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  SLO\tKIND\tTEMPLATE\tVALUE\tCOUNT\tVERDICT\tDETAIL")
		for _, r := range group {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.SLO, r.Kind, r.templateText(), number(r.Value), countText(r.Count), r.verdictText(), r.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if showQueries {
			printQueries(w, group)
		}
	}
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		if r.Verdict == string(metrics.Fail) {
			fmt.Fprintf(w, "warning: %s would fail %s now (%s)\n", r.where(), r.SLO, r.Detail)
		}
	}
	_, err := fmt.Fprintln(w, rep.Summary)
	return err
}

// bySlot splits results into runs of the same slot, in order.
func bySlot(rs []sloResult) [][]sloResult {
	var out [][]sloResult
	for i, r := range rs {
		if i == 0 || r.Slot != rs[i-1].Slot {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

// printQueries lists the expanded queries of a slot's SLOs.
func printQueries(w io.Writer, group []sloResult) {
	fmt.Fprintf(w, "  queries on %s:\n", group[0].where())
	for _, r := range group {
		for _, q := range r.Queries {
			fmt.Fprintf(w, "    %s %s (window %s): %s\n", r.SLO, q.Role, q.Window, q.Expr)
		}
	}
}

func (r sloResult) templateText() string {
	switch {
	case r.Template == "":
		return "(inline query)"
	case r.TemplateFrom != "":
		return r.Template + " (" + r.TemplateFrom + ")"
	}
	return r.Template
}

func (r sloResult) verdictText() string {
	if r.Why != "" {
		return r.Verdict + ": " + r.Why
	}
	return r.Verdict
}

// countSLOs is the number of distinct SLOs in rs.
func countSLOs(rs []sloResult) int {
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.SLO] = true
	}
	return len(seen)
}

// number prints a measured value; a dash when there is none.
func number(n metrics.Number) string {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "-"
	}
	return fmt.Sprintf("%.4g", f)
}

func countText(n *metrics.Number) string {
	if n == nil {
		return "-"
	}
	return number(*n)
}

package report

import (
	"fmt"
	"time"

	"github.com/runbookhq/runbook/internal/dora"
	"github.com/runbookhq/runbook/workflows"
)

// DORAPage is the four key metrics of a service over weekly buckets.
type DORAPage struct {
	Service, Environment string
	Since, Until         time.Time
	Total                dora.Metrics
	Weeks                []dora.Metrics
	Charts               []Chart
}

// FailurePercent is the overall change failure rate in percent.
func (d DORAPage) FailurePercent() float64 { return 100 * d.Total.ChangeFailureRate }

// BuildDORA computes the metrics of the whole period and of each week in
// it (the last week may be shorter) with internal/dora, the arithmetic the
// CLI and the worker's gauges use, and draws one chart per metric.
func BuildDORA(service, env string, since, until time.Time, statuses []workflows.ReleaseStatus) DORAPage {
	p := DORAPage{Service: service, Environment: env, Since: since.UTC(), Until: until.UTC()}
	p.Total = dora.Compute(service, env, since, until, statuses)
	for s := since; s.Before(until); s = s.Add(7 * 24 * time.Hour) {
		e := s.Add(7 * 24 * time.Hour)
		if e.After(until) {
			e = until
		}
		p.Weeks = append(p.Weeks, dora.Compute(service, env, s, e, statuses))
	}
	series := func(name string, v func(dora.Metrics) float64) Chart {
		s := Series{Name: name}
		for _, w := range p.Weeks {
			s.Points = append(s.Points, Point{T: w.Since.Add(w.Until.Sub(w.Since) / 2), V: v(w)})
		}
		return Chart{Title: fmt.Sprintf("%s per week", name), Lines: []Series{s}, Bars: true}
	}
	hours := func(d time.Duration) float64 { return d.Hours() }
	p.Charts = []Chart{
		series("deployments", func(m dora.Metrics) float64 { return float64(m.Deployments) }),
		series("lead time (hours, median)", func(m dora.Metrics) float64 { return hours(m.LeadTime) }),
		series("change failure rate (%)", func(m dora.Metrics) float64 { return 100 * m.ChangeFailureRate }),
		series("time to restore (hours, median)", func(m dora.Metrics) float64 { return hours(m.TimeToRestore) }),
	}
	return p
}

// DORAReportPage is the page of a DORA report.
func DORAReportPage(d DORAPage, now time.Time) Page {
	sub := fmt.Sprintf("%s to %s", when(d.Since), when(d.Until))
	return Page{Title: "DORA report: " + d.Service, Subtitle: sub, DORA: &d, Generated: now.UTC()}
}

// RangePage is the CAB page of the releases in a time range.
func RangePage(title string, since, until time.Time, reports []Report, now time.Time) Page {
	return Page{Title: title, Subtitle: fmt.Sprintf("releases started %s to %s", when(since), when(until)),
		Releases: reports, Range: true, Generated: now.UTC()}
}

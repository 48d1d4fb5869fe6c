package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts are drawn here, not with a charting library: a line chart
// with a threshold, a step series and one highlighted moment is ~200
// lines of SVG, with every label escaped in one place and sizes that the
// browser test can check; gonum/plot would add a dependency tree (fonts,
// image codecs) for the same picture.

// Point is one value at one time.
type Point struct {
	T time.Time
	V float64
}

// Series is one line of a chart.
type Series struct {
	Name   string
	Points []Point
}

// Mark highlights one moment of a chart (the decisive round).
type Mark struct {
	T     time.Time
	Label string
}

// Chart is a line chart over time with an optional threshold and an
// optional step series (the traffic weight) in a small panel beneath.
type Chart struct {
	Title string
	// Lines are drawn in the main panel, one colour each.
	Lines []Series
	// Threshold, when set, is drawn as a dashed horizontal line.
	Threshold *float64
	// Weight is the target slot's traffic weight (0-100), a step series.
	Weight []Point
	Marks  []Mark
	// Bars draws the lines as bars (counts per bucket) instead of lines.
	Bars bool
}

// Chart geometry, in SVG user units (= CSS pixels at 100%).
const (
	chartW      = 720
	mainH       = 220
	weightH     = 70
	padL, padR  = 64, 16
	padT        = 28
	gap         = 26
	axisLabelsH = 20
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// Height is the SVG's height: the main panel, the weight panel if any.
func (c Chart) Height() int {
	h := padT + mainH + axisLabelsH
	if len(c.Weight) > 0 {
		h += gap + weightH + axisLabelsH
	}
	return h
}

// SVG renders the chart as one inline <svg> element. Every text is
// escaped: series names and titles come from runbooks.
func (c Chart) SVG() template.HTML {
	t0, t1 := c.timeRange()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, c.Height(), chartW, c.Height(), esc(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="title">%s</text>`, padL, esc(c.Title))
	lo, hi := c.valueRange()
	main := panel{top: padT, h: mainH, t0: t0, t1: t1, lo: lo, hi: hi}
	main.frame(&b)
	for i, s := range c.Lines {
		col := palette[i%len(palette)]
		if c.Bars {
			main.bars(&b, s, col, i, len(c.Lines))
		} else {
			main.line(&b, s, col)
		}
	}
	if c.Threshold != nil {
		y := main.y(*c.Threshold)
		fmt.Fprintf(&b, `<line class="threshold" x1="%d" y1="%s" x2="%d" y2="%s" stroke="#000" stroke-dasharray="6 4"/>`, padL, f(y), chartW-padR, f(y))
		fmt.Fprintf(&b, `<text x="%d" y="%s" class="small" text-anchor="end">threshold %s</text>`, chartW-padR, f(y-4), esc(num(*c.Threshold)))
	}
	for _, m := range c.Marks {
		x := main.x(m.T)
		fmt.Fprintf(&b, `<rect class="decisive" x="%s" y="%d" width="6" height="%d" fill="#d62728" fill-opacity="0.25"/>`, f(x-3), padT, mainH)
		// The label goes on the side of the mark with room for it.
		lx, anchor := x+5, "start"
		if x > chartW/2 {
			lx, anchor = x-5, "end"
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d" class="small decisive-label" text-anchor="%s">%s</text>`, f(lx), padT+12, anchor, esc(m.Label))
	}
	main.timeAxis(&b)
	c.legend(&b)
	if len(c.Weight) > 0 {
		wp := panel{top: padT + mainH + axisLabelsH + gap, h: weightH, t0: t0, t1: t1, lo: 0, hi: 100}
		wp.frame(&b)
		wp.step(&b, Series{Name: "traffic weight %", Points: c.Weight}, t1)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="small">traffic weight of the new version (%%)</text>`, padL, wp.top-6)
		wp.timeAxis(&b)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here with every text escaped
}

// legend names the lines above the main panel, right-aligned.
func (c Chart) legend(b *strings.Builder) {
	x := chartW - padR
	for i := len(c.Lines) - 1; i >= 0; i-- {
		name := c.Lines[i].Name
		fmt.Fprintf(b, `<text x="%d" y="18" class="small" text-anchor="end" fill="%s">■ %s</text>`, x, palette[i%len(palette)], esc(name))
		x -= 14 + 7*len([]rune(name))
	}
}

// timeRange spans every point and mark; one point still gets a width.
func (c Chart) timeRange() (time.Time, time.Time) {
	var t0, t1 time.Time
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if t0.IsZero() || t.Before(t0) {
			t0 = t
		}
		if t.After(t1) {
			t1 = t
		}
	}
	for _, s := range c.Lines {
		for _, p := range s.Points {
			see(p.T)
		}
	}
	for _, p := range c.Weight {
		see(p.T)
	}
	for _, m := range c.Marks {
		see(m.T)
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Second)
	}
	return t0, t1
}

// valueRange is 0 to a little above the highest value or threshold.
func (c Chart) valueRange() (float64, float64) {
	hi := 0.0
	for _, s := range c.Lines {
		for _, p := range s.Points {
			if finite(p.V) && p.V > hi {
				hi = p.V
			}
		}
	}
	if c.Threshold != nil && *c.Threshold > hi {
		hi = *c.Threshold
	}
	if hi == 0 {
		hi = 1
	}
	return 0, hi * 1.15
}

// panel maps time and value into one rectangle of the SVG.
type panel struct {
	top, h int
	t0, t1 time.Time
	lo, hi float64
}

func (p panel) x(t time.Time) float64 {
	span := float64(chartW - padL - padR)
	return float64(padL) + span*float64(t.Sub(p.t0))/float64(p.t1.Sub(p.t0))
}

func (p panel) y(v float64) float64 {
	return float64(p.top+p.h) - float64(p.h)*(v-p.lo)/(p.hi-p.lo)
}

// frame draws the panel's box and three value ticks.
func (p panel) frame(b *strings.Builder) {
	fmt.Fprintf(b, `<rect class="panel" x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ccc"/>`, padL, p.top, chartW-padL-padR, p.h)
	for _, v := range []float64{p.lo, (p.lo + p.hi) / 2, p.hi} {
		fmt.Fprintf(b, `<text x="%d" y="%s" class="small" text-anchor="end">%s</text>`, padL-4, f(p.y(v)+4), esc(num(v)))
	}
}

// timeAxis labels the panel's start, middle and end times (UTC).
func (p panel) timeAxis(b *strings.Builder) {
	y := p.top + p.h + 14
	mid := p.t0.Add(p.t1.Sub(p.t0) / 2)
	for i, t := range []time.Time{p.t0, mid, p.t1} {
		anchor := [...]string{"start", "middle", "end"}[i]
		fmt.Fprintf(b, `<text x="%s" y="%d" class="small" text-anchor="%s">%s</text>`, f(p.x(t)), y, anchor, t.UTC().Format("15:04:05"))
	}
}

// line draws s as a polyline, broken where a value is missing (NaN).
func (p panel) line(b *strings.Builder, s Series, col string) {
	fmt.Fprintf(b, `<g class="series" data-series="%s">`, esc(s.Name))
	var run []string
	flush := func() {
		if len(run) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, col, strings.Join(run, " "))
		}
		run = nil
	}
	for _, pt := range s.Points {
		if !finite(pt.V) {
			flush()
			continue
		}
		x, y := p.x(pt.T), p.y(pt.V)
		run = append(run, f(x)+","+f(y))
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"><title>%s %s: %s</title></circle>`, f(x), f(y), col,
			esc(s.Name), pt.T.UTC().Format("15:04:05"), esc(num(pt.V)))
	}
	flush()
	b.WriteString(`</g>`)
}

// bars draws s as bars, the i-th of n side by side per point.
func (p panel) bars(b *strings.Builder, s Series, col string, i, n int) {
	fmt.Fprintf(b, `<g class="series" data-series="%s">`, esc(s.Name))
	w := 24.0 / float64(n)
	for _, pt := range s.Points {
		if !finite(pt.V) {
			continue
		}
		x, y := p.x(pt.T)-12+w*float64(i), p.y(pt.V)
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s %s: %s</title></rect>`,
			f(x), f(y), f(w), f(float64(p.top+p.h)-y), col, esc(s.Name), pt.T.UTC().Format("2006-01-02"), esc(num(pt.V)))
	}
	b.WriteString(`</g>`)
}

// step draws s as a step series held until end.
func (p panel) step(b *strings.Builder, s Series, end time.Time) {
	var pts []string
	for i, pt := range s.Points {
		if i > 0 {
			pts = append(pts, f(p.x(pt.T))+","+f(p.y(s.Points[i-1].V)))
		}
		pts = append(pts, f(p.x(pt.T))+","+f(p.y(pt.V)))
	}
	if n := len(s.Points); n > 0 {
		pts = append(pts, f(p.x(end))+","+f(p.y(s.Points[n-1].V)))
	}
	fmt.Fprintf(b, `<polyline class="weight" data-series="%s" fill="none" stroke="#555" stroke-width="2" points="%s"/>`, esc(s.Name), strings.Join(pts, " "))
}

func esc(s string) string { return html.EscapeString(s) }

func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// num formats a value for a label: short, without trailing zeros.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 0.001:
		return strconv.FormatFloat(v, 'e', 1, 64)
	case a < 10:
		return strconv.FormatFloat(v, 'g', 3, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

package main

import (
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"math"
	"os"
	"strings"
	"time"
)

// The report is one HTML file with inline CSS and SVG, no script and no
// font to fetch, so that it can be mailed, attached to an issue or opened
// years later offline.
//
//go:embed bench_report.html.tmpl
var benchReportHTML string

var benchReportTemplate = template.Must(template.New("report").Parse(benchReportHTML))

type benchReportData struct {
	Version   string
	Generated string
	Failure   string
	Params    [][2]string
	Summary   [][2]string
	Errors    []benchReportError
	Latency   template.HTML
	Conns     template.HTML
	Pubs      template.HTML
	Dels      template.HTML
}

type benchReportError struct {
	Key     string
	Count   int64
	Example string
}

func writeBenchReport(path string, r *benchResult) error {
	s := r.summary()
	d := benchReportData{
		Version:   version,
		Generated: time.Now().Format("2006-01-02 15:04:05 MST"),
		Failure:   r.failure(),
		Params: [][2]string{
			{"server", s.Params.URL},
			{"--conns", fmt.Sprint(s.Params.Conns)},
			{"--channels", fmt.Sprint(s.Params.Channels)},
			{"--rate", fmt.Sprintf("%g publications/s", s.Params.Rate)},
			{"--payload", fmt.Sprintf("%d bytes", s.Params.Payload)},
			{"--ramp", fmt.Sprintf("%g connections/s", s.Params.Ramp)},
			{"--duration", r.cfg.duration.String()},
			{"--timeout", r.cfg.timeout.String()},
		},
		Summary: s.rows(),
	}
	for _, k := range benchSortedKeys(s.ErrorsByCode) {
		d.Errors = append(d.Errors, benchReportError{k, s.ErrorsByCode[k], s.ErrorExamples[k]})
	}
	lat := r.stats.latency.snapshot()
	d.Latency = benchLatencySVG(lat)

	var window [2]float64
	if !r.publishStart.IsZero() {
		window = [2]float64{r.publishStart.Sub(r.start).Seconds(), r.publishEnd.Sub(r.start).Seconds()}
	}
	var subsPerPub float64
	if s.Params.Channels > 0 {
		subsPerPub = float64(s.Connections) / float64(s.Params.Channels)
	}
	pick := func(f func(benchSecond) float64) []benchPoint {
		pts := make([]benchPoint, len(s.Series))
		for i, p := range s.Series {
			pts[i] = benchPoint{p.T, f(p)}
		}
		return pts
	}
	d.Conns = benchLineSVG("Connections open", "at each second", pick(func(p benchSecond) float64 { return float64(p.Open) }), float64(s.Params.Conns), "--conns", window, "#6a4c93")
	d.Pubs = benchLineSVG("Publications per second", "accepted by the API, each second", pick(func(p benchSecond) float64 { return p.Publications }), s.Params.Rate, "--rate", window, "#1f77b4")
	d.Dels = benchLineSVG("Deliveries per second", "received by all subscribers, each second", pick(func(p benchSecond) float64 { return p.Deliveries }), s.Params.Rate*subsPerPub, "expected", window, "#2a9d4a")

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := benchReportTemplate.Execute(f, d); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// Chart geometry, in SVG user units; the SVG scales to the page width.
const (
	benchSVGW, benchSVGH                                     = 1000, 300
	benchSVGLeft, benchSVGRight, benchSVGTop, benchSVGBottom = 70, 20, 36, 44
)

type benchPoint struct{ X, Y float64 }

// benchLatencySVG draws the latency histogram on a log axis, a bar per
// quarter of a power of two, with the percentiles marked.
func benchLatencySVG(h benchHistSnapshot) template.HTML {
	var b strings.Builder
	benchSVGOpen(&b, "Delivery latency", "deliveries per bucket (a bar is a quarter of a doubling)")
	if h.total == 0 {
		benchSVGEmpty(&b)
		return template.HTML(b.String())
	}
	// Group the histogram's buckets by quarter doublings.
	type bin struct {
		lo, hi float64
		n      uint64
	}
	var bins []bin
	for i, n := range h.counts {
		if n == 0 {
			continue
		}
		low, _ := benchHistBounds(i)
		q := math.Floor(4 * math.Log2(math.Max(float64(low), 1)))
		lo, hi := math.Exp2(q/4), math.Exp2((q+1)/4)
		if k := len(bins) - 1; k >= 0 && bins[k].lo == lo {
			bins[k].n += n
			continue
		}
		bins = append(bins, bin{lo, hi, n})
	}
	var top uint64
	for _, x := range bins {
		top = max(top, x.n)
	}
	xmin, xmax := math.Log10(bins[0].lo)-0.1, math.Log10(bins[len(bins)-1].hi)+0.1
	if xmax-xmin < 1 {
		mid := (xmin + xmax) / 2
		xmin, xmax = mid-0.5, mid+0.5
	}
	x := func(ns float64) float64 {
		return benchSVGLeft + (math.Log10(ns)-xmin)/(xmax-xmin)*(benchSVGW-benchSVGLeft-benchSVGRight)
	}
	ymax := benchNiceCeil(float64(top))
	y := func(v float64) float64 {
		return benchSVGH - benchSVGBottom - v/ymax*(benchSVGH-benchSVGTop-benchSVGBottom)
	}

	benchSVGYAxis(&b, ymax, y)
	// Ticks at 1, 2 and 5 times powers of ten, or only the powers when
	// the range is wide.
	var ticks []float64
	for e := math.Floor(xmin); e <= math.Ceil(xmax); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if lv := math.Log10(v); lv >= xmin && lv <= xmax {
				ticks = append(ticks, v)
			}
		}
	}
	if len(ticks) > 12 {
		ticks = ticks[:0]
		for e := math.Ceil(xmin); e <= xmax; e++ {
			ticks = append(ticks, math.Pow(10, e))
		}
	}
	for _, v := range ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="grid"/>`, x(v), x(v), benchSVGTop, benchSVGH-benchSVGBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, x(v), benchSVGH-benchSVGBottom+16, benchDurationLabel(v))
	}
	for _, bn := range bins {
		x0, x1 := x(bn.lo), x(bn.hi)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%s–%s: %d</title></rect>`,
			x0+0.5, y(float64(bn.n)), math.Max(x1-x0-1, 1), y(0)-y(float64(bn.n)), benchDurationLabel(bn.lo), benchDurationLabel(bn.hi), bn.n)
	}
	marks := []struct {
		name string
		v    time.Duration
	}{
		{"p50", h.quantile(0.5)}, {"p99", h.quantile(0.99)}, {"p99.9", h.quantile(0.999)}, {"max", h.max},
	}
	// The lines carry short names, in staggered rows where they are
	// close; the values are in a legend above the plot.
	lastX, row := -100.0, 0
	var legend []string
	for _, m := range marks {
		mx := x(math.Max(float64(m.v), 1))
		if mx-lastX < 44 {
			row++
		} else {
			row = 0
		}
		lastX = mx
		lx, anchor := mx+3, "start"
		if mx > benchSVGW-benchSVGRight-44 {
			lx, anchor = mx-3, "end"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="mark"/>`, mx, mx, benchSVGTop-4+row*14, benchSVGH-benchSVGBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="marklabel" text-anchor="%s">%s</text>`, lx, benchSVGTop+6+row*14, anchor, m.name)
		legend = append(legend, m.name+" "+benchDurationLabel(float64(m.v)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="marklabel">%s</text>`, benchSVGLeft+170, 18, strings.Join(legend, " · "))
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="middle">delivery latency (log scale)</text>`, (benchSVGW+benchSVGLeft)/2, benchSVGH-6)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// benchLineSVG draws one value over the run's seconds, with the
// publishing window shaded and the target dashed.
func benchLineSVG(title, subtitle string, pts []benchPoint, target float64, targetName string, window [2]float64, color string) template.HTML {
	var b strings.Builder
	benchSVGOpen(&b, title, subtitle+"; shaded: while publishing")
	if len(pts) == 0 {
		benchSVGEmpty(&b)
		return template.HTML(b.String())
	}
	xmax := math.Max(pts[len(pts)-1].X, 1)
	top := target
	for _, p := range pts {
		top = math.Max(top, p.Y)
	}
	ymax := benchNiceCeil(top)
	x := func(v float64) float64 { return benchSVGLeft + v/xmax*(benchSVGW-benchSVGLeft-benchSVGRight) }
	y := func(v float64) float64 {
		return benchSVGH - benchSVGBottom - v/ymax*(benchSVGH-benchSVGTop-benchSVGBottom)
	}

	window[1] = math.Min(window[1], xmax)
	if window[1] > window[0] {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" class="window"/>`, x(window[0]), benchSVGTop, x(window[1])-x(window[0]), benchSVGH-benchSVGTop-benchSVGBottom)
	}
	benchSVGYAxis(&b, ymax, y)
	step := benchNiceStep(xmax / 10)
	for t := 0.0; t <= xmax+1e-9; t += step {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="grid"/>`, x(t), x(t), benchSVGTop, benchSVGH-benchSVGBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick" text-anchor="middle">%gs</text>`, x(t), benchSVGH-benchSVGBottom+16, t)
	}
	if target > 0 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="target"/>`, benchSVGLeft, benchSVGW-benchSVGRight, y(target), y(target))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="marklabel" text-anchor="end">%s %s</text>`, benchSVGW-benchSVGRight-4, y(target)-5, html.EscapeString(targetName), benchCount(target))
	}
	var line, area strings.Builder
	fmt.Fprintf(&area, "%.1f,%.1f ", x(0), y(0))
	fmt.Fprintf(&line, "%.1f,%.1f ", x(0), y(0))
	for _, p := range pts {
		fmt.Fprintf(&line, "%.1f,%.1f ", x(p.X), y(p.Y))
		fmt.Fprintf(&area, "%.1f,%.1f ", x(p.X), y(p.Y))
	}
	fmt.Fprintf(&area, "%.1f,%.1f", x(pts[len(pts)-1].X), y(0))
	fmt.Fprintf(&b, `<polygon points="%s" fill="%s" fill-opacity="0.15"/>`, area.String(), color)
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.TrimSpace(line.String()), color)
	for _, p := range pts {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%.0fs: %s</title></circle>`, x(p.X), y(p.Y), color, p.X, benchCount(p.Y))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="middle">seconds since the first connection</text>`, (benchSVGW+benchSVGLeft)/2, benchSVGH-6)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

func benchSVGOpen(b *strings.Builder, title, subtitle string) {
	fmt.Fprintf(b, `<svg viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="%s">`, benchSVGW, benchSVGH, html.EscapeString(title))
	fmt.Fprintf(b, `<text x="%d" y="18" class="title">%s</text>`, benchSVGLeft, html.EscapeString(title))
	fmt.Fprintf(b, `<text x="%d" y="18" class="subtitle" text-anchor="end">%s</text>`, benchSVGW-benchSVGRight, html.EscapeString(subtitle))
}

func benchSVGEmpty(b *strings.Builder) {
	fmt.Fprintf(b, `<text x="%d" y="%d" class="axis" text-anchor="middle">no data</text></svg>`, benchSVGW/2, benchSVGH/2)
}

func benchSVGYAxis(b *strings.Builder, ymax float64, y func(float64) float64) {
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, benchSVGLeft, benchSVGW-benchSVGRight, y(v), y(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`, benchSVGLeft-6, y(v)+4, benchCount(v))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" class="axisline"/>`, benchSVGLeft, benchSVGLeft, benchSVGTop, benchSVGH-benchSVGBottom)
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" class="axisline"/>`, benchSVGLeft, benchSVGW-benchSVGRight, benchSVGH-benchSVGBottom, benchSVGH-benchSVGBottom)
}

// benchNiceCeil rounds v up to a round number (1, 1.2, 1.6, 2, 2.5, 3,
// 4, 5, 6 or 8 times a power of ten) whose quarters read well on an axis.
func benchNiceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.6, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// benchNiceStep rounds v up to 1, 2 or 5 times a power of ten: a step
// between ticks.
func benchNiceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// benchCount prints a count or rate compactly: 950, 12.5k, 1.2M.
func benchCount(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", v/1e6), ".00") + "M"
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// benchDurationLabel prints nanoseconds in the unit that suits them.
func benchDurationLabel(ns float64) string {
	trim := func(v float64) string {
		s := fmt.Sprintf("%.2f", v)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s
	}
	switch {
	case ns >= 1e9:
		return trim(ns/1e9) + "s"
	case ns >= 1e6:
		return trim(ns/1e6) + "ms"
	case ns >= 1e3:
		return trim(ns/1e3) + "µs"
	}
	return trim(ns) + "ns"
}

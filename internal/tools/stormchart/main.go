// Command stormchart draws the reconnect-storm chart of docs/reliability.md
// from the CSV samples of `herald bench storm --samples`: clients
// subscribed over time, one line per run, each aligned on the moment its
// first client was lost. ci/storm.sh runs it.
//
//	go run ./internal/tools/stormchart -o chart.svg "label=samples.csv" ...
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"strconv"
	"strings"
)

// series is one run: seconds since its first client was lost, and the
// clients subscribed then.
type series struct {
	label string
	t     []float64
	subs  []float64
	back  float64 // seconds until all were subscribed again; NaN: never
}

func main() {
	out := flag.String("o", "", "write the SVG to `FILE` (default stdout)")
	title := flag.String("title", "Reconnect storm", "chart title")
	before := flag.Float64("before", 2, "seconds shown before the first client was lost")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: stormchart [-o FILE] [-title T] label=samples.csv ...")
		os.Exit(2)
	}
	var all []series
	for _, arg := range flag.Args() {
		label, path, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "stormchart: %q: give label=file.csv\n", arg)
			os.Exit(2)
		}
		s, err := load(label, path, *before)
		if err != nil {
			fmt.Fprintf(os.Stderr, "stormchart: %s: %v\n", path, err)
			os.Exit(1)
		}
		all = append(all, s)
	}
	svg := draw(*title, all, *before)
	if *out == "" {
		fmt.Print(svg)
		return
	}
	if err := os.WriteFile(*out, []byte(svg), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "stormchart: %v\n", err)
		os.Exit(1)
	}
}

// load reads one CSV and aligns it on its first drop in subscribed
// clients after the peak that the first connects reached.
func load(label, path string, before float64) (series, error) {
	f, err := os.Open(path)
	if err != nil {
		return series{}, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return series{}, err
	}
	if len(rows) < 2 || len(rows[0]) < 3 || rows[0][2] != "subscribed" {
		return series{}, fmt.Errorf("not herald bench storm samples (t_seconds,connected,subscribed,...)")
	}
	var ts, subs []float64
	for _, r := range rows[1:] {
		t, err1 := strconv.ParseFloat(r[0], 64)
		n, err2 := strconv.ParseFloat(r[2], 64)
		if err1 != nil || err2 != nil {
			return series{}, fmt.Errorf("bad row %v", r)
		}
		ts, subs = append(ts, t), append(subs, n)
	}
	peak, lost := 0.0, -1
	for i, n := range subs {
		if n >= peak {
			peak = n
			continue
		}
		lost = i
		break
	}
	if lost < 0 {
		return series{}, fmt.Errorf("no client was lost in these samples")
	}
	s := series{label: label, back: math.NaN()}
	t0 := ts[lost]
	for i := range ts {
		t := ts[i] - t0
		if t < -before {
			continue
		}
		s.t, s.subs = append(s.t, t), append(s.subs, subs[i])
		if i > lost && math.IsNaN(s.back) && subs[i] >= peak {
			s.back = t
		}
	}
	return s, nil
}

var colors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// draw returns the SVG: a line per series, axes, and a legend with each
// run's time to get every client back.
func draw(title string, all []series, before float64) string {
	const w, h, left, right, top, bottom = 760.0, 400.0, 70.0, 20.0, 40.0, 110.0
	xmax, ymax := 1.0, 1.0
	for _, s := range all {
		xmax = math.Max(xmax, s.t[len(s.t)-1])
		for _, n := range s.subs {
			ymax = math.Max(ymax, n)
		}
	}
	xmin := -before
	x := func(v float64) float64 { return left + (v-xmin)/(xmax-xmin)*(w-left-right) }
	y := func(v float64) float64 { return top + (1-v/ymax)*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15">%s</text>`+"\n", left, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%.0f</text>`+"\n",
			left, w-right, y(v), y(v), left-6, y(v)+4, v)
	}
	step := niceStep((xmax - xmin) / 8)
	for v := math.Ceil(xmin/step) * step; v <= xmax; v += step {
		v := math.Round(v/step) * step // no -0s
		if v == 0 {
			v = 0
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#eee"/><text x="%.1f" y="%g" text-anchor="middle">%gs</text>`+"\n",
			x(v), x(v), top, h-bottom, x(v), h-bottom+16, v)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">seconds since the first client was lost</text>`+"\n", (left+w-right)/2, h-bottom+34)
	fmt.Fprintf(&b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">clients subscribed</text>`+"\n", (top+h-bottom)/2)
	for i, s := range all {
		c := colors[i%len(colors)]
		var pts []string
		for j := range s.t {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.t[j]), y(s.subs[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		back := "not all back"
		if !math.IsNaN(s.back) {
			back = fmt.Sprintf("all back after %.1fs", s.back)
		}
		ly := h - bottom + 54 + float64(i/2)*18
		lx := left + float64(i%2)*340
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="3"/><text x="%g" y="%g">%s: %s</text>`+"\n",
			lx, lx+24, ly-4, ly-4, c, lx+30, ly, html.EscapeString(s.label), back)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

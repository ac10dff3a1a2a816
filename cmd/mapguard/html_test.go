package main

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mapguard/mapguard/bench"
)

// figures are what one implementation measured in the synthetic reports.
type figures struct {
	ns                               float64 // ns/op
	p50, p99, p999, rangePass, gcP99 time.Duration
	allocs, bytes, entry             float64
	gc                               uint64
}

// syntheticFigures spans the case that logarithmic bars drew wrong: 44 ns
// against 5011 ns.
var syntheticFigures = map[string]figures{
	"syncmap":  {ns: 5011, p50: 200, p99: 900, p999: 3 * time.Microsecond, rangePass: 2 * time.Millisecond, gcP99: 100 * time.Microsecond, allocs: 2, bytes: 64, entry: 110, gc: 4},
	"xsync":    {ns: 2500, p50: 150, p99: 700, p999: 9 * time.Microsecond, rangePass: 500 * time.Microsecond, gcP99: 80 * time.Microsecond, allocs: 1.5, bytes: 40, entry: 49, gc: 3},
	"mapguard": {ns: 44, p50: 100, p99: 450, p999: 1500, rangePass: 1 * time.Millisecond, gcP99: 0, allocs: 1, bytes: 32, entry: 50, gc: 2},
}

// roundSpread multiplies ns/op in each round: the median is round 2's.
var roundSpread = []float64{0.9, 1, 1.3}

// syntheticReport is a report of the workload "iterate" (a Range pass
// while writers run) on syncmap, xsync and mapguard, at each of cpus, where
// GOMAXPROCS=c divides every figure by c.
func syntheticReport(cpus []int) *report {
	wl := bench.Workload{Name: "iterate", Mix: map[string]int{"store": 70, "delete": 30}, Keys: 100,
		KeyType: "string", Distribution: "uniform", Prefill: 1, Rangers: 1, Duration: time.Second}
	impls := []string{"syncmap", "xsync", "mapguard"}
	rep := &report{
		cfg:     &benchConfig{workloads: []bench.Workload{wl}, impls: impls, cpus: cpus, rounds: len(roundSpread), baseline: "syncmap"},
		results: map[runKey][]bench.Result{},
		rounds:  len(roundSpread),
		machine: machine{CPU: "test CPU", Cores: 2, GoVersion: "go1.x", GOOS: "linux", GOARCH: "amd64"},
	}
	for _, cpu := range cpus {
		for _, impl := range impls {
			f := syntheticFigures[impl]
			d := func(x time.Duration) time.Duration { return x / time.Duration(cpu) }
			for _, k := range roundSpread {
				res := bench.Result{Workload: wl.Name, Impl: impl, GOMAXPROCS: cpu, Ops: 1000,
					OpsPerSec:   1e9 / (f.ns * k / float64(cpu)),
					Latency:     map[string]bench.Quantiles{"store": {P50: d(f.p50), P99: d(f.p99), P999: d(f.p999)}},
					AllocsPerOp: f.allocs / float64(cpu), BytesPerOp: f.bytes / float64(cpu), BytesPerEntry: f.entry / float64(cpu),
					GCCycles: f.gc / uint64(cpu), GCPauseP99: d(f.gcP99), RangePasses: 3, RangePass: d(f.rangePass)}
				k := runKey{wl.Name, cpu, impl}
				rep.results[k] = append(rep.results[k], res)
				rep.order = append(rep.order, res)
			}
		}
	}
	return rep
}

// want is what each chart of the synthetic report must draw for impl at
// GOMAXPROCS=cpu.
func (f figures) want(chart string, cpu int) float64 {
	c := float64(cpu)
	dur := func(d time.Duration) float64 { return float64((d / time.Duration(cpu)).Nanoseconds()) }
	switch chart {
	case "nsop":
		return f.ns / c
	case "rangepass":
		return dur(f.rangePass)
	case "p50":
		return dur(f.p50)
	case "p99":
		return dur(f.p99)
	case "p999":
		return dur(f.p999)
	case "allocs":
		return f.allocs / c
	case "bytes":
		return f.bytes / c
	case "entry":
		return f.entry / c
	case "gc":
		return float64(f.gc / uint64(cpu))
	case "pause":
		return dur(f.gcP99)
	}
	panic("unknown chart " + chart)
}

var chartKinds = []string{"nsop", "rangepass", "p50", "p99", "p999", "allocs", "bytes", "entry", "gc", "pause"}

// The DOM helpers below read the report as a browser's DOM or as parsed
// HTML alike.

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// findAll returns the elements under n (n included) for which match holds,
// in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func elem(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag && (class == "" || hasClass(n, class)) }
}

// textOf is the text under n, <title> tooltips left out.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "title" {
				continue
			}
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}

// charts returns the report's bar charts by id.
func charts(doc *html.Node) map[string]*html.Node {
	m := map[string]*html.Node{}
	for _, svg := range findAll(doc, elem("svg", "chart")) {
		m[attr(svg, "id")] = svg
	}
	return m
}

// renderedRow is what one bar of a chart shows.
type renderedRow struct {
	impl, color, ratio, value string
	cpu                       int
	x, width                  float64
}

func rows(t *testing.T, svg *html.Node) []renderedRow {
	t.Helper()
	if svg == nil {
		t.Fatal("no such chart")
	}
	var out []renderedRow
	for _, g := range findAll(svg, elem("g", "row")) {
		bars := findAll(g, elem("rect", "bar"))
		ratios := findAll(g, elem("tspan", "ratio"))
		values := findAll(g, elem("text", "value"))
		if len(bars) != 1 || len(ratios) != 1 || len(values) != 1 {
			t.Fatalf("chart %s: a row has %d bars, %d ratios, %d values; want one each", attr(svg, "id"), len(bars), len(ratios), len(values))
		}
		cpu, _ := strconv.Atoi(attr(g, "data-cpu"))
		out = append(out, renderedRow{impl: attr(g, "data-impl"), cpu: cpu, color: attr(bars[0], "fill"),
			ratio: textOf(ratios[0]), value: textOf(values[0]),
			x: num(t, attr(bars[0], "x")), width: num(t, attr(bars[0], "width"))})
	}
	return out
}

// axisScale reads a chart's tick labels, checks that they are evenly
// spaced numbers from 0, and returns where 0 is, the pixels per axis unit,
// the largest tick and the divisor that turns a value into axis units.
func axisScale(t *testing.T, svg *html.Node) (x0, perUnit, last, div float64) {
	t.Helper()
	id := attr(svg, "id")
	ticks := findAll(svg, elem("text", "ticklabel"))
	if len(ticks) < 3 {
		t.Fatalf("chart %s has %d tick labels; want at least 3", id, len(ticks))
	}
	var xs, vs []float64
	for _, tk := range ticks {
		xs = append(xs, num(t, attr(tk, "x")))
		vs = append(vs, num(t, textOf(tk)))
	}
	if vs[0] != 0 {
		t.Errorf("chart %s: axis starts at %v; want 0", id, vs[0])
	}
	perUnit = (xs[len(xs)-1] - xs[0]) / (vs[len(vs)-1] - vs[0])
	for i := range xs {
		if want := xs[0] + perUnit*vs[i]; math.Abs(xs[i]-want) > 0.2 {
			t.Errorf("chart %s: tick %v at x=%v; a linear axis puts it at %.1f", id, vs[i], xs[i], want)
		}
	}
	titles := findAll(svg, elem("text", "axistitle"))
	if len(titles) != 1 {
		t.Fatalf("chart %s has %d axis titles; want 1", id, len(titles))
	}
	div = map[string]float64{"µs": 1e3, "ms": 1e6}[textOf(titles[0])]
	if div == 0 {
		div = 1
	}
	return xs[0], perUnit, vs[len(vs)-1], div
}

func renderHTML(t *testing.T, rep *report) *html.Node {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.writeHTML(&buf); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestHTMLChartsAreLinearWithRatios pins issue 14's item 11: logarithmic
// bars without an axis drew 44 ns as 60% of 5011 ns. Every chart (ns/op,
// range pass, latencies, allocations, GC cycles and pause) now has tick
// labels on a linear axis from 0, each bar as long as its value on that
// axis, and the value's ratio to the baseline next to it.
func TestHTMLChartsAreLinearWithRatios(t *testing.T) {
	rep := syntheticReport([]int{2})
	doc := renderHTML(t, rep)
	got := charts(doc)
	for _, kind := range chartKinds {
		id := "chart " + kind + "-iterate"
		svg := got[kind+"-iterate"]
		if svg == nil {
			t.Errorf("report has no %s (has %d charts)", id, len(got))
			continue
		}
		x0, perUnit, last, div := axisScale(t, svg)
		rs := rows(t, svg)
		if len(rs) != 3 {
			t.Errorf("%s has %d rows; want one per implementation, 3", id, len(rs))
		}
		base := syntheticFigures["syncmap"].want(kind, 2)
		for _, r := range rs {
			v := syntheticFigures[r.impl].want(kind, 2)
			if v/div > last {
				t.Errorf("%s: %s's %v lies beyond the last tick %v", id, r.impl, v, last)
			}
			if r.x != x0 {
				t.Errorf("%s: %s's bar starts at x=%v; the axis' 0 is at %v", id, r.impl, r.x, x0)
			}
			if want := perUnit * v / div; math.Abs(r.width-want) > 0.1 {
				t.Errorf("%s: %s's bar for %v is %v px long; the axis says %.2f px", id, r.impl, v, r.width, want)
			}
			wantRatio := fmt.Sprintf("%.2fx", v/base)
			if base == 0 {
				wantRatio = "n/a"
			}
			if r.ratio != wantRatio {
				t.Errorf("%s: %s's ratio %q; want %q", id, r.impl, r.ratio, wantRatio)
			}
		}
		if kind == "nsop" {
			// The whiskers span the rounds' min and max.
			paths := findAll(svg, elem("path", "whisker"))
			if len(paths) != 3 {
				t.Fatalf("%s has %d whiskers; want 3", id, len(paths))
			}
			for i, p := range paths {
				f := syntheticFigures[rs[i].impl]
				m := regexp.MustCompile(`^M([\d.]+) [\d.]+H([\d.]+)`).FindStringSubmatch(attr(p, "d"))
				if m == nil {
					t.Fatalf("%s: whisker path %q", id, attr(p, "d"))
				}
				lo, hi := num(t, m[1])-x0, num(t, m[2])-x0
				if want := perUnit * f.ns * roundSpread[0] / 2; math.Abs(lo-want) > 0.1 {
					t.Errorf("%s: %s's whisker starts %v px from 0; want %.2f", id, rs[i].impl, lo, want)
				}
				// A maximum beyond the axis ends in an arrow at its end;
				// the axis holds the medians.
				want, clipped := f.ns*roundSpread[2]/2, false
				if want > last {
					want, clipped = last, true
				}
				if math.Abs(hi-perUnit*want) > 0.1 || hasClass(p, "clipped") != clipped {
					t.Errorf("%s: %s's whisker ends %v px from 0 (clipped: %v); want %.2f (clipped: %v)",
						id, rs[i].impl, hi, hasClass(p, "clipped"), perUnit*want, clipped)
				}
			}
		}
	}
	// The value is written as the terminal writes it.
	for _, r := range rows(t, got["nsop-iterate"]) {
		if want := fmtNs(syntheticFigures[r.impl].ns/2) + " ns"; !strings.HasPrefix(r.value, want) {
			t.Errorf("ns/op of %s reads %q; want %q first", r.impl, r.value, want)
		}
	}
}

// TestHTMLOneColourPerImplementation checks that each implementation has
// one colour, the same in every chart and in the legend, and that no two
// share one.
func TestHTMLOneColourPerImplementation(t *testing.T) {
	doc := renderHTML(t, syntheticReport([]int{1, 2}))
	colour := map[string]string{}
	for _, li := range findAll(doc, func(n *html.Node) bool { return n.Data == "li" && attr(n, "data-impl") != "" }) {
		rects := findAll(li, elem("rect", ""))
		if len(rects) != 1 || attr(rects[0], "fill") == "" {
			t.Fatalf("legend entry %s has no colour swatch", attr(li, "data-impl"))
		}
		colour[attr(li, "data-impl")] = attr(rects[0], "fill")
	}
	seen := map[string]string{}
	for impl, c := range colour {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share the colour %s", impl, other, c)
		}
		seen[c] = impl
	}
	if len(colour) != 3 {
		t.Fatalf("legend lists %v; want syncmap, xsync and mapguard", colour)
	}
	for id, svg := range charts(doc) {
		for _, r := range rows(t, svg) {
			if r.color != colour[r.impl] {
				t.Errorf("chart %s draws %s in %s; the legend says %s", id, r.impl, r.color, colour[r.impl])
			}
		}
	}
}

// TestHTMLGroupsByCPU checks that with several -cpu values each chart has
// one heading per GOMAXPROCS with the ratios against the baseline at that
// GOMAXPROCS, and that with one -cpu value no chart repeats it.
func TestHTMLGroupsByCPU(t *testing.T) {
	doc := renderHTML(t, syntheticReport([]int{1, 2}))
	for id, svg := range charts(doc) {
		var heads []string
		for _, g := range findAll(svg, elem("text", "group")) {
			heads = append(heads, textOf(g))
		}
		if strings.Join(heads, ",") != "GOMAXPROCS=1,GOMAXPROCS=2" {
			t.Errorf("chart %s headings %q; want GOMAXPROCS=1 and GOMAXPROCS=2", id, heads)
		}
		for _, l := range findAll(svg, elem("text", "label")) {
			if strings.Contains(textOf(l), "GOMAXPROCS") {
				t.Errorf("chart %s: label %q repeats GOMAXPROCS", id, textOf(l))
			}
		}
		rs := rows(t, svg)
		if len(rs) != 6 {
			t.Errorf("chart %s has %d rows; want 6", id, len(rs))
		}
		if kind := strings.TrimSuffix(id, "-iterate"); kind == "nsop" {
			for _, r := range rs {
				v, base := syntheticFigures[r.impl].want(kind, r.cpu), syntheticFigures["syncmap"].want(kind, r.cpu)
				if want := fmt.Sprintf("%.2fx", v/base); r.ratio != want {
					t.Errorf("chart %s: %s at GOMAXPROCS=%d has ratio %q; want %q", id, r.impl, r.cpu, r.ratio, want)
				}
			}
		}
	}

	doc = renderHTML(t, syntheticReport([]int{2}))
	for id, svg := range charts(doc) {
		if text := textOf(svg); strings.Contains(text, "GOMAXPROCS") {
			t.Errorf("chart %s of a single -cpu run mentions GOMAXPROCS: %q", id, text)
		}
	}
}

// TestHTMLZeroMetric checks that a figure that is 0 for every
// implementation is said in words rather than drawn as an empty chart, and
// that a ratio against a baseline of 0 is n/a.
func TestHTMLZeroMetric(t *testing.T) {
	rep := syntheticReport([]int{1})
	for k, rs := range rep.results {
		for i := range rs {
			rs[i].GCCycles = 0
		}
		rep.results[k] = rs
	}
	doc := renderHTML(t, rep)
	got := charts(doc)
	if got["gc-iterate"] != nil {
		t.Errorf("report draws a GC cycles chart though every run had 0")
	}
	var notes []string
	for _, p := range findAll(doc, elem("p", "none")) {
		notes = append(notes, textOf(p))
	}
	if !strings.Contains(strings.Join(notes, " "), "GC cycles") {
		t.Errorf("report does not say GC cycles were 0 (notes %q)", notes)
	}
	// syncmap's pause p99 is not 0 but mapguard's is: mapguard's ratio is
	// 0.00x. Make syncmap's 0 and every ratio is n/a.
	for k, rs := range rep.results {
		for i := range rs {
			if k.impl == "syncmap" {
				rs[i].GCPauseP99 = 0
			}
		}
	}
	for _, r := range rows(t, charts(renderHTML(t, rep))["pause-iterate"]) {
		if r.ratio != "n/a" {
			t.Errorf("pause p99 of %s against a baseline of 0: ratio %q; want n/a", r.impl, r.ratio)
		}
	}
}

// TestHTMLNoBaselineAndFailures checks that a baseline that did not run
// gives n/a ratios and says why rather than leaving ratios out, and that a
// failed correctness check is shown at the top and on its bars.
func TestHTMLNoBaselineAndFailures(t *testing.T) {
	rep := syntheticReport([]int{1})
	rep.cfg.baseline = "mutex"
	k := runKey{"iterate", 1, "xsync"}
	rep.results[k][1].Check = "key k7 lost"
	rep.order = append(rep.order, rep.results[k][1])
	doc := renderHTML(t, rep)
	page := textOf(doc)
	if !strings.Contains(page, "The baseline mutex did not run") {
		t.Errorf("report does not say the baseline did not run:\n%s", page)
	}
	if !strings.Contains(page, "FAIL") || !strings.Contains(page, "key k7 lost") {
		t.Errorf("report does not show the failed check:\n%s", page)
	}
	for id, svg := range charts(doc) {
		for _, r := range rows(t, svg) {
			if r.ratio != "n/a" {
				t.Errorf("chart %s: %s's ratio %q without a baseline; want n/a", id, r.impl, r.ratio)
			}
			if failed := strings.Contains(r.value, "FAIL"); failed != (r.impl == "xsync") {
				t.Errorf("chart %s: %s's bar reads %q; FAIL belongs on xsync's alone", id, r.impl, r.value)
			}
		}
	}
}

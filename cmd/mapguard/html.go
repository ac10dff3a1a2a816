package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mapguard/mapguard/bench"
)

// palette gives each implementation its colour, by its position in -impl,
// the same in every chart: Tableau 10, ten colours chosen to be told apart
// side by side, one for each of the ten implementations.
var palette = []string{
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
	"#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#79706e",
}

// Chart geometry, in pixels. Two 450-pixel charts sit side by side in the
// 916-pixel content width (ns/op, the headline, takes the whole width);
// rows of 20 leave 6 pixels between 14-pixel bars.
const (
	chartW    = 450
	wideW     = 916
	rowH      = 20
	barH      = 14
	groupH    = 20 // a GOMAXPROCS heading row, with several -cpu values
	titleH    = 28
	axisH     = 40 // tick marks, tick labels and the axis title
	minPlotW  = 150
	textPad   = 6
	fontPx    = 12
	chartFont = `"DejaVu Sans", Verdana, Arial, sans-serif`
)

// textWidth estimates the width of s set in chartFont at fontPx, erring
// wide: DejaVu Sans, the widest of the fonts, has digits of 0.64 em.
func textWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		switch {
		case strings.ContainsRune(".,:;'|!il ", r):
			w += 0.34
		case strings.ContainsRune("mwMW%", r):
			w += 1.0
		case r >= 'A' && r <= 'Z':
			w += 0.75
		default:
			w += 0.64
		}
	}
	return w * fontPx
}

// unitKind says how a metric's values are written.
type unitKind int

const (
	unitNs    unitKind = iota // nanoseconds, always written in ns (ns/op)
	unitDur                   // a duration in ns, written in ns, µs or ms
	unitCount                 // a plain number
)

// metric is one chart of a workload's section.
type metric struct {
	id    string // prefix of the chart's id
	title func(bench.Workload) string
	kind  unitKind
	unit  string // of unitCount values, for the axis title
	// suffix follows each unitCount value ("" when a bare number reads
	// well: "3" GC cycles)
	suffix string
	prec   int // decimals of unitCount values
	value  func(summary) float64
	// whiskers draws the min-max range over rounds (ns/op only: it is the
	// one figure whose rounds the summary keeps).
	whiskers bool
	wide     bool // the chart takes the page's width
	// applies says whether the workload measures this at all.
	applies func(bench.Workload) bool
}

func durNs(d time.Duration) float64 { return float64(d.Nanoseconds()) }

// metrics lists the charts of each workload, in order: ns/op first, as in
// the terminal table, then the figures that explain it.
var metrics = []metric{
	{id: "nsop", title: func(bench.Workload) string { return "ns/op: wall time per operation, all goroutines" },
		kind: unitNs, value: func(s summary) float64 { return s.nsPerOp }, whiskers: true, wide: true},
	{id: "rangepass", title: func(bench.Workload) string { return "range pass: one full Range while writers run" },
		kind: unitDur, value: func(s summary) float64 { return durNs(s.rangePass) },
		applies: func(w bench.Workload) bool { return w.Rangers > 0 }},
	{id: "p50", title: func(w bench.Workload) string { return mainOp(w) + " latency p50" },
		kind: unitDur, value: func(s summary) float64 { return durNs(s.p50) }},
	{id: "p99", title: func(w bench.Workload) string { return mainOp(w) + " latency p99" },
		kind: unitDur, value: func(s summary) float64 { return durNs(s.p99) }},
	{id: "p999", title: func(w bench.Workload) string { return mainOp(w) + " latency p99.9" },
		kind: unitDur, value: func(s summary) float64 { return durNs(s.p999) }},
	{id: "allocs", title: func(bench.Workload) string { return "allocations per operation" },
		kind: unitCount, unit: "allocs/op", suffix: " allocs/op", prec: 2, value: func(s summary) float64 { return s.allocs }},
	{id: "bytes", title: func(bench.Workload) string { return "heap bytes allocated per operation" },
		kind: unitCount, unit: "B/op", suffix: " B/op", prec: 0, value: func(s summary) float64 { return s.bytes }},
	{id: "entry", title: func(bench.Workload) string { return "heap bytes per entry of the prefilled map" },
		kind: unitCount, unit: "B/entry", suffix: " B/entry", prec: 0, value: func(s summary) float64 { return s.entry },
		applies: func(w bench.Workload) bool { return w.Prefill > 0 }},
	{id: "gc", title: func(bench.Workload) string { return "GC cycles during the run" },
		kind: unitCount, unit: "GC cycles", prec: 0, value: func(s summary) float64 { return float64(s.gcCycles) }},
	{id: "pause", title: func(bench.Workload) string { return "GC stop-the-world pause p99" },
		kind: unitDur, value: func(s summary) float64 { return durNs(s.pauseP99) }},
}

// axis is a linear axis from 0 to max with ticks every step; values are
// written divided by div, in unit.
type axis struct {
	max, step, div float64
	unit           string
	decimals       int
}

// niceAxis returns an axis from 0 that holds top, with about n intervals
// (at least two) between ticks at 1, 2 or 5 times a power of ten.
func niceAxis(top float64, kind unitKind, unit string, n int) axis {
	a := axis{div: 1, unit: unit}
	switch kind {
	case unitNs:
		a.unit = "ns"
	case unitDur:
		switch {
		case top < 1e4:
			a.unit = "ns"
		case top < 1e6:
			a.unit, a.div = "µs", 1e3
		default:
			a.unit, a.div = "ms", 1e6
		}
	}
	t := top / a.div
	if t <= 0 {
		t = 1
	}
	raw := t / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	var step float64
	// The nearest of 1, 2, 5 and 10 (geometric midpoints).
	switch r := raw / mag; {
	case r < 1.42:
		step = mag
	case r < 3.17:
		step = 2 * mag
	case r < 7.08:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	if kind == unitCount && unit != "allocs/op" && step < 1 {
		step = 1 // cycles and bytes are whole numbers
	}
	// At least two intervals, so that the reader sees the scale.
	a.max = max(math.Ceil(t/step-1e-9), 2) * step * a.div
	a.step = step * a.div
	a.decimals = max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	return a
}

func (a axis) ticks() []float64 {
	var ts []float64
	for i := 0; ; i++ {
		v := float64(i) * a.step
		if v > a.max*(1+1e-9) {
			return ts
		}
		ts = append(ts, v)
	}
}

func (a axis) label(v float64) string {
	return strconv.FormatFloat(v/a.div, 'f', a.decimals, 64)
}

// formatValue writes one bar's value as the terminal table does.
func formatValue(kind unitKind, prec int, suffix string, v float64) string {
	switch kind {
	case unitNs:
		return fmtNs(v) + " ns"
	case unitDur:
		if v == 0 {
			return "0"
		}
		return fmtDur(time.Duration(v))
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + suffix
}

// ratioText is v over the baseline's value, as the terminal writes it.
func ratioText(v, base float64, haveBase bool) string {
	if !haveBase || base <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", v/base)
}

// chartRow is one bar: an implementation at one GOMAXPROCS.
type chartRow struct {
	impl, color    string
	cpu            int
	value, lo, hi  float64 // lo and hi: the whiskers, or 0
	text, ratio    string
	tip            string
	noisy, failed  bool
	isBaselineImpl bool
}

// chartGroup is the rows of one GOMAXPROCS; label is empty when the run
// had a single -cpu value (the page says it once).
type chartGroup struct {
	label string
	rows  []chartRow
}

// svgChart draws a horizontal bar chart of width (or wider, if the labels
// need it) on a linear axis from 0 to at least top, with as many tick
// labels as fit, each bar followed by its value and its ratio to the
// baseline.
func svgChart(w io.Writer, id, title string, width float64, groups []chartGroup, top float64, kind unitKind, unit string) {
	labelW, valueW := 0.0, 0.0
	rows := 0
	for _, g := range groups {
		for _, r := range g.rows {
			labelW = max(labelW, textWidth(r.impl))
			valueW = max(valueW, textWidth(r.text+" "+r.ratio+valueMarks(r)))
			rows++
		}
	}
	left := math.Ceil(textPad + labelW + textPad)
	var a axis
	var right, plotW float64
	// About one tick per 80 pixels, fewer if their labels need the room.
	for n := min(max(int((width-left-valueW)/80), 2), 8); n >= 1; n-- {
		a = niceAxis(top, kind, unit, n)
		// The last tick label is centred on the axis' end: keep room for half.
		right = math.Ceil(max(valueW+2*textPad, textWidth(a.label(a.max))/2+textPad))
		plotW = max(width-left-right, minPlotW)
		// Tick labels need their width and a gap between neighbours.
		if plotW*a.step/a.max >= textWidth(a.label(a.max))+2*textPad {
			break
		}
	}
	width = left + plotW + right
	x := func(v float64) float64 {
		if a.max <= 0 || v <= 0 {
			return left
		}
		return left + plotW*v/a.max
	}
	headers := 0
	for _, g := range groups {
		if g.label != "" {
			headers++
		}
	}
	plotTop := float64(titleH)
	plotBottom := plotTop + float64(rows*rowH+headers*groupH)
	height := plotBottom + axisH

	fmt.Fprintf(w, `<figure><svg id="%s" class="chart" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`+"\n",
		html.EscapeString(id), width, height, width, height, html.EscapeString(title))
	fmt.Fprintf(w, `<text x="%d" y="17" class="title">%s</text>`+"\n", textPad/2, html.EscapeString(title))
	// Grid lines and the axis under the bars.
	for _, t := range a.ticks() {
		fmt.Fprintf(w, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" class="grid"/>`, x(t), x(t), plotTop, plotBottom)
		fmt.Fprintf(w, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" class="tick"/>`, x(t), x(t), plotBottom, plotBottom+4)
		fmt.Fprintf(w, `<text x="%.1f" y="%.0f" text-anchor="middle" class="ticklabel">%s</text>`+"\n", x(t), plotBottom+17, a.label(t))
	}
	fmt.Fprintf(w, `<line x1="%.0f" x2="%.1f" y1="%.0f" y2="%.0f" class="axis"/>`+"\n", left, x(a.max), plotBottom, plotBottom)
	fmt.Fprintf(w, `<text x="%.1f" y="%.0f" text-anchor="middle" class="axistitle">%s</text>`+"\n", left+plotW/2, plotBottom+33, html.EscapeString(a.unit))

	y := plotTop
	for _, g := range groups {
		if g.label != "" {
			fmt.Fprintf(w, `<text x="%d" y="%.0f" class="group">%s</text>`+"\n", textPad/2, y+15, html.EscapeString(g.label))
			y += groupH
		}
		for _, r := range g.rows {
			mid := y + rowH/2
			fmt.Fprintf(w, `<g class="row" data-impl="%s" data-cpu="%d"><title>%s</title>`, html.EscapeString(r.impl), r.cpu, html.EscapeString(r.tip))
			fmt.Fprintf(w, `<text x="%.0f" y="%.1f" text-anchor="end" class="label">%s</text>`, left-textPad, mid+4, html.EscapeString(r.impl))
			fmt.Fprintf(w, `<rect class="bar" x="%.0f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`, left, mid-barH/2, x(r.value)-left, barH, r.color)
			end := x(r.value)
			if r.hi > 0 {
				lo, hi := x(r.lo), x(r.hi)
				if axisEnd := x(a.max); hi > axisEnd+0.05 {
					// Off the axis: an arrow at its end instead of a cap.
					fmt.Fprintf(w, `<path class="whisker clipped" d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fL%.1f %.1fL%.1f %.1f"/>`,
						lo, mid, axisEnd, lo, mid-4, mid+4, axisEnd-5, mid-4, axisEnd, mid, axisEnd-5, mid+4)
					hi = axisEnd
				} else {
					fmt.Fprintf(w, `<path class="whisker" d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f"/>`,
						lo, mid, hi, lo, mid-4, mid+4, hi, mid-4, mid+4)
				}
				end = max(end, hi)
			}
			ratioClass := "ratio"
			switch {
			case r.ratio == "n/a":
				ratioClass += " na"
			case r.isBaselineImpl:
				ratioClass += " base"
			}
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" class="value">%s <tspan class="%s">%s</tspan>`,
				end+textPad, mid+4, html.EscapeString(r.text), ratioClass, html.EscapeString(r.ratio))
			if r.noisy {
				fmt.Fprint(w, `<tspan class="noisy"> !</tspan>`)
			}
			if r.failed {
				fmt.Fprint(w, `<tspan class="fail"> FAIL</tspan>`)
			}
			fmt.Fprintln(w, `</text></g>`)
			y += rowH
		}
	}
	fmt.Fprintln(w, `</svg></figure>`)
}

// valueMarks is the text svgChart appends to a row's ratio.
func valueMarks(r chartRow) string {
	s := ""
	if r.noisy {
		s += " !"
	}
	if r.failed {
		s += " FAIL"
	}
	return s
}

// writeLegend lists each implementation with its colour (a small SVG
// swatch, as in the charts), its name and what it is.
func writeLegend(w io.Writer, impls []string, baseline string) {
	fmt.Fprintln(w, `<ul id="legend" class="legend">`)
	for _, impl := range impls {
		base := ""
		if impl == baseline {
			base = " (baseline)"
		}
		fmt.Fprintf(w, `<li data-impl="%s"><svg xmlns="http://www.w3.org/2000/svg" width="14" height="14" aria-hidden="true"><rect width="14" height="14" fill="%s"/></svg>`+
			`<b>%s</b>%s <span class="desc">%s</span></li>`+"\n",
			html.EscapeString(impl), implColor(impls, impl), html.EscapeString(impl), base, html.EscapeString(bench.Describe(impl)))
	}
	fmt.Fprintln(w, `</ul>`)
}

// implColor is impl's colour: the same in every chart of the report.
func implColor(impls []string, impl string) string {
	for i, x := range impls {
		if x == impl {
			return palette[i%len(palette)]
		}
	}
	return "#000"
}

// chartID makes s usable in an id: letters, digits, '-' and '_' only.
func chartID(prefix, s string) string {
	var b strings.Builder
	b.WriteString(prefix + "-")
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// writeHTMLFile writes the report as one self-contained HTML file: inline
// CSS and SVG, no scripts, nothing fetched from the network.
func (r *report) writeHTMLFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing HTML report: %w", err)
	}
	if err := r.writeHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("writing HTML report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing HTML report %s: %w", path, err)
	}
	return nil
}

const htmlStyle = `body{font:14px/1.45 ` + chartFont + `;margin:24px auto;max-width:940px;padding:0 12px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 2px;border-top:1px solid #ccc;padding-top:14px}
p{margin:4px 0}.meta,.desc,.none{color:#555}.fail{color:#c00;font-weight:bold}
nav a{margin-right:12px}figure{margin:8px 0}.grid{display:flex;flex-wrap:wrap;column-gap:16px}
svg text{font:12px ` + chartFont + `;fill:#222}svg .title{font-weight:bold;font-size:13px}svg .group{font-weight:bold;fill:#444}
svg .grid{stroke:#e4e4e4}svg .axis,svg .tick{stroke:#666}svg .ticklabel,svg .axistitle,svg .desc{fill:#555}
svg .whisker{stroke:#222;stroke-width:1.2;fill:none}svg .ratio{font-weight:bold}svg .ratio.base,svg .ratio.na{fill:#777}svg .ratio.na{font-weight:normal}
.legend{list-style:none;padding:0;margin:10px 0;columns:2;column-gap:24px}.legend li{break-inside:avoid;margin:2px 0}
.legend svg{vertical-align:-2px;margin-right:6px}.legend .desc{font-size:13px}
svg .noisy{fill:#b60}svg .fail{fill:#c00;font-weight:bold}svg .name{font-weight:bold}
`

func (r *report) writeHTML(w io.Writer) error {
	var b strings.Builder
	cpus := make([]string, len(r.cfg.cpus))
	for i, c := range r.cfg.cpus {
		cpus[i] = strconv.Itoa(c)
	}
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mapguard bench report</title>\n<style>" + htmlStyle + "</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>mapguard bench</h1>\n<p class=\"meta\">%s, %d cores, %s %s/%s<br>workloads: %d; implementations: %d; GOMAXPROCS: %s; interleaved rounds: %d; baseline: %s</p>\n",
		html.EscapeString(r.machine.CPU), r.machine.Cores, html.EscapeString(r.machine.GoVersion), r.machine.GOOS, r.machine.GOARCH,
		len(r.cfg.workloads), len(r.cfg.impls), strings.Join(cpus, ", "), r.rounds, html.EscapeString(r.cfg.baseline))
	writeLegend(&b, r.cfg.impls, r.cfg.baseline)

	baseRan := false
	for _, impl := range r.cfg.impls {
		baseRan = baseRan || impl == r.cfg.baseline
	}
	fmt.Fprintf(&b, "<p>In every chart lower is better. Bars are medians of the rounds on a linear axis from 0; "+
		"the black whiskers on ns/op span the rounds' minimum to maximum "+
		"(an arrow: the maximum is off the axis; hover for it). After each value, its ratio to %s's at the same GOMAXPROCS "+
		"(below 1.00x: less than %s). Latencies are sampled, 1 operation in 16.", html.EscapeString(r.cfg.baseline), html.EscapeString(r.cfg.baseline))
	if r.noisy() {
		fmt.Fprintf(&b, " <span class=\"noisy\">! marks a min-max spread over %.0f%% of the median: run more -rounds, or on a quieter machine.</span>", 100*wideSpread)
	}
	if !baseRan {
		fmt.Fprintf(&b, " <strong>The baseline %s did not run, so no ratio can be given (n/a).</strong>", html.EscapeString(r.cfg.baseline))
	}
	b.WriteString("</p>\n")

	if f := r.failures(); len(f) > 0 {
		b.WriteString("<p class=\"fail\">Correctness check FAILED:</p><ul>")
		for _, x := range f {
			fmt.Fprintf(&b, "<li class=\"fail\">%s</li>", html.EscapeString(x))
		}
		b.WriteString("</ul>\n")
	} else {
		b.WriteString("<p>Correctness: every run's final state matched what its goroutines did.</p>\n")
	}

	if len(r.cfg.workloads) > 1 {
		b.WriteString("<nav>")
		for _, wl := range r.cfg.workloads {
			fmt.Fprintf(&b, "<a href=\"#%s\">%s</a>", chartID("wl", wl.Name), html.EscapeString(wl.Name))
		}
		b.WriteString("</nav>\n")
	}
	for _, wl := range r.cfg.workloads {
		fmt.Fprintf(&b, "<section id=\"%s\"><h2>%s</h2><p class=\"desc\">%s</p>\n<div class=\"grid\">\n",
			chartID("wl", wl.Name), html.EscapeString(wl.Name), html.EscapeString(describeWorkload(wl)))
		var zero []string
		for _, m := range metrics {
			if m.applies != nil && !m.applies(wl) {
				continue
			}
			groups, top, n := r.chartGroups(wl, m)
			if n == 0 {
				continue
			}
			if top <= 0 {
				zero = append(zero, m.title(wl))
				continue
			}
			width := float64(chartW)
			if m.wide {
				width = wideW
			}
			svgChart(&b, chartID(m.id, wl.Name), m.title(wl), width, groups, top, m.kind, m.unit)
		}
		b.WriteString("</div>\n")
		if len(zero) > 0 {
			fmt.Fprintf(&b, "<p class=\"none\">0 for every implementation: %s.</p>\n", html.EscapeString(strings.Join(zero, "; ")))
		}
		b.WriteString("</section>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// noisy reports whether any cell's ns/op spread over rounds is wide.
func (r *report) noisy() bool {
	if r.rounds < 2 {
		return false
	}
	for _, wl := range r.cfg.workloads {
		for _, cpu := range r.cfg.cpus {
			for _, impl := range r.cfg.impls {
				if s := r.summarize(wl, cpu, impl); s.ok && s.spread > wideSpread {
					return true
				}
			}
		}
	}
	return false
}

// chartGroups collects metric m of workload wl: one group per GOMAXPROCS
// with a row per implementation that ran, the largest value or whisker,
// and the number of rows.
func (r *report) chartGroups(wl bench.Workload, m metric) (groups []chartGroup, top float64, n int) {
	for _, cpu := range r.cfg.cpus {
		g := chartGroup{}
		if len(r.cfg.cpus) > 1 {
			g.label = fmt.Sprintf("GOMAXPROCS=%d", cpu)
		}
		base := r.summarize(wl, cpu, r.cfg.baseline)
		for _, impl := range r.cfg.impls {
			s := r.summarize(wl, cpu, impl)
			if !s.ok {
				continue
			}
			v := m.value(s)
			row := chartRow{impl: impl, color: implColor(r.cfg.impls, impl), cpu: cpu, value: v,
				text:           formatValue(m.kind, m.prec, m.suffix, v),
				ratio:          ratioText(v, m.value(base), base.ok),
				failed:         s.check != "",
				isBaselineImpl: impl == r.cfg.baseline}
			if m.whiskers && r.rounds > 1 {
				row.lo, row.hi = s.minNs, s.maxNs
				row.noisy = s.spread > wideSpread
			}
			row.tip = fmt.Sprintf("%s, GOMAXPROCS=%d: %s (median of the rounds), ", impl, cpu, row.text)
			switch {
			case !base.ok:
				row.tip += fmt.Sprintf("no ratio: %s did not run", r.cfg.baseline)
			case row.ratio == "n/a":
				row.tip += fmt.Sprintf("no ratio: %s's is 0", r.cfg.baseline)
			default:
				row.tip += fmt.Sprintf("%s %s's", row.ratio, r.cfg.baseline)
			}
			if row.hi > 0 {
				row.tip += fmt.Sprintf("; min %s, max %s", formatValue(m.kind, m.prec, m.suffix, row.lo), formatValue(m.kind, m.prec, m.suffix, row.hi))
			}
			// The axis holds the medians; a whisker beyond it is cut
			// short with an arrow (one slow round must not shrink every
			// bar to a sliver).
			top = max(top, v)
			g.rows = append(g.rows, row)
			n++
		}
		if len(g.rows) > 0 {
			groups = append(groups, g)
		}
	}
	return groups, top, n
}

package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// bar is one labelled value of a bar chart; group separates the series
// of one label (a -cpu value, a percentile).
type bar struct {
	label, group string
	value        float64
}

// svgBars draws a horizontal bar chart as inline SVG. With logScale the
// bar lengths are logarithmic (latencies span orders of magnitude).
func svgBars(w io.Writer, id, title, unit string, bars []bar, logScale bool) {
	const (
		rowH, left, width, right = 18, 230, 460, 110
	)
	maxV := 0.0
	for _, b := range bars {
		maxV = math.Max(maxV, b.value)
	}
	scale := func(v float64) float64 {
		if maxV <= 0 || v <= 0 {
			return 0
		}
		if logScale {
			return width * math.Log10(1+v) / math.Log10(1+maxV)
		}
		return width * v / maxV
	}
	height := 30 + rowH*len(bars) + 10
	fmt.Fprintf(w, `<figure><svg id="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">`+"\n",
		html.EscapeString(id), left+width+right, height, html.EscapeString(title))
	fmt.Fprintf(w, `<text x="4" y="16" class="title">%s (%s)</text>`+"\n", html.EscapeString(title), html.EscapeString(unit))
	colors := []string{"#4878d0", "#ee854a", "#6acc64", "#d65f5f", "#956cb4"}
	groups := map[string]int{}
	for i, b := range bars {
		g, ok := groups[b.group]
		if !ok {
			g = len(groups)
			groups[b.group] = g
		}
		y := 30 + i*rowH
		label := b.label
		if b.group != "" {
			label += " · " + b.group
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end" class="label">%s</text>`, left-6, y+13, html.EscapeString(label))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.4g %s</title></rect>`,
			left, y+2, scale(b.value), rowH-4, colors[g%len(colors)], html.EscapeString(label), b.value, html.EscapeString(unit))
		fmt.Fprintf(w, `<text x="%.1f" y="%d" class="value">%.4g</text>`+"\n", float64(left)+scale(b.value)+4, y+13, b.value)
	}
	fmt.Fprintln(w, `</svg></figure>`)
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

func (r *report) writeHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mapguard bench report</title>\n")
	b.WriteString("<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:900px}svg text{font:12px system-ui,sans-serif}" +
		"svg .title{font-weight:bold}figure{margin:1em 0}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>mapguard bench</h1>\n<p>%s, %d cores, %s %s/%s; %d round(s); -cpu %v; baseline %s.</p>\n",
		html.EscapeString(r.machine.CPU), r.machine.Cores, r.machine.GoVersion, r.machine.GOOS, r.machine.GOARCH,
		r.rounds, r.cfg.cpus, html.EscapeString(r.cfg.baseline))

	b.WriteString("<h2>Throughput</h2>\n<p>Operations per second, all goroutines together; median of the rounds, one bar per GOMAXPROCS.</p>\n")
	for _, wl := range r.cfg.workloads {
		fmt.Fprintf(&b, "<h3>%s</h3><p>%s</p>\n", html.EscapeString(wl.Name), html.EscapeString(describeWorkload(wl)))
		var bars []bar
		for _, impl := range r.cfg.impls {
			for _, cpu := range r.cfg.cpus {
				if s := r.summarize(wl, cpu, impl); s.ok {
					bars = append(bars, bar{impl, fmt.Sprintf("GOMAXPROCS=%d", cpu), 1e9 / s.nsPerOp})
				}
			}
		}
		svgBars(&b, "throughput-"+wl.Name, wl.Name+": throughput", "ops/s", bars, false)
	}

	b.WriteString("<h2>Latency</h2>\n<p>Sampled latency of each workload's main operation (p50, p99, p99.9), at the largest GOMAXPROCS; logarithmic bars.</p>\n")
	cpu := r.cfg.cpus[len(r.cfg.cpus)-1]
	for _, wl := range r.cfg.workloads {
		var bars []bar
		for _, impl := range r.cfg.impls {
			if s := r.summarize(wl, cpu, impl); s.ok {
				for _, q := range []struct {
					name string
					d    time.Duration
				}{{"p50", s.p50}, {"p99", s.p99}, {"p99.9", s.p999}} {
					bars = append(bars, bar{impl, q.name, float64(q.d.Nanoseconds())})
				}
			}
		}
		svgBars(&b, "latency-"+wl.Name, wl.Name+": "+mainOp(wl)+" latency", "ns", bars, true)
	}

	b.WriteString("<h2>Memory</h2>\n<p>Heap bytes per entry of the prefilled map (keys' and values' own data excluded), per workload with a prefill.</p>\n")
	var mem []bar
	for _, wl := range r.cfg.workloads {
		for _, impl := range r.cfg.impls {
			if s := r.summarize(wl, r.cfg.cpus[0], impl); s.ok && s.entry > 0 {
				mem = append(mem, bar{impl, wl.Name, s.entry})
			}
		}
	}
	svgBars(&b, "memory", "bytes per entry", "B/entry", mem, false)

	b.WriteString("<h2>Correctness</h2>\n")
	if f := r.failures(); len(f) > 0 {
		b.WriteString("<ul>")
		for _, x := range f {
			fmt.Fprintf(&b, "<li style=\"color:#c00\">FAIL: %s</li>", html.EscapeString(x))
		}
		b.WriteString("</ul>\n")
	} else {
		b.WriteString("<p>Every run's final state matched what its goroutines did.</p>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

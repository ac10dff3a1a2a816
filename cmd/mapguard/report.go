package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mapguard/mapguard/bench"
)

// wideSpread is the (max-min)/median throughput spread over rounds above
// which the table warns that the numbers are noisy.
const wideSpread = 0.2

// machine describes where the results were measured.
type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
}

func describeMachine() machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// report renders the results of a bench run.
type report struct {
	cfg     *benchConfig
	results map[runKey][]bench.Result
	order   []bench.Result
	rounds  int
	machine machine
}

// summary is the median and range over rounds of one cell.
type summary struct {
	ok                   bool
	nsPerOp              float64 // median, 1/throughput
	minNs, maxNs         float64
	spread               float64
	p50, p99, p999       time.Duration // of the workload's main operation
	allocs, bytes, entry float64
	gcCycles             uint64
	pauseP99             time.Duration
	rangePass            time.Duration
	check                string
}

// median returns the median of xs, which must not be empty: the middle
// value, or the mean of the middle two for an even count.
func median[T int64 | float64 | time.Duration | uint64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2 // no overflow: s is sorted
}

// mainOp is the operation with the largest share of w's mix.
func mainOp(w bench.Workload) string {
	best := ""
	for _, op := range bench.OpNames() {
		if w.Mix[op] > w.Mix[best] {
			best = op
		}
	}
	return best
}

func (r *report) summarize(w bench.Workload, cpu int, impl string) summary {
	rs := r.results[runKey{w.Name, cpu, impl}]
	if len(rs) == 0 {
		return summary{}
	}
	var ns, allocs, bytes, entry []float64
	var p50, p99, p999, pause, pass []time.Duration
	var cycles []uint64
	s := summary{ok: true}
	op := mainOp(w)
	for _, x := range rs {
		ns = append(ns, 1e9/x.OpsPerSec)
		allocs = append(allocs, x.AllocsPerOp)
		bytes = append(bytes, x.BytesPerOp)
		entry = append(entry, x.BytesPerEntry)
		q := x.Latency[op]
		p50, p99, p999 = append(p50, q.P50), append(p99, q.P99), append(p999, q.P999)
		pause = append(pause, x.GCPauseP99)
		pass = append(pass, x.RangePass)
		cycles = append(cycles, x.GCCycles)
		if x.Check != "" && s.check == "" {
			s.check = x.Check
		}
	}
	s.nsPerOp, s.minNs, s.maxNs = median(ns), slices.Min(ns), slices.Max(ns)
	s.spread = (s.maxNs - s.minNs) / s.nsPerOp
	s.p50, s.p99, s.p999 = median(p50), median(p99), median(p999)
	s.allocs, s.bytes, s.entry = median(allocs), median(bytes), median(entry)
	s.gcCycles, s.pauseP99, s.rangePass = median(cycles), median(pause), median(pass)
	return s
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6) // at most 7 columns, as the others
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func fmtNs(ns float64) string {
	if ns >= 1e4 {
		return fmt.Sprintf("%.0f", ns)
	}
	return fmt.Sprintf("%.1f", ns)
}

func describeWorkload(w bench.Workload) string {
	var mix []string
	for _, op := range bench.OpNames() {
		if p := w.Mix[op]; p > 0 {
			mix = append(mix, fmt.Sprintf("%s=%d", op, p))
		}
	}
	dist := w.Distribution
	if dist == "zipf" {
		dist = fmt.Sprintf("zipf s=%g", w.ZipfS)
	}
	extra := ""
	if w.Rangers > 0 {
		extra += fmt.Sprintf(", %d ranger(s)", w.Rangers)
	}
	if w.BulkEvery > 0 {
		extra += fmt.Sprintf(", bulk update of %d keys every %v", w.BulkSize, w.BulkEvery)
	}
	values := fmt.Sprintf("%dB values", w.ValueSize)
	if w.ValueType == "int" {
		values = "int64 values"
	}
	return fmt.Sprintf("%s; %d %s keys, %s; %s; prefill %.0f%%%s",
		strings.Join(mix, " "), w.Keys, w.KeyType, dist, values, 100*w.Prefill, extra)
}

// tableWidth is the width, in columns, the table fits without -wide: a
// terminal split beside an editor, and an 80-column one with little lost.
const tableWidth = 100

// tableColumn is one column of the table.
type tableColumn struct {
	head string
	wide bool // shown only with -wide
	cell func(s, base summary) string
}

// tableColumns returns the table's columns for w.
func (r *report) tableColumns(w bench.Workload) []tableColumn {
	op := mainOp(w)
	latency := func(q func(s summary) time.Duration) func(s, base summary) string {
		return func(s, _ summary) string { return fmtDur(q(s)) }
	}
	cols := []tableColumn{
		{head: "ns/op", cell: func(s, _ summary) string {
			if !r.cfg.wide && s.spread > wideSpread {
				return fmtNs(s.nsPerOp) + "!"
			}
			return fmtNs(s.nsPerOp)
		}},
		{head: "min-max", wide: true, cell: func(s, _ summary) string {
			spread := ""
			if s.spread > wideSpread {
				spread = " !"
			}
			return fmt.Sprintf("%s-%s%s", fmtNs(s.minNs), fmtNs(s.maxNs), spread)
		}},
		{head: "vs " + r.cfg.baseline, cell: func(s, base summary) string {
			if !base.ok {
				return "-"
			}
			return fmt.Sprintf("%.2fx", s.nsPerOp/base.nsPerOp)
		}},
		{head: "p50", cell: latency(func(s summary) time.Duration { return s.p50 })},
		{head: "p99", cell: latency(func(s summary) time.Duration { return s.p99 })},
		{head: "p99.9", wide: true, cell: latency(func(s summary) time.Duration { return s.p999 })},
		{head: "allocs", cell: func(s, _ summary) string { return fmt.Sprintf("%.2f", s.allocs) }},
		{head: "B/op", wide: true, cell: func(s, _ summary) string { return fmt.Sprintf("%.0f", s.bytes) }},
		{head: "B/entry", cell: func(s, _ summary) string {
			if s.entry > 0 {
				return fmt.Sprintf("%.0f", s.entry)
			}
			return "-"
		}},
		{head: "GCs", cell: func(s, _ summary) string { return fmt.Sprint(s.gcCycles) }},
		{head: "pause p99", wide: true, cell: latency(func(s summary) time.Duration { return s.pauseP99 })},
	}
	if r.cfg.wide {
		cols[3].head = op + " p50"
		cols[6].head = "allocs/op"
	}
	if w.Rangers > 0 {
		cols = append(cols, tableColumn{head: "range pass", cell: latency(func(s summary) time.Duration { return s.rangePass })})
	}
	var shown []tableColumn
	for _, c := range cols {
		if r.cfg.wide || !c.wide {
			shown = append(shown, c)
		}
	}
	return shown
}

// paragraph writes a paragraph: wrapped to tableWidth, continuation lines
// indented, unless the table is wide.
func (r *report) paragraph(out io.Writer, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !r.cfg.wide {
		s = wrapWords(s, tableWidth, "  ")
	}
	fmt.Fprintln(out, s)
}

// wrapWords breaks s at spaces into lines of at most width runes, indenting
// every line after the first by indent (shorter than width); a word
// longer than a line is cut.
func wrapWords(s string, width int, indent string) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width {
			line += " " + word
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
		if len(lines) > 0 {
			word = indent + word
		}
		line = word
		for utf8.RuneCountInString(line) > width {
			rs := []rune(line)
			lines = append(lines, string(rs[:width]))
			line = indent + string(rs[width:])
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// nounCount returns "1 round", "3 rounds".
func nounCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (r *report) writeTable(out io.Writer) error {
	var cpus []string
	for _, c := range r.cfg.cpus {
		cpus = append(cpus, fmt.Sprint(c))
	}
	r.paragraph(out, "mapguard bench: %s x %s, -cpu %s, %d of %s",
		nounCount(len(r.cfg.workloads), "workload"), nounCount(len(r.cfg.impls), "implementation"), strings.Join(cpus, ","), r.rounds, nounCount(r.cfg.rounds, "round"))
	r.paragraph(out, "machine: %s, %d cores, %s %s/%s", r.machine.CPU, r.machine.Cores, r.machine.GoVersion, r.machine.GOOS, r.machine.GOARCH)
	if r.rounds == 0 {
		_, err := fmt.Fprintln(out, "no round finished")
		return err
	}
	noisy := false
	for _, cpu := range r.cfg.cpus {
		for _, w := range r.cfg.workloads {
			fmt.Fprintln(out)
			r.paragraph(out, "%s, GOMAXPROCS=%d: %s; latencies of %s", w.Name, cpu, describeWorkload(w), mainOp(w))
			cols := r.tableColumns(w)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprint(tw, "impl\t")
			for _, c := range cols {
				fmt.Fprintf(tw, "%s\t", c.head)
			}
			// check is the text after the last tab, outside every column,
			// so that its colour codes do not widen a column.
			fmt.Fprintln(tw, " check")
			base := r.summarize(w, cpu, r.cfg.baseline)
			for _, impl := range r.cfg.impls {
				s := r.summarize(w, cpu, impl)
				if !s.ok {
					continue
				}
				if s.spread > wideSpread {
					noisy = true
				}
				fmt.Fprintf(tw, "%s\t", impl)
				for _, c := range cols {
					fmt.Fprintf(tw, "%s\t", c.cell(s, base))
				}
				check := "ok"
				if s.check != "" {
					check = "FAIL"
					if r.cfg.color {
						check = "\x1b[31mFAIL\x1b[0m"
					}
				}
				fmt.Fprintf(tw, " %s\n", check)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(out)
	r.paragraph(out, "ns/op is wall time per operation over all goroutines (1/throughput), the median of the rounds; "+
		"ratios below 1.00x are faster than %s. Latencies are sampled (1 op in 64), medians of the rounds.", r.cfg.baseline)
	if noisy {
		how := "run more -rounds, or on a quieter machine"
		if !r.cfg.wide {
			how += "; -wide shows min-max, p99.9, B/op and GC pauses"
		}
		r.paragraph(out, "! marks a min-max spread over %.0f%% of the median: %s.", 100*wideSpread, how)
	} else if !r.cfg.wide {
		r.paragraph(out, "-wide shows min-max, p99.9, B/op and GC pauses.")
	}
	for _, f := range r.failures() {
		r.paragraph(out, "FAIL: %s", f)
	}
	return nil
}

// failures lists the runs whose correctness check failed.
func (r *report) failures() []string {
	var out []string
	for _, x := range r.order {
		if x.Check != "" {
			out = append(out, fmt.Sprintf("%s on %s (GOMAXPROCS=%d): %s", x.Workload, x.Impl, x.GOMAXPROCS, x.Check))
		}
	}
	return out
}

// writeBenchfmt prints every run as a Go benchmark result line, so that
// benchstat can compare runs: BenchmarkWORKLOAD/impl=IMPL-CPU.
func (r *report) writeBenchfmt(out io.Writer) error {
	fmt.Fprintf(out, "goos: %s\ngoarch: %s\npkg: github.com/mapguard/mapguard/cmd/mapguard\ncpu: %s\n",
		r.machine.GOOS, r.machine.GOARCH, r.machine.CPU)
	for _, x := range r.order {
		var w bench.Workload
		for _, c := range r.cfg.workloads {
			if c.Name == x.Workload {
				w = c
			}
		}
		q := x.Latency[mainOp(w)]
		fmt.Fprintf(out, "Benchmark%s/impl=%s-%d\t%d\t%.2f ns/op\t%d p50-ns\t%d p99-ns\t%d p999-ns\t%.2f B/op\t%.2f allocs/op",
			x.Workload, x.Impl, x.GOMAXPROCS, x.Ops, 1e9/x.OpsPerSec,
			q.P50.Nanoseconds(), q.P99.Nanoseconds(), q.P999.Nanoseconds(), x.BytesPerOp, x.AllocsPerOp)
		if x.BytesPerEntry > 0 {
			fmt.Fprintf(out, "\t%.2f B/entry", x.BytesPerEntry)
		}
		if x.RangePasses > 0 {
			fmt.Fprintf(out, "\t%d range-pass-ns", x.RangePass.Nanoseconds())
		}
		if _, err := fmt.Fprintf(out, "\t%d gc-pause-p99-ns\n", x.GCPauseP99.Nanoseconds()); err != nil {
			return err
		}
	}
	return nil
}

// jsonReport is the -json document.
type jsonReport struct {
	Machine   machine          `json:"machine"`
	Rounds    int              `json:"rounds"`
	Baseline  string           `json:"baseline"`
	Workloads []bench.Workload `json:"workloads"`
	Results   []bench.Result   `json:"results"`
}

func (r *report) writeJSON(out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{Machine: r.machine, Rounds: r.rounds, Baseline: r.cfg.baseline, Workloads: r.cfg.workloads, Results: r.order})
}

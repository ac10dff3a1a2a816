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

func median[T int64 | float64 | time.Duration | uint64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
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
	default:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
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
	return fmt.Sprintf("%s; %d %s keys, %s; %dB values; prefill %.0f%%%s",
		strings.Join(mix, " "), w.Keys, w.KeyType, dist, w.ValueSize, 100*w.Prefill, extra)
}

func (r *report) writeTable(out io.Writer) error {
	fmt.Fprintf(out, "mapguard bench: %d workloads x %d implementations, -cpu %v, %d round(s) of %d; %s, %d cores, %s %s/%s\n",
		len(r.cfg.workloads), len(r.cfg.impls), r.cfg.cpus, r.rounds, r.cfg.rounds,
		r.machine.CPU, r.machine.Cores, r.machine.GoVersion, r.machine.GOOS, r.machine.GOARCH)
	if r.rounds == 0 {
		_, err := fmt.Fprintln(out, "no round finished")
		return err
	}
	noisy := false
	for _, cpu := range r.cfg.cpus {
		for _, w := range r.cfg.workloads {
			fmt.Fprintf(out, "\n%s, GOMAXPROCS=%d: %s\n", w.Name, cpu, describeWorkload(w))
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			op := mainOp(w)
			fmt.Fprintf(tw, "impl\tns/op\tmin-max\tvs %s\t%s p50\tp99\tp99.9\tallocs/op\tB/op\tB/entry\tGCs\tpause p99\t", r.cfg.baseline, op)
			if w.Rangers > 0 {
				fmt.Fprint(tw, "range pass\t")
			}
			fmt.Fprintln(tw, "check\t")
			base := r.summarize(w, cpu, r.cfg.baseline)
			for _, impl := range r.cfg.impls {
				s := r.summarize(w, cpu, impl)
				if !s.ok {
					continue
				}
				ratio := "-"
				if base.ok {
					ratio = fmt.Sprintf("%.2fx", s.nsPerOp/base.nsPerOp)
				}
				spread := ""
				if s.spread > wideSpread {
					spread, noisy = " !", true
				}
				entry := "-"
				if s.entry > 0 {
					entry = fmt.Sprintf("%.0f", s.entry)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s-%s%s\t%s\t%s\t%s\t%s\t%.2f\t%.0f\t%s\t%d\t%s\t",
					impl, fmtNs(s.nsPerOp), fmtNs(s.minNs), fmtNs(s.maxNs), spread, ratio,
					fmtDur(s.p50), fmtDur(s.p99), fmtDur(s.p999), s.allocs, s.bytes, entry, s.gcCycles, fmtDur(s.pauseP99))
				if w.Rangers > 0 {
					fmt.Fprintf(tw, "%s\t", fmtDur(s.rangePass))
				}
				check := "ok"
				if s.check != "" {
					check = "FAIL"
					if r.cfg.color {
						check = "\x1b[31mFAIL\x1b[0m"
					}
				}
				fmt.Fprintf(tw, "%s\t\n", check)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "\nns/op is wall time per operation over all goroutines (1/throughput), the median of the rounds;\n"+
		"ratios below 1.00x are faster than %s. Latencies are sampled (1 op in 16), medians of the rounds.\n", r.cfg.baseline)
	if noisy {
		fmt.Fprintf(out, "! marks a min-max spread over %.0f%% of the median: run more -rounds, or on a quieter machine.\n", 100*wideSpread)
	}
	for _, f := range r.failures() {
		fmt.Fprintf(out, "FAIL: %s\n", f)
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

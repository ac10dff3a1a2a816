package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mapguard/mapguard/bench"
)

// runBenchArgs runs `mapguard bench args` and returns its stdout, stderr,
// exit code and error.
func runBenchArgs(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	err = run(ctx, append([]string{"bench"}, args...), &out, &errOut)
	return out.String(), errOut.String(), exitCode(err, io.Discard), err
}

func writeWorkloadFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBenchDuplicateWorkloadNames: two workloads named alike in one file
// were merged into one set of results (a 100-key load-only workload
// reported the other's 1218 ns/op); now they are refused, exit 2, and the
// error names both entries.
func TestBenchDuplicateWorkloadNames(t *testing.T) {
	path := writeWorkloadFile(t, `workloads:
  - name: mine
    mix: {load: 100}
    keys: 100
  - name: mine
    mix: {store: 50, delete: 50}
    keys: 100000
`)
	_, _, code, err := runBenchArgs(context.Background(), "-ops", "100", "-workload", path)
	if code != 2 {
		t.Fatalf("duplicate names: exit %d (%v); want 2", code, err)
	}
	for _, want := range []string{`"mine"`, "workloads 1 (line 2)", "2 (line 5)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestBenchWorkloadFileForms: the README says a file holds "one workload
// or a list": a top-level list runs; an empty file says it is empty; a
// negative ops names ops.
func TestBenchWorkloadFileForms(t *testing.T) {
	list := writeWorkloadFile(t, "- name: first\n  mix: {load: 100}\n  keys: 64\n- name: second\n  mix: {store: 100}\n  keys: 32\n")
	out, _, _, err := runBenchArgs(context.Background(), "-duration", "5ms", "-rounds", "1", "-impl", "syncmap,mapguard", "-workload", list)
	if err != nil || !strings.Contains(out, "first, GOMAXPROCS=") || !strings.Contains(out, "second, GOMAXPROCS=") {
		t.Fatalf("top-level list: %v\n%s", err, out)
	}
	for _, tc := range []struct{ data, want, not string }{
		{"", "empty", "EOF"},
		{"# a comment, nothing else\n", "empty", "EOF"},
		{"name: x\nmix: {load: 100}\nops: -5\n", "ops", "duration"},
	} {
		_, _, code, err := runBenchArgs(context.Background(), "-workload", writeWorkloadFile(t, tc.data))
		if code != 2 || err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("workload file %q: exit %d, %v; want exit 2 and an error naming %q, not %q", tc.data, code, err, tc.want, tc.not)
		}
	}
}

// TestBenchOutputFlags: the -format error lists json; -json with another
// -format is a conflict (it silently printed JSON).
func TestBenchOutputFlags(t *testing.T) {
	_, _, code, err := runBenchArgs(context.Background(), "-format", "xml")
	if code != 2 || err == nil || !strings.Contains(err.Error(), "json") {
		t.Errorf("-format xml: exit %d, %v; want exit 2 and an error listing json", code, err)
	}
	for _, format := range []string{"benchfmt", "table"} {
		_, _, code, err := runBenchArgs(context.Background(), "-json", "-format", format)
		if code != 2 || err == nil || !strings.Contains(err.Error(), "-json") {
			t.Errorf("-json -format %s: exit %d, %v; want exit 2 naming the conflict", format, code, err)
		}
	}
	cfg, err := parseBenchFlags([]string{"-json", "-format", "json"}, io.Discard)
	if err != nil || cfg.format != "json" {
		t.Errorf("-json -format json: %v, %+v; want JSON", err, cfg)
	}
}

// TestBenchBaselineNotInImpl: a -baseline that -impl lacks turned every
// ratio into "-"; now it is run too, first, with a note on stderr.
func TestBenchBaselineNotInImpl(t *testing.T) {
	out, stderr, _, err := runBenchArgs(context.Background(), "-duration", "5ms", "-rounds", "1", "-preset", "hot-keys", "-impl", "xsync,mapguard")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "note") || !strings.Contains(stderr, "syncmap") {
		t.Errorf("stderr %q; want a note that the baseline syncmap is added", stderr)
	}
	rows := 0
	ratio := regexp.MustCompile(`\s\d+\.\d\dx\s`)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && (f[0] == "syncmap" || f[0] == "xsync" || f[0] == "mapguard") && f[1] != "bench:" {
			rows++
			if !ratio.MatchString(line) {
				t.Errorf("row without a ratio: %q", line)
			}
		}
	}
	if rows != 3 {
		t.Errorf("%d rows; want syncmap, xsync and mapguard:\n%s", rows, out)
	}
}

// TestBenchDefaultIsThreeShortRounds: the headline command ran one round,
// so a noisy run could show a false 1.5x with no warning. It runs at
// least 3 interleaved rounds now, with runs short enough that their
// measured time (warm-up included) leaves most of a minute's budget to
// prefill, checks and collection.
func TestBenchDefaultIsThreeShortRounds(t *testing.T) {
	cfg, err := parseBenchFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rounds < 3 {
		t.Errorf("default -rounds %d; want at least 3", cfg.rounds)
	}
	var measured time.Duration
	for _, w := range cfg.workloads {
		measured += w.Duration * time.Duration(cfg.rounds*len(cfg.impls)*len(cfg.cpus))
		measured += min(w.Duration/5, 100*time.Millisecond) * time.Duration(len(cfg.impls)) // warm-up
	}
	if measured > 30*time.Second {
		t.Errorf("the default run measures for %v; want at most 30s, half the minute it must fit in", measured)
	}
}

// TestMedianOfEvenRounds: the median of an even number of rounds is the
// mean of the middle two (it was the upper one).
func TestMedianOfEvenRounds(t *testing.T) {
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median(4, 1, 3, 2) = %v; want 2.5", got)
	}
	if got := median([]time.Duration{10, 30}); got != 20 {
		t.Errorf("median(10ns, 30ns) = %v; want 20ns", got)
	}
	if got := median([]uint64{1, 5, 3}); got != 3 {
		t.Errorf("median(1, 5, 3) = %v; want 3", got)
	}
	w := bench.Presets(0)[1]
	cfg := &benchConfig{workloads: []bench.Workload{w}, impls: []string{"syncmap"}, cpus: []int{2}, rounds: 2, baseline: "syncmap"}
	rs := []bench.Result{
		{Workload: w.Name, Impl: "syncmap", GOMAXPROCS: 2, Ops: 10, OpsPerSec: 1e9 / 100, GCCycles: 2},
		{Workload: w.Name, Impl: "syncmap", GOMAXPROCS: 2, Ops: 10, OpsPerSec: 1e9 / 200, GCCycles: 4},
	}
	rep := &report{cfg: cfg, results: map[runKey][]bench.Result{{w.Name, 2, "syncmap"}: rs}, order: rs, rounds: 2}
	if s := rep.summarize(w, 2, "syncmap"); s.nsPerOp < 149.99 || s.nsPerOp > 150.01 || s.gcCycles != 3 {
		t.Errorf("two rounds of 100 and 200 ns/op, 2 and 4 GCs: summary %v ns/op, %d GCs; want 150 and 3", s.nsPerOp, s.gcCycles)
	}
}

// stubMemory makes the run see avail bytes of available memory.
func stubMemory(t *testing.T, avail uint64, err error) {
	t.Helper()
	prev := availableMemory
	availableMemory = func() (bench.MemoryBudget, error) {
		return bench.MemoryBudget{Bytes: avail, Source: "a test's stub"}, err
	}
	t.Cleanup(func() { availableMemory = prev })
}

// TestBenchRefusesRunThatDoesNotFitInMemory: 30M keys at 9.5 GB sat in
// the warm-up; now the run is estimated first and refused, exit 2, with
// the estimate, when it exceeds the available memory; -force runs it.
func TestBenchRefusesRunThatDoesNotFitInMemory(t *testing.T) {
	stubMemory(t, 1<<20, nil)
	start := time.Now()
	_, _, code, err := runBenchArgs(context.Background(), "-mix", "load=100", "-keys", "30000000", "-prefill", "1")
	if code != 2 || err == nil {
		t.Fatalf("30M keys with 1 MiB available: exit %d, %v; want exit 2", code, err)
	}
	for _, want := range []string{"GiB", "1.0 MiB", "a test's stub", "-force", "30000000 keys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v; it must come before any key is made", d)
	}
	// session-table needs tens of MiB: refused with 1 MiB, run with -force.
	args := []string{"-duration", "5ms", "-rounds", "1", "-preset", "session-table", "-impl", "syncmap"}
	if _, _, code, _ := runBenchArgs(context.Background(), args...); code != 2 {
		t.Errorf("session-table with 1 MiB available: exit %d; want 2", code)
	}
	out, stderr, _, err := runBenchArgs(context.Background(), append(args, "-force")...)
	if err != nil || !strings.Contains(out, "session-table") || !strings.Contains(stderr, "-force") {
		t.Errorf("-force: %v, stderr %q; want the run, with a note", err, stderr)
	}
	// Where the memory cannot be read, the run goes on and says so.
	stubMemory(t, 0, errors.New("bench: cannot tell the available memory: no /proc"))
	_, stderr, _, err = runBenchArgs(context.Background(), args...)
	if err != nil || !strings.Contains(stderr, "not checked") {
		t.Errorf("unknown memory: %v, stderr %q; want the run, with a note that the memory is not checked", err, stderr)
	}
}

// TestBenchCtrlCStopsWarmUpAndPrefill: Ctrl-C was ignored while a large
// run made its keys and prefilled. Cancelled in the warm-up of the issue's
// run (30M keys, -force past the memory check), the command returns within
// a second and prints what finished: no round.
func TestBenchCtrlCStopsWarmUpAndPrefill(t *testing.T) {
	stubMemory(t, 1<<20, nil)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"making string keys", []string{"-mix", "load=100", "-keys", "30000000", "-prefill", "1"}},
		{"prefilling int keys", []string{"-mix", "load=100", "-keys", "8000000", "-key-type", "int", "-prefill", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelled := make(chan time.Time, 1)
			// A second in, past the runtime's first large allocations
			// (which can stall half a second on a sandboxed machine), and
			// still well inside the warm-up's first run.
			timer := time.AfterFunc(time.Second, func() { cancelled <- time.Now(); cancel() })
			defer timer.Stop()
			out, _, code, err := runBenchArgs(ctx, append(tc.args, "-force", "-impl", "syncmap,mapguard")...)
			returned := time.Now()
			var at time.Time
			select {
			case at = <-cancelled:
			default:
				t.Fatalf("the run ended before Ctrl-C: %v", err)
			}
			if d := returned.Sub(at); d > time.Second {
				t.Errorf("returned %v after Ctrl-C; want within 1s", d)
			}
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "during the warm-up, after 0 of 3 rounds") || code != 1 {
				t.Errorf("err %v (exit %d); want an interruption during the warm-up, exit 1", err, code)
			}
			if !strings.Contains(out, "no round finished") {
				t.Errorf("output %q; want it to say no round finished", out)
			}
		})
	}
}

var benchANSI = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestBenchTableFits100Columns renders a table of every preset and every
// implementation with wide numbers, failed checks in colour, a long
// baseline name and a long CPU name: every line fits 100 columns (runes,
// ANSI codes stripped). -wide shows every column, wider.
func TestBenchTableFits100Columns(t *testing.T) {
	ws := bench.Presets(time.Second)
	cfg := &benchConfig{workloads: ws, impls: bench.Names(), cpus: []int{2, 64}, rounds: 3, baseline: "shardedsync", color: true}
	rep := &report{cfg: cfg, results: map[runKey][]bench.Result{}, rounds: 3,
		machine: machine{CPU: "Intel(R) Xeon(R) Platinum 8488C CPU @ 2.40GHz with a long marketing name", Cores: 64, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64"}}
	for round := range 3 {
		for _, cpu := range cfg.cpus {
			for _, w := range ws {
				for i, impl := range cfg.impls {
					r := bench.Result{Workload: w.Name, Impl: impl, GOMAXPROCS: cpu, Ops: 1 << 20,
						OpsPerSec:   1e9 / (123456.7 * float64(i+1+round*7)), // up to 7 digits, and a wide spread
						AllocsPerOp: 1234.56, BytesPerOp: 12345678, BytesPerEntry: 1234, GCCycles: 1234,
						GCPauseP99: 123456 * time.Microsecond, RangePasses: 3, RangePass: 1234567 * time.Microsecond,
						Latency: map[string]bench.Quantiles{mainOp(w): {P50: 999 * time.Millisecond, P99: 123456 * time.Millisecond, P999: 5 * time.Second}}}
					if i%3 == 0 {
						r.Check = "key 12345: map holds 7 (present true); its owner's last write left 8 (present true), which is a long sentence"
					}
					k := runKey{w.Name, cpu, impl}
					rep.results[k] = append(rep.results[k], r)
					rep.order = append(rep.order, r)
				}
			}
		}
	}
	var out bytes.Buffer
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(out.String(), "\n") {
		if n := utf8.RuneCountInString(benchANSI.ReplaceAllString(line, "")); n > 100 {
			t.Errorf("line %d is %d columns wide:\n%s", i+1, n, line)
		}
	}
	for _, want := range []string{"FAIL", "vs shardedsync", "range pass", "!"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	cfg.wide = true
	out.Reset()
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	widest := 0
	for _, line := range strings.Split(out.String(), "\n") {
		widest = max(widest, utf8.RuneCountInString(benchANSI.ReplaceAllString(line, "")))
	}
	for _, want := range []string{"min-max", "p99.9", "B/op", "pause p99", "load p50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-wide table lacks %q", want)
		}
	}
	if widest <= 100 {
		t.Errorf("-wide table is %d columns at most; want every column, wider than 100", widest)
	}
}

// TestBenchTableOfARealRunFits100Columns checks a real run's table.
func TestBenchTableOfARealRunFits100Columns(t *testing.T) {
	out := runOK(t, "-duration", "5ms", "-rounds", "1", "-preset", "iterate-while-writing,config-table", "-impl", "shardedsync,snapshotmap,readmostly", "-baseline", "shardedsync", "-keys", "4096")
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(benchANSI.ReplaceAllString(line, "")); n > 100 {
			t.Errorf("line %d is %d columns wide:\n%s", i+1, n, line)
		}
	}
}

// TestBenchWorkloadFileFlagOverrides: with -workload, -value-size,
// -goroutines and -ops were silently ignored. A flag given explicitly now
// overrides every workload of the file, as it does the presets; a flag
// not given leaves the file's value, and fills what the file omits.
func TestBenchWorkloadFileFlagOverrides(t *testing.T) {
	path := writeWorkloadFile(t, "- name: a\n  mix: {load: 100}\n  keys: 100\n  value_size: 64\n  goroutines: 3\n  ops: 500\n- name: b\n  mix: {store: 100}\n")
	cfg, err := parseBenchFlags([]string{"-workload", path, "-value-size", "128", "-goroutines", "2", "-ops", "1000", "-keys", "50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.workloads {
		if w.ValueSize != 128 || w.Goroutines != 2 || w.Ops != 1000 || w.Keys != 50 {
			t.Errorf("workload %s: value size %d, goroutines %d, ops %d, keys %d; want the flags' 128, 2, 1000, 50", w.Name, w.ValueSize, w.Goroutines, w.Ops, w.Keys)
		}
	}
	cfg, err = parseBenchFlags([]string{"-workload", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.workloads[0]; w.ValueSize != 64 || w.Goroutines != 3 || w.Ops != 500 || w.Keys != 100 {
		t.Errorf("without flags, workload a: value size %d, goroutines %d, ops %d, keys %d; want the file's 64, 3, 500, 100", w.ValueSize, w.Goroutines, w.Ops, w.Keys)
	}
	cfg, err = parseBenchFlags([]string{"-workload", path, "-value-size", "32"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.workloads[1]; w.ValueSize != 32 {
		t.Errorf("workload b (no value_size in the file) with -value-size 32: %d", w.ValueSize)
	}
}

// TestBenchValueType: -value-type int makes int64 values, in -mix, over a
// workload file and over a preset; a payload size with int values is
// refused with exit code 2 rather than silently dropped.
func TestBenchValueType(t *testing.T) {
	cfg, err := parseBenchFlags([]string{"-mix", "load=90,store=10", "-value-type", "int"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.workloads[0]; w.ValueType != "int" {
		t.Errorf("-mix with -value-type int: value type %q", w.ValueType)
	}
	path := writeWorkloadFile(t, "- name: a\n  mix: {load: 100}\n  value_type: int\n- name: b\n  mix: {store: 100}\n")
	cfg, err = parseBenchFlags([]string{"-workload", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.workloads[0], cfg.workloads[1]; a.ValueType != "int" || b.ValueType != "pointer" {
		t.Errorf("file: value types %q and %q; want the file's int and the default pointer", a.ValueType, b.ValueType)
	}
	cfg, err = parseBenchFlags([]string{"-preset", "session-table", "-value-type", "int"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.workloads[0]; w.ValueType != "int" || w.ValueSize != 0 {
		t.Errorf("session-table with -value-type int: value type %q, size %d; want int, 0", w.ValueType, w.ValueSize)
	}
	for _, args := range [][]string{
		{"-mix", "load=100", "-value-type", "int", "-value-size", "64"},
		{"-preset", "counter-table", "-value-size", "64"},
		{"-mix", "load=100", "-value-type", "float"},
	} {
		_, _, code, err := runBenchArgs(context.Background(), args...)
		if code != 2 || err == nil || !strings.Contains(err.Error(), "value_") {
			t.Errorf("%q: exit code %d, error %v; want 2 naming the value field", args, code, err)
		}
	}
}

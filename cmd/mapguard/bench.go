package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapguard/mapguard/bench"
)

// benchConfig is the parsed command line of `mapguard bench`.
type benchConfig struct {
	workloads []bench.Workload
	impls     []string
	cpus      []int
	rounds    int
	baseline  string
	format    string // table, benchfmt or json
	html      string // report file, or ""
	color     bool   // ANSI colour in the table
	wide      bool   // the table shows every column, however wide
	force     bool   // run even if the memory estimate exceeds what is available
}

// Defaults of the run that `go run ./cmd/mapguard bench` does: six
// presets on ten implementations in three interleaved rounds, 180 runs,
// each short enough that the whole fits in a minute on 2 cores.
const (
	defaultRounds   = 3
	defaultDuration = 120 * time.Millisecond
)

// availableMemory says how much memory the run may use; tests replace it.
var availableMemory = bench.AvailableMemory

func parseBenchFlags(args []string, stderr io.Writer) (*benchConfig, error) {
	fs := flag.NewFlagSet("mapguard bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	presets := fs.String("preset", strings.Join(bench.PresetNames(), ","), "comma-separated presets to run")
	file := fs.String("workload", "", "YAML `file` of workloads to run instead of the presets; workload flags given with it override every workload of the file")
	duration := fs.Duration("duration", defaultDuration, "time per run (one workload on one implementation at one -cpu)")
	mix := fs.String("mix", "", "define a workload instead of the presets: op=percent pairs, e.g. load=90,store=8,delete=2 (ops: "+strings.Join(bench.OpNames(), ", ")+")")
	keys := fs.Int("keys", 1<<16, "distinct keys (with -mix; overrides the presets' when set)")
	keyType := fs.String("key-type", "string", "key type: string or int (with -mix; overrides the presets' when set)")
	dist := fs.String("dist", "uniform", "key distribution: uniform or zipf (with -mix; overrides the presets' when set)")
	zipfS := fs.Float64("zipf-s", 1.1, "zipf skew, > 1")
	valueType := fs.String("value-type", "pointer", "value type: pointer (a pointer to -value-size bytes of payload) or int (an int64: no pointers, stored inline by mapguard.Map) (with -mix; overrides the presets' when set)")
	valueSize := fs.Int("value-size", 0, "payload bytes per stored value (with -value-type pointer)")
	goroutines := fs.Int("goroutines", 0, "goroutines running the mix (0: GOMAXPROCS)")
	prefill := fs.Float64("prefill", 0.5, "fraction of the keys stored before each run")
	ops := fs.Int64("ops", 0, "stop each run after this many operations (0: run for -duration)")
	impls := fs.String("impl", strings.Join(bench.Names(), ","), "comma-separated implementations to compare")
	cpus := fs.String("cpu", strconv.Itoa(runtime.GOMAXPROCS(0)), "comma-separated GOMAXPROCS values")
	rounds := fs.Int("rounds", defaultRounds, "interleaved rounds: every implementation runs once per round; the table shows the median and warns of a wide spread")
	baseline := fs.String("baseline", "syncmap", "implementation the ratios are against (added to -impl, with a note, if -impl lacks it)")
	format := fs.String("format", "table", "output: table, benchfmt (Go benchmark format, for benchstat) or json")
	asJSON := fs.Bool("json", false, "print machine-readable JSON results instead of the table (same as -format json)")
	html := fs.String("html", "", "also write a self-contained HTML report with SVG charts to `file`")
	wide := fs.Bool("wide", false, "show every column of the table (min-max, p99.9, B/op, GC pause p99), however wide; by default it fits 100 columns")
	force := fs.Bool("force", false, "run even when the estimated peak memory exceeds what the machine (MemAvailable) or its cgroup has available")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mapguard bench [flags]\n\n"+
			"Runs workloads on every implementation side by side, in interleaved rounds,\n"+
			"and prints throughput, latency, allocation and GC figures with ratios.\n"+
			"Before it starts, it estimates the run's peak memory and refuses a run that\n"+
			"does not fit in the memory available (-force runs it anyway).\n"+
			"Presets: %s.\n\nflags:\n", strings.Join(bench.PresetNames(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("bench takes no arguments, got %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := &benchConfig{rounds: *rounds, baseline: *baseline, html: *html, format: *format, wide: *wide, force: *force}
	if cfg.format != "table" && cfg.format != "benchfmt" && cfg.format != "json" {
		return nil, usagef("-format must be table, benchfmt or json, got %q", *format)
	}
	if *asJSON {
		if set["format"] && cfg.format != "json" {
			return nil, usagef("-json and -format %s ask for two outputs; give one", cfg.format)
		}
		cfg.format = "json"
	}
	if *duration <= 0 {
		return nil, usagef("-duration must be positive, got %v", *duration)
	}
	if cfg.rounds < 1 {
		return nil, usagef("-rounds must be at least 1, got %d", cfg.rounds)
	}
	for _, c := range strings.Split(*cpus, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, usagef("-cpu must list positive integers, got %q", *cpus)
		}
		cfg.cpus = append(cfg.cpus, n)
	}
	for _, name := range strings.Split(*impls, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(bench.Names(), name) {
			return nil, usagef("unknown implementation %q in -impl (known: %s)", name, strings.Join(bench.Names(), ", "))
		}
		if !slices.Contains(cfg.impls, name) {
			cfg.impls = append(cfg.impls, name)
		}
	}
	if !slices.Contains(bench.Names(), cfg.baseline) {
		return nil, usagef("unknown -baseline %q (known: %s)", cfg.baseline, strings.Join(bench.Names(), ", "))
	}
	if !slices.Contains(cfg.impls, cfg.baseline) {
		// Without it every ratio would be "-": run it too, first.
		fmt.Fprintf(stderr, "mapguard bench: note: -impl lacks the baseline %s; running it too, so that the ratios have something to be against (or pick a -baseline from -impl)\n", cfg.baseline)
		cfg.impls = append([]string{cfg.baseline}, cfg.impls...)
	}

	// override applies the explicitly set workload flags to w.
	override := func(w *bench.Workload) {
		if set["keys"] {
			w.Keys = *keys
		}
		if set["key-type"] {
			w.KeyType = *keyType
		}
		if set["dist"] {
			w.Distribution = *dist
		}
		if set["zipf-s"] || set["dist"] && *dist == "zipf" {
			w.ZipfS = *zipfS
		}
		if set["value-type"] {
			w.ValueType = *valueType
			if *valueType == "int" && !set["value-size"] {
				w.ValueSize = 0 // an int64 carries no payload; -value-size with it is refused
			}
		}
		if set["value-size"] {
			w.ValueSize = *valueSize
		}
		if set["goroutines"] {
			w.Goroutines = *goroutines
		}
		if set["prefill"] {
			w.Prefill = *prefill
		}
		if set["ops"] {
			w.Ops = *ops
		}
		if set["duration"] || w.Duration == 0 {
			w.Duration = *duration
		}
	}
	switch {
	case *mix != "" && *file != "":
		return nil, usagef("-mix and -workload both define workloads; give one")
	case *mix != "":
		m, err := bench.ParseMix(*mix)
		if err != nil {
			return nil, usagef("%v", err)
		}
		w := bench.Workload{Name: "custom", Mix: m, Keys: *keys, KeyType: *keyType, Distribution: *dist,
			ZipfS: *zipfS, ValueType: *valueType, ValueSize: *valueSize, Goroutines: *goroutines, Prefill: *prefill, Ops: *ops, Duration: *duration}
		cfg.workloads = []bench.Workload{w}
	case *file != "":
		data, err := os.ReadFile(*file)
		if err != nil {
			return nil, usagef("-workload: %v", err)
		}
		// The flags' values fill what the file leaves out, and a flag
		// given explicitly overrides every workload of the file, as it
		// does the presets.
		def := bench.Workload{Keys: *keys, KeyType: *keyType, Distribution: *dist, ZipfS: *zipfS, ValueType: *valueType, ValueSize: *valueSize,
			Goroutines: *goroutines, Prefill: *prefill, Ops: *ops, Duration: *duration}
		ws, err := bench.ParseWorkloads(data, def)
		if err != nil {
			return nil, usagef("%s: %v", *file, err)
		}
		for i := range ws {
			override(&ws[i])
		}
		cfg.workloads = ws
	default:
		all := bench.Presets(*duration)
		for _, name := range strings.Split(*presets, ",") {
			i := slices.IndexFunc(all, func(w bench.Workload) bool { return w.Name == strings.TrimSpace(name) })
			if i < 0 {
				return nil, usagef("unknown preset %q in -preset (known: %s)", name, strings.Join(bench.PresetNames(), ", "))
			}
			if slices.ContainsFunc(cfg.workloads, func(w bench.Workload) bool { return w.Name == all[i].Name }) {
				continue // named twice: run once, as -impl does
			}
			w := all[i]
			override(&w)
			cfg.workloads = append(cfg.workloads, w)
		}
	}
	for i := range cfg.workloads {
		if err := cfg.workloads[i].Validate(); err != nil {
			return nil, usagef("%v", err)
		}
	}
	return cfg, nil
}

// runKey identifies the results of one workload, -cpu and implementation.
type runKey struct {
	workload string
	cpu      int
	impl     string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.color = isTerminal(stdout) && os.Getenv("NO_COLOR") == ""
	total := bench.Plan{Workloads: cfg.workloads, Impls: cfg.impls, CPUs: cfg.cpus, Rounds: cfg.rounds}.Runs()
	var estimate time.Duration
	for _, w := range cfg.workloads {
		estimate += w.Duration
	}
	estimate *= time.Duration(cfg.rounds * len(cfg.cpus) * len(cfg.impls))
	progress := newProgress(stderr, total, estimate > 2*time.Second && isTerminal(stderr))
	if err := checkMemory(cfg, stderr); err != nil {
		return err
	}

	// The warm-up and the interleaved rounds are bench's (RunPlan); a
	// round cut short by Ctrl-C is dropped, and the complete ones are
	// reported before the interruption is.
	plan := bench.Plan{Workloads: cfg.workloads, Impls: cfg.impls, CPUs: cfg.cpus, Rounds: cfg.rounds}
	rounds, interrupted := new(bench.Runner).RunPlan(ctx, plan, progress.step)
	if interrupted != nil && !errors.Is(interrupted, bench.ErrInterrupted) {
		return interrupted
	}
	progress.finish()
	results := map[runKey][]bench.Result{}
	for _, r := range rounds.Results {
		k := runKey{r.Workload, r.GOMAXPROCS, r.Impl}
		results[k] = append(results[k], r)
	}
	order, roundsDone := rounds.Results, rounds.Done

	rep := &report{cfg: cfg, results: results, order: order, rounds: roundsDone, machine: describeMachine()}
	var werr error
	switch cfg.format {
	case "json":
		werr = rep.writeJSON(stdout)
	case "benchfmt":
		werr = rep.writeBenchfmt(stdout)
	default:
		werr = rep.writeTable(stdout)
	}
	if werr != nil {
		return werr
	}
	if cfg.html != "" && roundsDone > 0 {
		if err := rep.writeHTMLFile(cfg.html); err != nil {
			return err
		}
	}
	if interrupted != nil {
		return interrupted
	}
	if failed := rep.failures(); len(failed) > 0 {
		return fmt.Errorf("correctness check failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// checkMemory refuses a run whose estimated peak memory exceeds what the
// machine or its cgroup has available, unless cfg.force; where the
// available memory cannot be read it says so on stderr and lets the run go.
func checkMemory(cfg *benchConfig, stderr io.Writer) error {
	est := bench.EstimateMemory(cfg.workloads, cfg.impls, slices.Max(cfg.cpus))
	avail, err := availableMemory()
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "mapguard bench: note: the run needs %s; %v, so it is not checked\n", est, err)
	case est.Peak <= avail.Bytes:
	case cfg.force:
		fmt.Fprintf(stderr, "mapguard bench: note: -force: the run needs %s, more than the %s available (%s)\n", est, bench.FormatBytes(avail.Bytes), avail.Source)
	default:
		return usagef("the run needs %s, more than the %s available (%s); lower -keys or -value-size, or give -force to run anyway",
			est, bench.FormatBytes(avail.Bytes), avail.Source)
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line progress bar on stderr for long runs.
type progress struct {
	w     io.Writer
	total int
	on    bool
	start time.Time
}

func newProgress(w io.Writer, total int, on bool) *progress {
	return &progress{w: w, total: total, on: on, start: time.Now()}
}

func (p *progress) step(done int, what string) {
	if !p.on {
		return
	}
	const width = 30
	filled := width * done / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %-60.60s", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, p.total, what)
}

func (p *progress) finish() {
	if p.on {
		fmt.Fprintf(p.w, "\r%-100s\r", "")
	}
}

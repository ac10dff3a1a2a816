package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/mapguard/mapguard/bench"
)

// workload is one row of the bench table.
type workload struct {
	name string
	run  func(b *testing.B, im bench.Impl)
}

// defaultWorkloads is the built-in workload set: the four operation mixes
// and the LoadOrStore hot path on size keys of the chosen kind.
func defaultWorkloads(keyKind string, size int) []workload {
	var ws []workload
	strs, ints := bench.StringKeys(size), bench.IntKeys(size)
	for _, mix := range bench.Mixes() {
		ws = append(ws, workload{mix.Name(), func(b *testing.B, im bench.Impl) {
			if keyKind == "int" {
				bench.RunMix(b, im.Ints(), ints, mix)
			} else {
				bench.RunMix(b, im.Strings(), strs, mix)
			}
		}})
	}
	ws = append(ws, workload{"loadorstore-hot", func(b *testing.B, im bench.Impl) {
		if keyKind == "int" {
			bench.RunLoadOrStoreHot(b, im.Ints(), ints)
		} else {
			bench.RunLoadOrStoreHot(b, im.Strings(), strs)
		}
	}})
	return ws
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 30*time.Second, "approximate total run time")
	keyKind := fs.String("keys", "string", "key type: string or int")
	size := fs.Int("size", 1<<16, "number of distinct keys (a power of two)")
	implList := fs.String("impls", strings.Join(bench.ImplNames(), ","), "comma-separated implementations to compare")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mapguard bench [flags]\n\n"+
			"Runs every workload on every implementation, in one process, and prints\n"+
			"ns/op with ratios against sync.Map and xsync.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments, got %q", fs.Args())
	}
	if *duration <= 0 {
		return usagef("-duration must be positive, got %v", *duration)
	}
	if *keyKind != "string" && *keyKind != "int" {
		return usagef("-keys must be string or int, got %q", *keyKind)
	}
	if *size < 16 || *size&(*size-1) != 0 {
		return usagef("-size must be a power of two of at least 16, got %d", *size)
	}
	impls, err := selectImpls(*implList)
	if err != nil {
		return err
	}

	workloads := defaultWorkloads(*keyKind, *size)
	// testing.Benchmark takes its target time from the -test.benchtime
	// flag; each run costs about 1.3x that with ramp-up and prefill.
	per := *duration / time.Duration(len(workloads)*len(impls)) * 10 / 13
	testing.Init()
	if err := flagSetBenchtime(per); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "mapguard bench: %d workloads x %d implementations, %s keys, %d keys, GOMAXPROCS=%d, %s %s/%s\n\n",
		len(workloads), len(impls), *keyKind, *size, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	results := make([][]float64, len(workloads))
	for i, w := range workloads {
		results[i] = make([]float64, len(impls))
		for j, im := range impls {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("interrupted: %w", err)
			}
			r := testing.Benchmark(func(b *testing.B) { w.run(b, im) })
			if r.N == 0 {
				return fmt.Errorf("benchmark %s on %s did not run", w.name, im.Name)
			}
			results[i][j] = float64(r.T.Nanoseconds()) / float64(r.N)
		}
	}
	return printTable(stdout, workloads, impls, results)
}

// selectImpls returns the implementations named in list, in Impls order.
func selectImpls(list string) ([]bench.Impl, error) {
	want := strings.Split(list, ",")
	var out []bench.Impl
	for _, im := range bench.Impls() {
		if slices.Contains(want, im.Name) {
			out = append(out, im)
		}
	}
	for _, name := range want {
		if !slices.Contains(bench.ImplNames(), name) {
			return nil, usagef("unknown implementation %q in -impls (known: %s)", name, strings.Join(bench.ImplNames(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, usagef("-impls names no implementation")
	}
	return out, nil
}

// printTable prints ns/op per workload and implementation, then each
// implementation's ratio to sync.Map and to xsync where those were run.
func printTable(w io.Writer, workloads []workload, impls []bench.Impl, ns [][]float64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	col := func(name string) int {
		return slices.IndexFunc(impls, func(im bench.Impl) bool { return im.Name == name })
	}
	base, xs, mg := col("syncmap"), col("xsync"), col("mapguard")
	fmt.Fprint(tw, "ns/op\t")
	for _, im := range impls {
		fmt.Fprintf(tw, "%s\t", im.Name)
	}
	if mg >= 0 && base >= 0 {
		fmt.Fprint(tw, "mapguard/syncmap\t")
	}
	if mg >= 0 && xs >= 0 {
		fmt.Fprint(tw, "mapguard/xsync\t")
	}
	fmt.Fprintln(tw)
	for i, wl := range workloads {
		fmt.Fprintf(tw, "%s\t", wl.name)
		for j := range impls {
			fmt.Fprintf(tw, "%.1f\t", ns[i][j])
		}
		if mg >= 0 && base >= 0 {
			fmt.Fprintf(tw, "%.2fx\t", ns[i][mg]/ns[i][base])
		}
		if mg >= 0 && xs >= 0 {
			fmt.Fprintf(tw, "%.2fx\t", ns[i][mg]/ns[i][xs])
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nRatios below 1.00x mean mapguard is faster. One run on a shared machine is noisy:"+
		"\nfor numbers to quote, use scripts/bench (interleaved rounds, benchstat).")
	return err
}

// flagSetBenchtime sets testing's -test.benchtime, registered by
// testing.Init, which testing.Benchmark reads.
func flagSetBenchtime(d time.Duration) error {
	if err := flag.Set("test.benchtime", d.String()); err != nil {
		return fmt.Errorf("setting benchmark time: %w", err)
	}
	return nil
}

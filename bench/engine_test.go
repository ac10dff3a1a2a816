package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/mapguard/mapguard/bench"
)

// TestEveryImplPassesEveryPreset runs each preset briefly on each
// implementation: the correctness check after the run must pass, and the
// run must have done some operations and sampled their latency.
func TestEveryImplPassesEveryPreset(t *testing.T) {
	d := 30 * time.Millisecond
	if testing.Short() {
		d = 10 * time.Millisecond
	}
	for _, w := range bench.Presets(d) {
		for _, impl := range bench.Names() {
			t.Run(w.Name+"/"+impl, func(t *testing.T) {
				w := w
				if impl == "readmostly" {
					w.Keys = min(w.Keys, 1024) // every write copies the map
				}
				res, err := bench.Run(context.Background(), impl, w)
				if err != nil {
					t.Fatal(err)
				}
				if res.Check != "" {
					t.Fatalf("correctness check: %s", res.Check)
				}
				if res.Ops == 0 || res.OpsPerSec <= 0 {
					t.Fatalf("no operations ran: %+v", res)
				}
				for op, pct := range w.Mix {
					// Every kind that ran gets sampled; a rare kind may not
					// have run at all in a short run.
					if float64(res.Ops)*float64(pct)/100 < 50 {
						continue
					}
					if q, ok := res.Latency[op]; pct > 0 && (!ok || q.Samples == 0 || q.P99 < q.P50) {
						t.Fatalf("latency of %s: %+v, present %v", op, q, ok)
					}
				}
				if w.Rangers > 0 && res.RangePasses == 0 {
					t.Fatalf("no Range pass finished in %v", d)
				}
			})
		}
	}
}

// TestCounterTableShowsInlineStorage runs the counter-table preset (int
// keys, int64 values) on mapguard and on xsync: mapguard.Map stores such
// entries inline, so its writes allocate nothing and its entries hold no
// pointers, while xsync allocates an entry per write. The xsync run is the
// control that shows the engine would see allocations.
func TestCounterTableShowsInlineStorage(t *testing.T) {
	var w bench.Workload
	for _, p := range bench.Presets(0) {
		if p.Name == "counter-table" {
			w = p
		}
	}
	if w.ValueType != "int" || w.KeyType != "int" {
		t.Fatalf("counter-table: key type %q, value type %q; want int, int", w.KeyType, w.ValueType)
	}
	w.Keys, w.Duration, w.Ops = 1<<14, 0, 200_000
	allocs := map[string]float64{}
	for _, impl := range []string{"mapguard", "xsync"} {
		res, err := bench.Run(context.Background(), impl, w)
		if err != nil {
			t.Fatal(err)
		}
		if res.Check != "" {
			t.Fatalf("%s: correctness check: %s", impl, res.Check)
		}
		allocs[impl] = res.AllocsPerOp
	}
	// Stores, deletes-then-stores and Computes are 30% of the mix: xsync
	// allocates an entry for each write.
	if allocs["mapguard"] > 0.01 || allocs["xsync"] < 0.1 {
		t.Errorf("allocations per operation: mapguard %.4f, xsync %.4f; want mapguard under 0.01 (inline storage) and xsync over 0.1", allocs["mapguard"], allocs["xsync"])
	}
}

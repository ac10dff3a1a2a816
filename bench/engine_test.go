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

package bench

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunStopsWithinASecondOfCancel cancels runs of large workloads as
// they enter each phase (Ctrl-C was ignored while a run made its keys and
// prefilled: a run of 30M keys sat in its warm-up for minutes). Run must
// return within a second, with an error that wraps ErrInterrupted and
// context.Canceled and names the phase.
func TestRunStopsWithinASecondOfCancel(t *testing.T) {
	defer func() { enterPhase = func(string) {} }()
	// Fewer keys under the race detector and for 32-bit -short runs, whose
	// phases are slow enough (or memory small enough); with -short on a
	// 64-bit machine, 1<<17 keys finish some phases before a 20 ms cancel.
	n := 1 << 20
	if raceEnabled || testing.Short() && strconv.IntSize == 32 {
		n = 1 << 17
	}
	base := Workload{Name: "large", Mix: map[string]int{"load": 100}, Keys: n, KeyType: "int", Distribution: "uniform", Prefill: 1, Duration: time.Hour}
	// One Runner for all: the first run makes the keys and values, so
	// that the later ones reach their prefill at once.
	r := new(Runner)
	warm := base
	warm.Duration, warm.Ops = 0, 1
	if _, err := r.Run(context.Background(), "mutex", warm); err != nil {
		t.Fatal(err)
	}
	ranges := base
	ranges.Mix = map[string]int{"range": 100}
	checked := base
	checked.Duration, checked.Ops = 0, 1
	for _, tc := range []struct {
		phase, impl string
		w           Workload
		r           *Runner
		after       time.Duration // from entering the phase to the cancel
	}{
		// Later than the others: the first allocations of a new heap can
		// stall for half a second on a sandboxed machine, in the runtime.
		{"making the keys", "syncmap", Workload{Name: "keys", Mix: base.Mix, Keys: 1 << 23, KeyType: "string", Distribution: "uniform", Duration: time.Hour}, new(Runner), 300 * time.Millisecond},
		{"making the values", "syncmap", base, new(Runner), 20 * time.Millisecond},
		{"prefilling", "syncmap", base, r, 20 * time.Millisecond},
		{"prefilling", "readmostly", base, r, 20 * time.Millisecond}, // one batch: one copy of the map
		{"running", "mapguard", ranges, r, 20 * time.Millisecond},    // Range passes over every key
		{"checking the final state", "shardedsync", checked, r, 20 * time.Millisecond},
	} {
		t.Run(tc.phase+"/"+tc.impl, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			entered := false
			cancelled := make(chan time.Time, 1)
			enterPhase = func(phase string) {
				if phase == tc.phase && !entered {
					entered = true
					// Cancel from outside, a little later, as Ctrl-C does.
					time.AfterFunc(tc.after, func() { cancelled <- time.Now(); cancel() })
				}
			}
			_, err := tc.r.Run(ctx, tc.impl, tc.w)
			returned := time.Now()
			// Wait for the run's goroutine to end before the hook changes.
			tc.r.mu.Lock()
			enterPhase = func(string) {}
			tc.r.mu.Unlock()
			if !entered {
				t.Fatalf("the run never entered %q (err %v)", tc.phase, err)
			}
			var took time.Duration
			select {
			case at := <-cancelled:
				took = returned.Sub(at)
			default:
				t.Fatalf("Run returned before the cancel: %v", err)
			}
			if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v; want ErrInterrupted and context.Canceled", err)
			}
			if took > time.Second {
				t.Fatalf("Run returned %v after the cancel; want within 1s (%v)", took, err)
			}
			// The error names the phase, unless the run's goroutine was
			// still stopping when Run returned (the collector can hold it).
			if !strings.Contains(err.Error(), tc.phase) && !strings.Contains(err.Error(), "collecting garbage") && !strings.Contains(err.Error(), "still stopping") {
				t.Errorf("error %q does not name the phase %q", err, tc.phase)
			}
			t.Logf("returned %v after the cancel: %v", took, err)
		})
	}
}

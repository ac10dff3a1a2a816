package bench_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mapguard/mapguard/bench"
)

func planWorkload(name string) bench.Workload {
	return bench.Workload{Name: name, Mix: map[string]int{"load": 80, "store": 20}, Keys: 64, KeyType: "int",
		Distribution: "uniform", Prefill: 0.5, Ops: 2000, Duration: time.Second}
}

// TestRunPlanInterleaves: each round runs every (GOMAXPROCS, workload,
// implementation) once, rounds one after another, the warm-up before
// them and not in the results; GOMAXPROCS is restored.
func TestRunPlanInterleaves(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	p := bench.Plan{Workloads: []bench.Workload{planWorkload("a"), planWorkload("b")}, Impls: []string{"syncmap", "mapguard"},
		CPUs: []int{1, 2}, Rounds: 2}
	var steps []string
	rounds, err := new(bench.Runner).RunPlan(context.Background(), p, func(done int, what string) {
		steps = append(steps, fmt.Sprintf("%d %s", done, what))
	})
	if err != nil {
		t.Fatal(err)
	}
	if rounds.Done != 2 || len(rounds.Results) != p.Runs() || p.Runs() != 16 {
		t.Fatalf("%d rounds, %d results; want 2 and %d", rounds.Done, len(rounds.Results), p.Runs())
	}
	i := 0
	for range 2 {
		for _, cpu := range p.CPUs {
			for _, w := range p.Workloads {
				for _, impl := range p.Impls {
					r := rounds.Results[i]
					if r.GOMAXPROCS != cpu || r.Workload != w.Name || r.Impl != impl || r.Check != "" {
						t.Errorf("result %d: %s on %s at %d (check %q); want %s on %s at %d", i, r.Workload, r.Impl, r.GOMAXPROCS, r.Check, w.Name, impl, cpu)
					}
					i++
				}
			}
		}
	}
	// 4 warm-up steps (at 0 done), then one per run, counting up.
	if len(steps) != 4+16 || !strings.HasPrefix(steps[0], "0 warm-up: a on syncmap") || steps[4] != "0 round 1/2: a on syncmap, -cpu 1" || steps[19] != "15 round 2/2: b on mapguard, -cpu 2" {
		t.Errorf("steps: %q", steps)
	}
	if got := runtime.GOMAXPROCS(0); got != prev {
		t.Errorf("GOMAXPROCS %d after the plan; was %d", got, prev)
	}
}

// TestRunPlanInterruptedDropsTheRound: a context done during round 2
// returns round 1's results and an error naming round 2 that wraps
// ErrInterrupted; done during the warm-up, no results.
func TestRunPlanInterruptedDropsTheRound(t *testing.T) {
	p := bench.Plan{Workloads: []bench.Workload{planWorkload("a")}, Impls: []string{"syncmap", "mapguard"}, Rounds: 3}
	for _, tc := range []struct {
		at, phase string
		done      int
	}{
		{"round 2/3: a on mapguard", "round 2", 1},
		{"warm-up: a on mapguard", "the warm-up", 0},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		rounds, err := new(bench.Runner).RunPlan(ctx, p, func(_ int, what string) {
			if strings.HasPrefix(what, tc.at) {
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, bench.ErrInterrupted) || !strings.Contains(err.Error(), "interrupted during "+tc.phase) {
			t.Errorf("cancelled at %q: %v; want ErrInterrupted during %s", tc.at, err, tc.phase)
		}
		if rounds.Done != tc.done || len(rounds.Results) != tc.done*2 {
			t.Errorf("cancelled at %q: %d rounds, %d results; want %d complete rounds only", tc.at, rounds.Done, len(rounds.Results), tc.done)
		}
	}
}

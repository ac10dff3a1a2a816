package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Plan is a side-by-side comparison: every workload on every
// implementation at every GOMAXPROCS setting, repeated in rounds.
type Plan struct {
	Workloads []Workload
	Impls     []string
	// CPUs are the GOMAXPROCS settings; empty means the current one.
	CPUs   []int
	Rounds int
}

// Runs returns the number of runs of a plan (warm-up excluded).
func (p Plan) Runs() int {
	return p.Rounds * max(len(p.CPUs), 1) * len(p.Workloads) * len(p.Impls)
}

// Rounds is what RunPlan measured.
type Rounds struct {
	// Results are the runs' results in the order they ran, of complete
	// rounds only.
	Results []Result
	// Done is the number of complete rounds.
	Done int
}

// RunPlan warms up, then runs p's rounds, and returns the results of
// every complete round.
//
// The warm-up runs every workload on every implementation briefly (a
// fifth of its duration, at most 100 ms) and discards the results, so
// that the first round does not pay alone for page faults, the GC
// pacer's start and the CPU's frequency ramp-up. Each round then runs
// every (GOMAXPROCS, workload, implementation) once, in that order:
// interleaving the rounds spreads the machine's drift (other load,
// thermal throttling) over all implementations instead of favouring the
// ones measured first. GOMAXPROCS is restored before RunPlan returns.
//
// step, if not nil, is called before each run with the number of
// measured runs done so far and what runs next (for progress).
//
// When ctx is done the round under way is dropped, and RunPlan returns
// the complete rounds with an error that wraps ErrInterrupted and names
// the phase (the warm-up or round N). Any other error of a run is
// returned at once, without results.
func (r *Runner) RunPlan(ctx context.Context, p Plan, step func(done int, what string)) (Rounds, error) {
	if step == nil {
		step = func(int, string) {}
	}
	cpus := p.CPUs
	if len(cpus) == 0 {
		cpus = []int{runtime.GOMAXPROCS(0)}
	}
	interrupted := func(phase string, done int, err error) error {
		return fmt.Errorf("interrupted during %s, after %d of %d rounds: %w", phase, done, p.Rounds, err)
	}
	for _, w := range p.Workloads {
		wu := w
		wu.Duration, wu.Ops = min(w.Duration/5, 100*time.Millisecond), 0
		if wu.Duration <= 0 {
			wu.Duration = 10 * time.Millisecond
		}
		for _, impl := range p.Impls {
			step(0, fmt.Sprintf("warm-up: %s on %s", w.Name, impl))
			if _, err := r.Run(ctx, impl, wu); err != nil {
				if errors.Is(err, ErrInterrupted) {
					return Rounds{}, interrupted("the warm-up", 0, err)
				}
				return Rounds{}, err
			}
		}
	}

	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var out Rounds
	for round := range p.Rounds {
		var this []Result
		for _, cpu := range cpus {
			runtime.GOMAXPROCS(cpu)
			for _, w := range p.Workloads {
				for _, impl := range p.Impls {
					step(len(out.Results)+len(this), fmt.Sprintf("round %d/%d: %s on %s, -cpu %d", round+1, p.Rounds, w.Name, impl, cpu))
					res, err := r.Run(ctx, impl, w)
					if err != nil {
						if errors.Is(err, ErrInterrupted) {
							return out, interrupted(fmt.Sprintf("round %d", round+1), out.Done, err)
						}
						return Rounds{}, err
					}
					this = append(this, res)
				}
			}
		}
		out.Results = append(out.Results, this...)
		out.Done++
	}
	return out, nil
}

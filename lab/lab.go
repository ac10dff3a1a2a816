// Package lab puts the Go map pitfalls that blog posts repeat to the test:
// each claim is a scenario that runs, in its own process, on the Go version
// at hand, and a verdict computed from what the runs measured.
//
// A scenario's child code may crash the process (the runtime's "fatal
// error: concurrent map writes" cannot be recovered), so the parent never
// runs it itself: it re-executes a binary in child mode (see ChildMain),
// reads the measurements the child prints, and records how it exited.
package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Verdict is what the evidence says about a claim.
type Verdict string

// The verdicts.
const (
	Confirmed    Verdict = "confirmed"
	Refuted      Verdict = "refuted"
	Partly       Verdict = "partly"       // true only under a condition the evidence names
	Outdated     Verdict = "outdated"     // the structure or behaviour it describes no longer exists
	Inconclusive Verdict = "inconclusive" // the runs did not produce the evidence needed
)

// Run is the outcome of one child process.
type Run struct {
	Variant  string `json:"variant"`
	ExitCode int    `json:"exit_code"`
	// Fatal is the runtime's fatal error line ("fatal error: ..."), if
	// the process died of one; Panic the first panic line.
	Fatal    string `json:"fatal,omitempty"`
	Panic    string `json:"panic,omitempty"`
	TimedOut bool   `json:"timed_out,omitempty"`
	// Race is set for runs of a binary built with -race, and
	// RaceReported when the detector printed a report.
	Race         bool `json:"race,omitempty"`
	RaceReported bool `json:"race_reported,omitempty"`
	// Metrics and Notes are what the child measured.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Notes   map[string]string  `json:"notes,omitempty"`
}

// Crashed reports whether the process died of a runtime fatal error or
// an unrecovered panic.
func (r Run) Crashed() bool { return r.Fatal != "" || r.Panic != "" }

// Evidence is every run of one scenario, by variant.
type Evidence struct {
	GoVersion string
	Runs      []Run
}

// Of returns the runs of variant, race-built runs excluded.
func (e Evidence) Of(variant string) []Run {
	var out []Run
	for _, r := range e.Runs {
		if r.Variant == variant && !r.Race {
			out = append(out, r)
		}
	}
	return out
}

// CrashRate returns the fraction of runs of variant that died with a
// fatal error containing text, and how many runs there were.
func (e Evidence) CrashRate(variant, text string) (rate float64, n int) {
	runs := e.Of(variant)
	c := 0
	for _, r := range runs {
		if strings.Contains(r.Fatal, text) {
			c++
		}
	}
	if len(runs) == 0 {
		return 0, 0
	}
	return float64(c) / float64(len(runs)), len(runs)
}

// Median returns the median of metric over the runs of variant that
// reported it, and whether any did.
func (e Evidence) Median(variant, metric string) (float64, bool) {
	var xs []float64
	for _, r := range e.Of(variant) {
		if v, ok := r.Metrics[metric]; ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	slices.Sort(xs)
	return xs[len(xs)/2], true
}

// Note returns a note of the first run of variant that has it.
func (e Evidence) Note(variant, key string) string {
	for _, r := range e.Of(variant) {
		if v, ok := r.Notes[key]; ok {
			return v
		}
	}
	return ""
}

// Scenario is one claim and the experiment that tests it.
type Scenario struct {
	ID      int
	Name    string // a slug for -scenario
	Claim   string // the claim as commonly made
	Instead string // what to do instead
	// Variants are the conditions the experiment compares; each runs
	// Runs times (ShortRuns in short mode).
	Variants        []string
	Runs, ShortRuns int
	// MinRuns is the fewest runs of each variant a verdict needs: with
	// fewer, Verdict answers Inconclusive. Runs is at least MinRuns.Runs;
	// ShortRuns may be less, and -short then trades the verdict for time.
	MinRuns Minimum
	Timeout time.Duration
	// Race asks for an extra run of each variant built with -race.
	Race bool
	// Env, if set, returns settings ("GODEBUG=madvdontneed=0") to add to
	// the environment of variant's child: settings the runtime reads
	// only when a process starts.
	Env func(variant string) []string
	// Child runs one variant inside the child process and records
	// measurements in out. It may crash the process: that is evidence.
	Child func(variant string, short bool, out *Output)
	// Judge computes the verdict and the evidence text from the runs,
	// however many there are; Verdict calls it once there are enough.
	Judge func(e Evidence) (Verdict, string)
}

// Minimum is the fewest runs of each variant a verdict needs, and why.
type Minimum struct {
	Runs int
	Why  string // what that many runs tell apart, for the evidence
}

// The minimums. A claim about how often something happens ("crashes
// every time", "never crashes") is judged from n runs that came out
// alike, and n alike is evidence only when it would be unlikely from a
// process that does it merely often. The lab takes "often" to be half the
// time and accepts a 5% chance of mistaking it for "every time" or
// "never": n alike has probability 0.5^n under "often", at most 0.05 from
// n = 5 (4 runs alike happen 1 time in 16 by luck).
const (
	often        = 0.5
	significance = 0.05
)

var (
	// crashRuns is for claims judged by how often the runs crash.
	crashRuns = Minimum{fewestRuns(often, significance), fmt.Sprintf("telling \"every time\" and \"never\" from \"half the time\" with %.0f%% confidence", 100*(1-significance))}
	// timingRuns is for claims judged by a median time or rate: the
	// median of 3 runs is the middle one, so one run slowed down by
	// something else on the machine cannot set the verdict.
	timingRuns = Minimum{3, "a median that one disturbed run cannot set"}
	// oneRun is for claims whose measurement does not vary from run to
	// run beyond the verdict's margins (a struct's fields, a count of
	// collected objects, live heap after forced GCs, a deterministic
	// hash), or where one run that provokes the event decides the claim.
	oneRun = Minimum{1, "any verdict"}
)

// fewestRuns returns the fewest runs n for which n runs alike have
// probability at most alpha when each run does it with probability p
// (or fails to with probability p): p^n <= alpha.
func fewestRuns(p, alpha float64) int {
	return int(math.Ceil(math.Log(alpha)/math.Log(p) - 1e-9))
}

// Verdict judges the evidence with s.Judge, unless a variant has fewer
// than s.MinRuns runs (race-built runs aside): the verdict is then
// Inconclusive, and the evidence gives the number of runs, the number a
// verdict needs, and what the runs showed.
func (s Scenario) Verdict(e Evidence) (Verdict, string) {
	least := -1
	for _, v := range s.Variants {
		if n := len(e.Of(v)); least < 0 || n < least {
			least = n
		}
	}
	v, ev := s.Judge(e)
	if least >= s.MinRuns.Runs {
		return v, ev
	}
	per := ""
	if len(s.Variants) > 1 {
		per = " per variant"
	}
	return Inconclusive, fmt.Sprintf("too few runs: %d%s, and %s takes %d (-runs %d); the runs showed: %s",
		least, per, s.MinRuns.Why, s.MinRuns.Runs, s.MinRuns.Runs, ev)
}

// plural returns "1 run", "2 runs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Output is what a child reports to its parent.
type Output struct {
	Metrics map[string]float64 `json:"metrics"`
	Notes   map[string]string  `json:"notes"`
}

// Set records a measurement.
func (o *Output) Set(name string, v float64) { o.Metrics[name] = v }

// Note records a text observation.
func (o *Output) Note(name, v string) { o.Notes[name] = v }

// resultPrefix marks the child's result line on its standard output.
const resultPrefix = "MAPGUARD-LAB-RESULT "

// Result is a scenario's verdict and the runs behind it.
type Result struct {
	ID        int     `json:"id"`
	Name      string  `json:"name"`
	Claim     string  `json:"claim"`
	Verdict   Verdict `json:"verdict"`
	Evidence  string  `json:"evidence"`
	Instead   string  `json:"instead"`
	GoVersion string  `json:"go_version"`
	Runs      []Run   `json:"runs"`
	// RaceNote says what the -race runs showed, or why there were none.
	RaceNote string `json:"race_note,omitempty"`
}

// Launcher starts a child process for one run: it returns the command
// that runs scenario id's variant in child mode.
type Launcher func(ctx context.Context, id int, variant string, short bool) *exec.Cmd

// Options configure Run.
type Options struct {
	Short bool
	Runs  int // overrides every scenario's run count when > 0
	// Launch starts normal runs; RaceLaunch, if set, starts runs of a
	// binary built with -race, and RaceSkip says why there is none.
	Launch     Launcher
	RaceLaunch Launcher
	RaceSkip   string
}

// RunScenario runs every variant of s in child processes and judges.
func RunScenario(ctx context.Context, s Scenario, o Options) (Result, error) {
	res := Result{ID: s.ID, Name: s.Name, Claim: s.Claim, Instead: s.Instead, GoVersion: runtime.Version()}
	n := s.Runs
	if o.Short {
		n = s.ShortRuns
	}
	if o.Runs > 0 {
		n = o.Runs
	}
	for _, v := range s.Variants {
		for range n {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.Runs = append(res.Runs, runChild(ctx, s.command(o.Launch(ctx, s.ID, v, o.Short), v), s.Timeout, v, false))
		}
	}
	if s.Race {
		switch {
		case o.RaceLaunch == nil:
			res.RaceNote = "no -race run: " + o.RaceSkip
		default:
			flagged, total, flaggedAlive := 0, 0, 0
			for _, v := range s.Variants {
				r := runChild(ctx, s.command(o.RaceLaunch(ctx, s.ID, v, o.Short), v), s.Timeout*3, v, true)
				res.Runs = append(res.Runs, r)
				total++
				if r.RaceReported {
					flagged++
					if r.Fatal == "" {
						flaggedAlive++
					}
				}
			}
			res.RaceNote = fmt.Sprintf("the race detector reported a data race in %d of %s, %d of them in runs that did not crash", flagged, plural(total, "-race run"), flaggedAlive)
		}
	}
	res.Verdict, res.Evidence = s.Verdict(Evidence{GoVersion: res.GoVersion, Runs: res.Runs})
	return res, nil
}

// command adds the scenario's environment for variant to cmd.
func (s Scenario) command(cmd *exec.Cmd, variant string) *exec.Cmd {
	if s.Env != nil {
		// The last of duplicate keys wins: the scenario's settings
		// replace the parent's.
		cmd.Env = append(cmd.Environ(), s.Env(variant)...)
	}
	return cmd
}

// runChild runs cmd with a timeout and decodes what happened.
func runChild(ctx context.Context, cmd *exec.Cmd, timeout time.Duration, variant string, race bool) Run {
	r := Run{Variant: variant, Race: race}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		r.ExitCode = -1
		r.Panic = "could not start the child: " + err.Error()
		return r
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		cmd.Process.Kill()
		err = <-done
		r.TimedOut = true
	case <-ctx.Done():
		cmd.Process.Kill()
		err = <-done
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.ExitCode = ee.ExitCode()
	}
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "fatal error: ") && r.Fatal == "":
			r.Fatal = line
		case strings.HasPrefix(line, "panic: ") && r.Panic == "":
			r.Panic = line
		case strings.Contains(line, "WARNING: DATA RACE"):
			r.RaceReported = true
		}
	}
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
			var out Output
			if json.Unmarshal([]byte(rest), &out) == nil {
				r.Metrics, r.Notes = out.Metrics, out.Notes
			}
		}
	}
	return r
}

// Scenarios returns every scenario, in claim order.
func Scenarios() []Scenario { return slices.Clone(scenarios) }

// Lookup returns the scenario with the given ID or name.
func Lookup(idOrName string) (Scenario, bool) {
	for _, s := range scenarios {
		if s.Name == idOrName || fmt.Sprint(s.ID) == idOrName {
			return s, true
		}
	}
	return Scenario{}, false
}

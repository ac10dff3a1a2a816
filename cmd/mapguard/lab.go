package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapguard/mapguard/lab"
)

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("scenario", "", "comma-separated scenario IDs or names to run (default: all)")
	runs := fs.Int("runs", 0, "runs per scenario variant (default: each scenario's own; fewer than a claim's verdict needs make it inconclusive)")
	short := fs.Bool("short", false, shortUsage(lab.Scenarios()))
	asJSON := fs.Bool("json", false, "print JSON results")
	md := fs.Bool("md", false, "print a Markdown report (docs/pitfalls.md is one)")
	race := fs.String("race", "auto", "auto: also run the race-relevant scenarios built with -race when a Go toolchain can build them; off: never")
	// -child and -variant are how the lab re-executes itself as a
	// scenario's child; -h leaves them out.
	child := fs.Int("child", 0, "internal: run scenario N's child")
	variant := fs.String("variant", "", "internal: the child's variant")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mapguard lab [flags]\n\n"+
			"Runs each claim about Go maps as an experiment in its own process and prints a\n"+
			"verdict computed from the measurements, with the evidence and what to do instead.\n"+
			"A variant run fewer times than its claim's verdict needs makes the verdict\n"+
			"inconclusive.\n\nscenarios:\n")
		for _, s := range lab.Scenarios() {
			fmt.Fprintf(stderr, "  %2d %-22s %s per variant (-short %d); a verdict needs %d\n", s.ID, s.Name, labPlural(s.Runs, "run"), s.ShortRuns, s.MinRuns.Runs)
		}
		fmt.Fprintf(stderr, "\nflags:\n")
		printPublicDefaults(fs, stderr, "child", "variant")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if *child != 0 {
		// Returning rather than exiting lets main write the child's CPU
		// profile (MAPGUARD_CPUPROFILE_DIR).
		if err := lab.RunChild(*child, *variant, *short, stdout); err != nil {
			return fmt.Errorf("lab child: %w", err)
		}
		return nil
	}
	if fs.NArg() > 0 {
		return usagef("lab takes no arguments, got %q", fs.Args())
	}
	if *runs < 0 {
		return usagef("-runs must not be negative, got %d", *runs)
	}
	if *race != "auto" && *race != "off" {
		return usagef("-race must be auto or off, got %q", *race)
	}
	if *asJSON && *md {
		return usagef("-json and -md are exclusive")
	}
	var selected []lab.Scenario
	if *only == "" {
		selected = lab.Scenarios()
	} else {
		for _, name := range strings.Split(*only, ",") {
			s, ok := lab.Lookup(strings.TrimSpace(name))
			if !ok {
				return usagef("unknown scenario %q (see mapguard lab -h)", name)
			}
			selected = append(selected, s)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab: finding this binary to run the scenarios: %w", err)
	}
	opts := lab.Options{Short: *short, Runs: *runs, Launch: func(ctx context.Context, id int, v string, short bool) *exec.Cmd {
		a := []string{"lab", "-child", strconv.Itoa(id), "-variant", v}
		if short {
			a = append(a, "-short")
		}
		return exec.CommandContext(ctx, self, a...)
	}}
	if *race == "off" {
		opts.RaceSkip = "-race off"
	} else {
		bin, why, cleanup := buildRaceChild(ctx)
		defer cleanup()
		if bin == "" {
			opts.RaceSkip = why
		} else {
			opts.RaceLaunch = func(ctx context.Context, id int, v string, short bool) *exec.Cmd {
				a := []string{"-scenario", strconv.Itoa(id), "-variant", v}
				if short {
					a = append(a, "-short")
				}
				return exec.CommandContext(ctx, bin, a...)
			}
		}
	}
	var results []lab.Result
	for _, s := range selected {
		if isTerminal(stderr) {
			fmt.Fprintf(stderr, "\rrunning %d %s...%20s", s.ID, s.Name, "")
		}
		res, err := lab.RunScenario(ctx, s, opts)
		if err != nil {
			return fmt.Errorf("lab: scenario %d: %w", s.ID, err)
		}
		results = append(results, res)
	}
	if isTerminal(stderr) {
		fmt.Fprintf(stderr, "\r%60s\r", "")
	}
	m := describeMachine()
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Machine machine      `json:"machine"`
			Date    string       `json:"date"`
			Results []lab.Result `json:"results"`
		}{m, time.Now().UTC().Format(time.DateOnly), results})
	case *md:
		return writeLabMarkdown(stdout, m, results)
	}
	return writeLabText(stdout, m, results)
}

// buildRaceChild builds the lab child with -race, returning its path, or
// why it could not, and a cleanup.
func buildRaceChild(ctx context.Context) (bin, why string, cleanup func()) {
	cleanup = func() {}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "no Go toolchain in PATH to build the scenarios with -race", cleanup
	}
	dir, err := os.MkdirTemp("", "mapguard-lab-race")
	if err != nil {
		return "", err.Error(), cleanup
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "labchild")
	cmd := exec.CommandContext(ctx, goBin, "build", "-race", "-o", bin, "github.com/mapguard/mapguard/lab/labchild")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("building the scenarios with -race failed (run from the mapguard module, with cgo): %s", strings.TrimSpace(string(out))), cleanup
	}
	return bin, "", cleanup
}

func writeLabText(w io.Writer, m machine, results []lab.Result) error {
	fmt.Fprintf(w, "mapguard lab: %s about Go maps and the runtime, tested on %s %s/%s (%s, %s)\n", labPlural(len(results), "claim"), m.GoVersion, m.GOOS, m.GOARCH, m.CPU, labPlural(m.Cores, "core"))
	for _, r := range results {
		fmt.Fprintf(w, "\n%2d. %s: %s\n", r.ID, r.Name, strings.ToUpper(string(r.Verdict)))
		fmt.Fprintf(w, "    claim:    %s\n", r.Claim)
		fmt.Fprintf(w, "    evidence: %s (%s)\n", r.Evidence, labRuns(r))
		if r.RaceNote != "" {
			fmt.Fprintf(w, "    race:     %s\n", r.RaceNote)
		}
		fmt.Fprintf(w, "    instead:  %s\n", r.Instead)
	}
	return nil
}

func writeLabMarkdown(w io.Writer, m machine, results []lab.Result) error {
	fmt.Fprintf(w, "# Go map pitfalls, measured\n\nGenerated by `go run ./cmd/mapguard lab -md` on %s with %s %s/%s (%s, %s).\n"+
		"Each claim ran as an experiment in its own process; the verdict is computed from the measurements\n"+
		"(`lab/scenarios.go` and `lab/runtime_scenarios.go` state the thresholds). Rerun it on your Go version: the verdicts can change.\n\n",
		time.Now().UTC().Format(time.DateOnly), m.GoVersion, m.GOOS, m.GOARCH, m.CPU, labPlural(m.Cores, "core"))
	fmt.Fprintf(w, "| # | claim | verdict |\n|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(w, "| %d | %s | **%s** |\n", r.ID, mdEscape(r.Claim), r.Verdict)
	}
	for _, r := range results {
		fmt.Fprintf(w, "\n## %d. %s: %s\n\n> %s\n\n**Evidence** (%s): %s\n\n", r.ID, r.Name, r.Verdict, r.Claim, labRuns(r), r.Evidence)
		for _, run := range r.Runs {
			if run.Fatal != "" {
				fmt.Fprintf(w, "The runtime's words: `%s`\n\n", run.Fatal)
				break
			}
		}
		if r.RaceNote != "" {
			fmt.Fprintf(w, "**Race detector:** %s.\n\n", r.RaceNote)
		}
		fmt.Fprintf(w, "**Instead:** %s\n", r.Instead)
	}
	return nil
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// shortUsage says what -short trades: the claims whose verdict needs more
// runs than -short gives them come out inconclusive.
func shortUsage(scenarios []lab.Scenario) string {
	var ids []string
	need := 0
	for _, s := range scenarios {
		if s.ShortRuns < s.MinRuns.Runs {
			ids = append(ids, strconv.Itoa(s.ID))
			need = max(need, s.MinRuns.Runs)
		}
	}
	u := "quick: a tenth of the sizes and durations and fewer runs, as the tests use"
	if len(ids) > 0 {
		u += fmt.Sprintf("; it trades verdicts for time: claims %s get too few runs and come out inconclusive (-short -runs %d judges them, on the smaller sizes)", strings.Join(ids, ", "), need)
	}
	return u
}

// printPublicDefaults prints fs's flags as PrintDefaults does, less the
// hidden ones.
func printPublicDefaults(fs *flag.FlagSet, w io.Writer, hidden ...string) {
	public := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	public.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(hidden, f.Name) {
			public.Var(f.Value, f.Name, f.Usage)
			public.Lookup(f.Name).DefValue = f.DefValue // the default, not the value parsed so far
		}
	})
	public.PrintDefaults()
}

// labRuns counts a result's runs: "10 runs", or "2 runs and 1 -race run".
func labRuns(r lab.Result) string {
	n, race := 0, 0
	for _, run := range r.Runs {
		if run.Race {
			race++
		} else {
			n++
		}
	}
	if race == 0 {
		return labPlural(n, "run")
	}
	return labPlural(n, "run") + " and " + labPlural(race, "-race run")
}

// labPlural returns "1 claim", "2 claims".
func labPlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

package lab_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mapguard/mapguard/lab"
)

// TestMain runs a scenario's child when the test binary is re-executed as
// one.
func TestMain(m *testing.M) {
	if spec := os.Getenv("MAPGUARD_LAB_CHILD"); spec != "" {
		parts := strings.SplitN(spec, ":", 3)
		id, _ := strconv.Atoi(parts[0])
		lab.ChildMain(id, parts[1], parts[2] == "short")
	}
	os.Exit(m.Run())
}

// launcher re-executes this test binary in child mode.
func launcher(ctx context.Context, id int, variant string, short bool) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	mode := "long"
	if short {
		mode = "short"
	}
	cmd.Env = append(os.Environ(), fmt.Sprintf("MAPGUARD_LAB_CHILD=%d:%s:%s", id, variant, mode))
	return cmd
}

// TestScenariosRun runs every scenario in short mode in child processes:
// each must produce runs, a verdict and evidence.
func TestScenariosRun(t *testing.T) {
	_, err := exec.LookPath("go")
	haveGo := err == nil // claim 14 builds a program
	for _, s := range lab.Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			res, err := lab.RunScenario(context.Background(), s, lab.Options{Short: true, Runs: 1, Launch: launcher, RaceSkip: "not in tests"})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Runs) != len(s.Variants) {
				t.Fatalf("%d runs; want one per variant (%d)", len(res.Runs), len(s.Variants))
			}
			for _, r := range res.Runs {
				if r.TimedOut {
					t.Fatalf("run of %s timed out", r.Variant)
				}
				if !r.Crashed() && r.Metrics == nil && !r.RaceReported {
					t.Fatalf("run of %s exited %d with no measurements and no crash", r.Variant, r.ExitCode)
				}
				// The runtime claims measure with Linux's /proc and
				// getrusage, and claim 14 builds with the go command:
				// where they can, they must, and a child that could not
				// says why.
				if msg := r.Notes["error"]; msg != "" && runtime.GOOS == "linux" && (s.Name != "pgo" || haveGo) {
					t.Fatalf("run of %s could not measure: %s", r.Variant, msg)
				}
			}
			if res.Verdict == "" || res.Evidence == "" || res.Instead == "" {
				t.Fatalf("incomplete result: %+v", res)
			}
			t.Logf("%s: %s", res.Verdict, res.Evidence)
		})
	}
}

// TestCrashIsRecorded checks that a child's fatal error is captured
// with its text: scenario 3 crashes almost always; run it until it does.
func TestCrashIsRecorded(t *testing.T) {
	s, _ := lab.Lookup("read-while-write")
	for range 5 {
		res, err := lab.RunScenario(context.Background(), s, lab.Options{Short: true, Runs: 1, Launch: launcher})
		if err != nil {
			t.Fatal(err)
		}
		if r := res.Runs[0]; r.Fatal != "" {
			if !strings.Contains(r.Fatal, "concurrent map") || r.ExitCode == 0 {
				t.Fatalf("fatal %q, exit %d", r.Fatal, r.ExitCode)
			}
			return
		}
	}
	t.Skip("the race did not crash the child in 5 runs (possible under -race, which changes scheduling)")
}

// TestRaceNoteCounts runs a race-relevant scenario once with a "-race"
// launcher (this test binary, which is enough to count): the note counts
// its one -race run in the singular.
func TestRaceNoteCounts(t *testing.T) {
	s, _ := lab.Lookup("syncmap-range-store")
	res, err := lab.RunScenario(context.Background(), s, lab.Options{Short: true, Runs: 1, Launch: launcher, RaceLaunch: launcher})
	if err != nil {
		t.Fatal(err)
	}
	if want := "of 1 -race run,"; !strings.Contains(res.RaceNote, want) {
		t.Errorf("race note %q lacks %q", res.RaceNote, want)
	}
}

package rollout_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

// childEnv names the file a child process started by
// TestFileSinkKilledMidWrite writes to, and its run number.
const childEnv = "ROLLOUT_TEST_FILESINK_CHILD"

// TestMain makes this test binary a FileSink writer when a test starts
// it as one: it appends events "r<run>-<i>" for i = 0, 1, ... until it is
// killed, never flushing, so the sink's buffer goes to the file whenever
// it fills, cut wherever the buffer ends.
func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		run, path, _ := strings.Cut(v, ":")
		s, err := rollout.NewFileSink(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("repaired", s.Repaired())
		for i := 0; ; i++ {
			e := event(i)
			e.Unit = "r" + run + "-" + strconv.Itoa(i)
			if err := s.Emit(context.Background(), e); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	os.Exit(m.Run())
}

// TestFileSinkKilledMidWrite kills (SIGKILL) a process writing through a
// FileSink five times, each run appending to the same file. After each
// kill the file has at most one torn line, its last, which ScanEvents
// counts as torn and skips; each run's events are a prefix of what it
// emitted (none lost in the middle, none twice); the next run ends the
// torn line, so it stays one malformed line and no event of the new run
// is damaged. A last, clean run closes the file with no torn line.
func TestFileSinkKilledMidWrite(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const kills = 5
	torn := 0         // torn lines left by the runs so far
	lastTorn := false // whether the file ends without a newline
	for run := range kills {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(run)+":"+path)
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it at some point after it has written a few buffers.
		start, _ := os.Stat(path)
		var before int64
		if start != nil {
			before = start.Size()
		}
		want := before + int64(20_000+run*7_919)
		deadline := time.Now().Add(20 * time.Second)
		for {
			fi, err := os.Stat(path)
			if err == nil && fi.Size() >= want {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("run %d: the writer did not write %d bytes in 20 s; it printed %q", run, want-before, out.String())
			}
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if lastTorn != strings.Contains(out.String(), "repaired true") {
			t.Errorf("run %d: the sink said %q; the file it opened ended without a newline: %v", run, out.String(), lastTorn)
		}

		st, runs := scanRuns(t, path)
		if st.Torn > 1 {
			t.Fatalf("after kill %d: %d torn lines; want at most 1", run, st.Torn)
		}
		// Every earlier torn line was ended by the next run: one
		// malformed line each, and nothing else malformed.
		if st.Malformed != torn {
			t.Fatalf("after kill %d: %d malformed lines (%v); want the %d torn lines earlier runs left", run, st.Malformed, st.First, torn)
		}
		for r := 0; r <= run; r++ {
			if runs[r] == 0 {
				t.Fatalf("after kill %d: run %d wrote no event", run, r)
			}
		}
		t.Logf("kill %d after at least %d bytes: %d events, torn last line: %v", run, want, st.Events, st.Torn == 1)
		torn += st.Torn
		// The file ends without a newline when the kill tore a line,
		// and also when the buffer happened to end just before one: then
		// the last line is a whole event, not torn.
		lastTorn = endsUnterminated(t, path)
		if st.Torn == 1 && !lastTorn {
			t.Fatalf("after kill %d: ScanEvents says the last line is torn, but the file ends with a newline", run)
		}
	}

	s, err := rollout.NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Repaired() != lastTorn {
		t.Errorf("Repaired() = %v; the file ended without a newline: %v", s.Repaired(), lastTorn)
	}
	for i := range 10 {
		e := event(i)
		e.Unit = "r" + strconv.Itoa(kills) + "-" + strconv.Itoa(i)
		s.Emit(context.Background(), e)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, runs := scanRuns(t, path)
	if st.Torn != 0 || st.Malformed != torn || runs[kills] != 10 {
		t.Fatalf("after a clean run: %+v, clean run's events %d; want no torn line, the %d ended torn lines malformed, 10 events", st, runs[kills], torn)
	}
}

// endsUnterminated says whether the file at path ends without a newline.
func endsUnterminated(t *testing.T, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(b) > 0 && b[len(b)-1] != '\n'
}

// scanRuns scans the file with ScanEvents and checks that every run's
// events are "r<run>-0" up to "r<run>-<n-1>" in order, returning the
// stats and each run's n.
func scanRuns(t *testing.T, path string) (rollout.ScanStats, map[int]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runs := map[int]int{}
	st, err := rollout.ScanEvents(f, func(e rollout.Event) error {
		r, i, ok := strings.Cut(strings.TrimPrefix(e.Unit, "r"), "-")
		run, err1 := strconv.Atoi(r)
		n, err2 := strconv.Atoi(i)
		if !ok || err1 != nil || err2 != nil || n != runs[run] {
			t.Fatalf("event %q after %d events of run %s: not the next event of its run", e.Unit, runs[run], r)
		}
		runs[run]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, runs
}

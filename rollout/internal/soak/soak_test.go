package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

// soakChildEnv, when set, makes the test binary the soak command itself,
// its arguments the soak's, so that a test runs the soak in a process of
// its own (whose RSS at start is the soak's, not what earlier tests left).
const soakChildEnv = "MAPGUARD_SOAK_TEST_AS_COMMAND"

// TestMain makes the test binary the broker child when the soak starts
// it (os.Executable is the test binary here), and the soak command when
// a test runs it as one.
func TestMain(m *testing.M) {
	if spec := os.Getenv(brokerEnv); spec != "" {
		os.Exit(brokerMain(spec, os.Stdin, os.Stdout, os.Stderr))
	}
	if os.Getenv(soakChildEnv) != "" {
		os.Exit(soakMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// output is a report being written, safe to read while it is, which
// closes seen once it holds a string.
type output struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
}

func newOutput(want string) *output { return &output{want: want, seen: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.b.Write(p)
	if o.want != "" && strings.Contains(o.b.String(), o.want) {
		o.want = ""
		close(o.seen)
	}
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// quick are the flags of a short soak that still goes through every
// phase: cycles of 1 s up and 1.5 s down, a buffer that an outage
// overflows (drops), a delivery timeout shorter than the outage
// (failures; 1 s is franz-go's least), small maps.
var quick = []string{"-up", "1s", "-down", "1500ms", "-delivery-timeout", "1s", "-rate", "1000", "-buffer", "200",
	"-keys", "5000", "-map-ops", "20000", "-view-every", "50ms"}

// sinkLine is the report's end-of-run accounting line.
var sinkLine = regexp.MustCompile(`sink: emitted (\d+) = delivered (\d+) \+ dropped (\d+) \+ failed (\d+) \(holds\); Emit errors (\d+) = dropped \(holds\)`)

// TestSoakShort runs the soak for 3 s: it passes, restarts the broker,
// checks the identities each cycle, and the events go every way the sink
// accounts for them.
func TestSoakShort(t *testing.T) {
	out := newOutput("")
	var errOut bytes.Buffer
	err := run(context.Background(), append([]string{"-duration", "3s"}, quick...), out, &errOut)
	report := out.String()
	if err != nil {
		t.Fatalf("soak failed: %v\n%s%s", err, report, errOut.String())
	}
	for _, want := range []string{"broker restarted", "cycle 2: emitted", "views:", "maps: Map", "memory: peak RSS", "goroutines:", "soak: PASS"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "DOES NOT HOLD") || strings.Contains(report, "EXCEEDED") || strings.Contains(report, "FAIL") {
		t.Errorf("a passing soak reports a failure:\n%s", report)
	}
	m := sinkLine.FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no end-of-run sink line:\n%s", report)
	}
	n := make([]int64, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.ParseInt(m[i], 10, 64)
	}
	emitted, delivered, dropped, failed := n[1], n[2], n[3], n[4]
	// The emitter runs about 2.5 s of the 3 (it pauses for the checks and
	// the restart) at 1000 events/s.
	if emitted < 1000 || delivered == 0 || dropped == 0 || emitted != delivered+dropped+failed {
		t.Errorf("emitted %d, delivered %d, dropped %d, failed %d: want over 1000 emitted, some delivered and some dropped, adding up",
			emitted, delivered, dropped, failed)
	}
}

// TestSoakTinyBoundFails: an RSS growth bound of 0 MiB fails the soak
// with exit status 1, saying which bound. It runs the soak as a command
// in a process of its own: there the maps, the sink's client and the
// broker's records raise the peak RSS above the RSS at start, which in
// this process earlier tests may already have reached.
func TestSoakTinyBoundFails(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"-duration", "2s", "-max-rss-growth", "0"}, quick...)...)
	cmd.Env = append(os.Environ(), soakChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	report := string(out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("soak with -max-rss-growth 0 exited with %v; want status 1\n%s", err, report)
	}
	for _, want := range []string{"EXCEEDED", "soak: FAIL", "RSS growth", "-max-rss-growth 0 MiB"} {
		if !strings.Contains(report, want) {
			t.Errorf("output lacks %q:\n%s", want, report)
		}
	}
}

// TestSoakInterrupted cancels the soak (as SIGINT does) while the broker
// is up and while it is down: it stops, reports what ran with the sink's
// identity after Close, and returns an error saying it was interrupted.
func TestSoakInterrupted(t *testing.T) {
	for _, c := range []struct {
		at, phase string
		within    time.Duration
	}{
		{"broker: listening", "cycle 1, the broker up", 5 * time.Second},
		// Closing the sink waits up to 10 s for a broker that is down.
		{"cycle 1: broker stopped", "cycle 1, the broker down", 15 * time.Second},
	} {
		if testing.Short() && c.within > 5*time.Second {
			continue
		}
		out := newOutput(c.at)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan time.Time, 1)
		go func() {
			<-out.seen
			stopped <- time.Now()
			cancel()
		}()
		err := run(ctx, append([]string{"-duration", "1m"}, quick...), out, io.Discard)
		var took time.Duration
		select {
		case at := <-stopped:
			took = time.Since(at)
		default:
			t.Errorf("interrupted at %q: the soak ended before %q was reported", c.at, c.at)
		}
		cancel()
		report := out.String()
		if err == nil || !strings.Contains(err.Error(), "soak: interrupted while "+c.phase) {
			t.Errorf("interrupted at %q: %v; want an error saying it was interrupted while %s\n%s", c.at, err, c.phase, report)
		}
		if took > c.within {
			t.Errorf("interrupted at %q: stopped after %v; want within %v", c.at, took, c.within)
		}
		for _, want := range []string{"soak: interrupted after", "sink: emitted", "maps: Map", "memory: peak RSS", "soak: INTERRUPTED"} {
			if !strings.Contains(report, want) {
				t.Errorf("interrupted at %q: report lacks %q:\n%s", c.at, want, report)
			}
		}
		if !sinkLine.MatchString(report) {
			t.Errorf("interrupted at %q: the sink's identity after Close does not hold:\n%s", c.at, report)
		}
	}
}

func TestSinkIdentity(t *testing.T) {
	for _, c := range []struct {
		emitted int64
		st      rollout.KafkaStats
		holds   bool
	}{
		{0, rollout.KafkaStats{}, true},
		{10, rollout.KafkaStats{Delivered: 5, Dropped: 3, Failed: 2}, true},
		{10, rollout.KafkaStats{Delivered: 5, Dropped: 3, Failed: 1}, false}, // one in flight, or lost
		{10, rollout.KafkaStats{Delivered: 8, Dropped: 3}, false},            // one counted twice
	} {
		if got := sinkIdentity(c.emitted, c.st); got != c.holds {
			t.Errorf("sinkIdentity(%d, %+v) = %v; want %v", c.emitted, c.st, got, c.holds)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "0s"},
		{"-down", "-1s"},
		{"-delivery-timeout", "500ms"},
		{"-rate", "0"},
		{"-keys", "0"},
		{"-max-rss-growth", "-1"},
		{"-nosuchflag"},
		{"extra"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || exitCode(err, io.Discard) != 2 {
			t.Errorf("run(%q) = %v; want a usage error, exit status 2", args, err)
		}
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); exitCode(err, io.Discard) != 0 {
		t.Errorf("-h: %v; want exit status 0", err)
	}
}

// sigintIgnored reports whether this process ignores SIGINT, as a
// command a non-interactive shell starts in the background does; its
// children inherit that, and bash cannot trap a signal ignored at its
// start.
func sigintIgnored(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("SigIgn %q: %v", v, err)
			}
			return mask&(1<<(syscall.SIGINT-1)) != 0
		}
	}
	t.Fatal("/proc/self/status has no SigIgn")
	return false
}

// TestWrapperForwardsSIGINT runs scripts/soak, the wrapper that builds
// and runs the soak, and sends SIGINT to the wrapper alone (not its
// process group, as kill does): the soak stops, reports, and the wrapper
// exits 1.
func TestWrapperForwardsSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the soak")
	}
	if sigintIgnored(t) {
		t.Skip("SIGINT is ignored in this process (started in the background by a shell), so the wrapper cannot trap it")
	}
	wrapper, err := filepath.Abs("../../../scripts/soak")
	if err != nil {
		t.Fatal(err)
	}
	out := newOutput("cycle 1: emitted")
	cmd := exec.Command(wrapper, append([]string{"-duration", "1m"}, quick...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("the wrapper exited (%v) before a cycle:\n%s", err, out.String())
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("no cycle after 3 minutes:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	var werr error
	select {
	case werr = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the wrapper did not stop 30 s after SIGINT:\n%s", out.String())
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("wrapper exit: %v; want status 1", werr)
	}
	report := out.String()
	for _, want := range []string{"soak: INTERRUPTED", "soak: interrupted while"} {
		if !strings.Contains(report, want) {
			t.Errorf("output lacks %q:\n%s", want, report)
		}
	}
}

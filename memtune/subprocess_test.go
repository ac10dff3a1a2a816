package memtune_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard/memtune"
)

// mapWorkload is the child process of the subprocess tests: it grows a
// map of 1 KiB values to 60% of limit, then allocates a burst of garbage,
// with or without memtune, and prints the peak of the Go
// runtime's memory (mapped minus released), the peak RSS (VmHWM) and the
// GC's CPU time, as JSON.
func mapWorkload(with bool, limit uint64) {
	if with {
		if _, err := memtune.Start(context.Background(), memtune.WithCgroupRoot("testdata/nonexistent"), memtune.WithFallbackLimit(limit)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64() - s[1].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Microsecond):
			}
		}
	}()
	// Phase 1: the map, 60% of the limit, live.
	m := map[int][]byte{}
	for i := 0; uint64(i)*1024 < limit*6/10; i++ {
		m[i] = make([]byte, 1024)
		m[i][0] = 1 // touch it: fresh zero pages are not resident
	}
	// Phase 2: a burst of short-lived allocations (twice the limit, in
	// 64 KiB buffers), as a request spike makes: with GOGC=100 alone the
	// heap may grow to twice the live map before the GC runs.
	for i := range limit * 2 / (64 << 10) {
		garbage = make([]byte, 64<<10)
		for j := 0; j < len(garbage); j += 4096 {
			garbage[j] = 1
		}
		if i%16 == 15 {
			// About 0.5 GB/s: a busy service, not a tight loop that
			// would make the runtime's own GC CPU limiter let the heap
			// past any soft limit.
			time.Sleep(2 * time.Millisecond)
		}
	}
	close(stop)
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	out := map[string]float64{"peak_bytes": float64(peak.Load()), "gc_cpu_seconds": s[0].Value.Float64(), "entries": float64(len(m))}
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				out["peak_rss_bytes"] = kb * 1024
			}
		}
		f.Close()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	os.Exit(0)
}

var garbage []byte

func TestMain(m *testing.M) {
	if spec := os.Getenv("MEMTUNE_CHILD"); spec != "" {
		mode, mib, _ := strings.Cut(spec, ":")
		n, _ := strconv.ParseUint(mib, 10, 64)
		mapWorkload(mode == "with", n<<20)
	}
	os.Exit(m.Run())
}

// runWorkload runs the child and decodes its measurements.
func runWorkload(t *testing.T, with bool, limitMiB int) map[string]float64 {
	t.Helper()
	mode := "without"
	if with {
		mode = "with"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("MEMTUNE_CHILD=%s:%d", mode, limitMiB), "GOGC=100", "GOMEMLIMIT=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v", mode, err)
	}
	var res map[string]float64
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	return res
}

// TestGOMEMLIMITHoldsTheHeap runs the same map-growing program with and
// without memtune under a 128 MiB limit: with it the runtime's memory
// stays under the limit, without it the heap overshoots.
func TestGOMEMLIMITHoldsTheHeap(t *testing.T) {
	const limitMiB = 128
	with := runWorkload(t, true, limitMiB)
	without := runWorkload(t, false, limitMiB)
	limit := float64(limitMiB << 20)
	t.Logf("peak runtime memory under a %d MiB limit: with memtune %.1f MiB, without %.1f MiB", limitMiB, with["peak_bytes"]/(1<<20), without["peak_bytes"]/(1<<20))
	if with["peak_bytes"] >= limit {
		t.Errorf("with memtune the runtime's memory peaked at %.1f MiB, over the %d MiB limit", with["peak_bytes"]/(1<<20), limitMiB)
	}
	if without["peak_bytes"] <= limit {
		t.Errorf("without memtune the program stayed under the limit (%.1f MiB): the test does not show anything", without["peak_bytes"]/(1<<20))
	}
}

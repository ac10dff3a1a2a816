package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEntryCostsCoverMeasurement keeps the per-entry costs the memory
// estimate uses at or above what each map measurably holds per entry.
func TestEntryCostsCoverMeasurement(t *testing.T) {
	sizes := []int{1 << 12, 1 << 16}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		sk, ik := StringKeys(n), IntKeys(n)
		for _, impl := range Names() {
			cost, ok := entryCost[impl]
			if !ok {
				t.Errorf("%s has no entry cost", impl)
				continue
			}
			s := BytesPerEntry(func() Map[string, int] { return mustNew[string, int](impl) }, sk)
			i := BytesPerEntry(func() Map[int, int] { return mustNew[int, int](impl) }, ik)
			if s > float64(cost.str) || i > float64(cost.int) {
				t.Errorf("%s with %d keys holds %.0f B/entry (string keys), %.0f (int); the estimate counts %d and %d", impl, n, s, i, cost.str, cost.int)
			}
		}
	}
}

// TestEstimateTakesTheDearestRunNotTheSum: runs happen one after
// another, so the estimate is that of the dearest, not the sum.
func TestEstimateTakesTheDearestRunNotTheSum(t *testing.T) {
	w := Workload{Name: "big", Mix: map[string]int{"load": 100}, Keys: 30_000_000, KeyType: "string", Distribution: "uniform", Prefill: 1, Duration: time.Second}
	one := EstimateMemory([]Workload{w}, []string{"syncmap"}, 2)
	all := EstimateMemory([]Workload{w}, Names(), 2)
	if all.Peak != one.Peak || all.Impl != "syncmap" {
		t.Errorf("all implementations: %v; want the dearest one's, %v", all, one)
	}
	// 30M string keys: 32 B of key, 60 of index, 140 of sync.Map entry,
	// 48 of value, 27 of check records each: more than 6 GiB live.
	if one.Live < 6<<30 || one.Peak <= one.Live || one.Garbage > one.Live {
		t.Errorf("30M keys on sync.Map: %+v; want more than 6 GiB live and some garbage", one)
	}
	small := EstimateMemory(Presets(time.Second), Names(), 2)
	if small.Peak > 256<<20 {
		t.Errorf("the presets: %v; want under 256 MiB", small)
	}
	w.Mix = map[string]int{"load": 50, "store": 50}
	rm := EstimateMemory([]Workload{w}, []string{"readmostly"}, 2)
	mu := EstimateMemory([]Workload{w}, []string{"mutex"}, 2)
	if rm.Live <= mu.Live {
		t.Errorf("ReadMostly with writes %v; want more than the mutex map's %v (a write holds two versions)", rm, mu)
	}
	for _, want := range []string{"GiB", "big", "readmostly", "map", "values"} {
		if !strings.Contains(rm.String(), want) {
			t.Errorf("%q lacks %q", rm.String(), want)
		}
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAvailableMemory reads fake /proc and cgroup trees: the budget is
// the smaller of MemAvailable and the room under the lowest cgroup limit.
func TestAvailableMemory(t *testing.T) {
	const gib = 1 << 30
	meminfo := "MemTotal:       24683548 kB\nMemFree:         1000000 kB\nMemAvailable:   16777216 kB\n" // 16 GiB available
	for _, tc := range []struct {
		name   string
		files  map[string]string
		want   uint64
		source string
	}{
		{"no cgroup limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "0::/app\n",
			"cg/cgroup.controllers": "memory", "cg/app/memory.max": "max\n",
		}, 16 * gib, "MemAvailable"},
		{"v2 limit on an ancestor, less the working set", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "0::/kube/pod/app\n",
			"cg/cgroup.controllers":      "memory",
			"cg/kube/memory.max":         "8589934592\n", // 8 GiB
			"cg/kube/memory.current":     "3221225472\n", // 3 GiB, of which 1 GiB inactive file cache
			"cg/kube/memory.stat":        "anon 2147483648\ninactive_file 1073741824\n",
			"cg/kube/pod/app/memory.max": "max\n",
		}, 6 * gib, "cgroup v2 limit 8.0 GiB"},
		{"v1 limit", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/docker/abc\n1:cpu:/\n",
			"cg/memory/docker/abc/memory.limit_in_bytes": "2147483648\n",
			"cg/memory/docker/abc/memory.usage_in_bytes": "1073741824\n",
			"cg/memory/memory.limit_in_bytes":            "9223372036854771712\n",
		}, 1 * gib, "cgroup v1 limit 2.0 GiB"},
		{"v1 path not visible in the container", map[string]string{
			"proc/meminfo": meminfo, "proc/self/cgroup": "4:memory:/host/path\n",
			"cg/memory/memory.limit_in_bytes": "4294967296\n",
			"cg/memory/memory.usage_in_bytes": "0\n",
		}, 4 * gib, "cgroup v1 limit 4.0 GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			b, err := availableMemory(filepath.Join(root, "proc"), filepath.Join(root, "cg"))
			if err != nil {
				t.Fatal(err)
			}
			if b.Bytes != tc.want || !strings.Contains(b.Source, tc.source) {
				t.Errorf("got %s (%s); want %s (%s...)", FormatBytes(b.Bytes), b.Source, FormatBytes(tc.want), tc.source)
			}
		})
	}
	if _, err := availableMemory(filepath.Join(t.TempDir(), "none"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "bench:") {
		t.Errorf("no /proc/meminfo: err = %v; want a bench: error", err)
	}
}

func TestMedianOfEvenCountIsMeanOfMiddleTwo(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{[]time.Duration{3 * ms}, 3 * ms},
		{[]time.Duration{4 * ms, 1 * ms}, 2500 * time.Microsecond},
		{[]time.Duration{9 * ms, 1 * ms, 2 * ms, 3 * ms}, 2500 * time.Microsecond},
		{[]time.Duration{5 * ms, 1 * ms, 3 * ms}, 3 * ms},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

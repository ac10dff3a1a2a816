package memtune_test

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mapguard/mapguard/memtune"
)

// keepRuntime restores the runtime's memory limit and GOGC after a test
// that lets a Tuner change them.
func keepRuntime(t *testing.T) {
	limit := debug.SetMemoryLimit(-1)
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	t.Cleanup(func() {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(gogc)
	})
}

func start(t *testing.T, opts ...memtune.Option) (*memtune.Tuner, error) {
	t.Helper()
	keepRuntime(t)
	tu, err := memtune.Start(context.Background(), append([]memtune.Option{memtune.WithRefreshInterval(time.Hour)}, opts...)...)
	if err == nil {
		t.Cleanup(tu.Stop)
	}
	return tu, err
}

func TestCgroupTrees(t *testing.T) {
	for _, tc := range []struct {
		name, root, self string
		want             uint64
		source, err      string
	}{
		{"v2, memory.high below memory.max", "testdata/v2", "0::/app\n", 805306368, "testdata/v2/app/memory.high", ""},
		{"v2 nested, limit on an ancestor", "testdata/v2nested", "0::/a/b\n", 2147483648, "testdata/v2nested/a/memory.max", ""},
		{"v1 in docker", "testdata/v1", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n", 536870912, "cgroup v1 testdata/v1/memory/docker/abc/memory.limit_in_bytes", ""},
		{"v2 unlimited", "testdata/v2unlimited", "0::/app\n", 0, "", "no memory limit found"},
		{"malformed", "testdata/malformed", "0::/app\n", 0, "", `testdata/malformed/app/memory.max: want a byte count or "max", got "lots"`},
		{"no cgroup filesystem", "testdata/nonexistent", "0::/\n", 0, "", "no cgroup filesystem at testdata/nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu, err := start(t, memtune.WithCgroupRoot(tc.root), memtune.WithSelfCgroup(tc.self))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Start = %v; want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := tu.Stats()
			if s.Limit != tc.want || !strings.Contains(s.LimitSource, tc.source) {
				t.Fatalf("limit %d from %q; want %d from %q", s.Limit, s.LimitSource, tc.want, tc.source)
			}
			if want := int64(float64(tc.want) * 0.9); s.MemoryLimit != want || debug.SetMemoryLimit(-1) != want {
				t.Fatalf("GOMEMLIMIT %d (runtime %d); want 0.9 × limit = %d", s.MemoryLimit, debug.SetMemoryLimit(-1), want)
			}
		})
	}
}

func TestFallbackAndEnv(t *testing.T) {
	tu, err := start(t, memtune.WithCgroupRoot("testdata/v2unlimited"), memtune.WithSelfCgroup("0::/app"), memtune.WithFallbackLimit(1<<30), memtune.WithRatio(0.5))
	if err != nil {
		t.Fatal(err)
	}
	if s := tu.Stats(); s.Limit != 1<<30 || s.MemoryLimit != 1<<29 || !strings.HasPrefix(s.LimitSource, "fallback") {
		t.Fatalf("fallback: %+v", s)
	}
	if _, err := start(t, memtune.WithCgroupRoot("testdata/v2unlimited"), memtune.WithSelfCgroup("0::/app")); !errors.Is(err, memtune.ErrNoLimit) {
		t.Fatalf("no limit and no fallback: %v; want ErrNoLimit", err)
	}
	t.Setenv("GOMEMLIMIT", "3GiB")
	before := debug.SetMemoryLimit(-1)
	tu, err = start(t, memtune.WithCgroupRoot("testdata/v2"), memtune.WithSelfCgroup("0::/app"))
	if err != nil {
		t.Fatal(err)
	}
	if s := tu.Stats(); !s.EnvOverride || debug.SetMemoryLimit(-1) != before {
		t.Fatalf("with GOMEMLIMIT set the tuner changed the limit: %+v", s)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []memtune.Option{
		memtune.WithRatio(0), memtune.WithRatio(1.5), memtune.WithFallbackLimit(0), memtune.WithRefreshInterval(0),
		memtune.WithGOGCFloor(0), memtune.WithReleaseOnPressure(2, time.Second), memtune.WithReleaseOnPressure(0.5, 0),
	} {
		if _, err := start(t, o, memtune.WithFallbackLimit(1<<30)); err == nil || !strings.HasPrefix(err.Error(), "memtune: ") {
			t.Errorf("invalid option accepted: %v", err)
		}
	}
}

// TestReleaseOnPressureIsRateLimited drives the policy with a fake clock.
func TestReleaseOnPressureIsRateLimited(t *testing.T) {
	now := time.Unix(1e9, 0)
	tu, err := start(t, memtune.WithFallbackLimit(1000), memtune.WithCgroupRoot("testdata/v2unlimited"), memtune.WithSelfCgroup("0::/app"),
		memtune.WithReleaseOnPressure(0.5, time.Minute), memtune.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	tu.Observe(0.1, 100, 400) // under the threshold
	tu.Observe(0.1, 100, 600) // over: release
	tu.Observe(0.1, 100, 600) // over again at once: rate-limited
	now = now.Add(30 * time.Second)
	tu.Observe(0.1, 100, 600)
	if got := tu.Stats().Releases; got != 1 {
		t.Fatalf("%d releases within a minute; want 1", got)
	}
	now = now.Add(31 * time.Second)
	tu.Observe(0.1, 100, 600)
	if got := tu.Stats().Releases; got != 2 {
		t.Fatalf("%d releases after the interval; want 2", got)
	}
}

// TestDeathSpiralGuard: a GC share over 50% lifts the soft limit to the
// container limit and raises GOGC to the floor; calm restores it.
func TestDeathSpiralGuard(t *testing.T) {
	tu, err := start(t, memtune.WithFallbackLimit(1<<30), memtune.WithCgroupRoot("testdata/v2unlimited"), memtune.WithSelfCgroup("0::/app"), memtune.WithGOGCFloor(150))
	if err != nil {
		t.Fatal(err)
	}
	tu.Observe(0.7, 900<<20, 950<<20)
	s := tu.Stats()
	if !s.Relaxed || s.Relaxations != 1 || s.MemoryLimit != 1<<30 || debug.SetMemoryLimit(-1) != 1<<30 || s.GOGC < 150 {
		t.Fatalf("after a GC share of 70%%: %+v", s)
	}
	tu.Observe(0.1, 900<<20, 950<<20) // calm, but the live heap is still over 80%
	if !tu.Stats().Relaxed {
		t.Fatal("restored the limit while the live heap is still near it")
	}
	tu.Observe(0.1, 100<<20, 200<<20)
	if s := tu.Stats(); s.Relaxed || s.MemoryLimit != int64(966367641) {
		t.Fatalf("after calm: %+v", s)
	}
}

func TestPrometheusGauges(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := start(t, memtune.WithFallbackLimit(1<<30), memtune.WithCgroupRoot("testdata/v2unlimited"), memtune.WithSelfCgroup("0::/app"), memtune.WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(prometheusGauge(t, reg, "mapguard_memtune_limit_bytes")); got != 1<<30 {
		t.Fatalf("limit gauge %v", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// prometheusGauge wraps one gathered gauge as a collector for ToFloat64.
func prometheusGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no %s gathered", name)
	return nil
}

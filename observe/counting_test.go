package observe_test

import (
	"flag"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// busy runs op from two goroutines for d and returns when they stop.
// With perSecond > 0 each goroutine calls op at that rate, as a service
// does when requests arrive: it waits between calls, so the cost of op
// does not change how often it runs, and after a delay (the goroutine
// was descheduled) it skips the calls it missed rather than catch up in
// a burst. With 0 they call op back to back.
func busy(d time.Duration, perSecond int, op func(g, i int)) {
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := range 2 {
		wg.Go(func() {
			next := time.Now()
			for i := 0; !stop.Load(); i++ {
				op(g, i)
				if perSecond == 0 {
					continue
				}
				next = next.Add(time.Second / time.Duration(perSecond))
				if now := time.Now(); now.Sub(next) > 10*time.Microsecond {
					next = now
				}
				for time.Now().Before(next) && !stop.Load() {
					runtime.Gosched()
				}
			}
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
}

// waitExact waits until sampled reports false (the map, or every map,
// was quiet for a sampler period) or fails the test.
func waitExact(t *testing.T, sampled func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); sampled(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still sampling 5 s after the load stopped")
		}
	}
}

// within reports whether got is within tol (relative) of want.
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

// loads are the ways TestSampledCounts and TestSampledCountsSyncMap load
// a map: paced as requests arrive, back to back, and paced while four
// more goroutines spin, so that the process is short of CPU (as when it
// is throttled or shares its cores).
var loads = []load{{"paced", 200_000, 0}, {"back-to-back", 0, 0}, {"paced-starved", 200_000, 4}}

type load struct {
	name      string
	perSecond int
	spinners  int
}

// soak is the flag for a soak run of the counting tests, as of the root
// package's stress tests: each load runs factor times as long, and the
// estimates are held to a tolerance that narrows with the operations
// sampled.
var soak = flag.Int("soak", 1, "multiply how long each load of the counting tests runs by this `factor`, for a soak run")

// loadsFor returns the loads a counting test runs and how long each
// runs: every load for d, times -soak's factor. Under -short (and no
// -soak) it runs only back-to-back, the load sure to drive a map past the
// sampling threshold on a slow or busy machine, still for d (fewer
// operations would not hold the estimate to its tolerance).
func loadsFor(d time.Duration) ([]load, time.Duration) {
	switch {
	case *soak > 1:
		return loads, d * time.Duration(*soak)
	case testing.Short():
		return loads[1:2], d
	}
	return loads, d
}

// tolerance is the relative error allowed of an estimate of want
// operations sampled one in 2^bits: 15% (2% in a soak run), or, when too
// few operations ran for that (a slow machine, -race), 4.5 standard
// deviations of the estimate, 1/sqrt(operations sampled), counting every
// operation as sampled (some ran before the switch, counted exactly, so
// the estimate is better than that), capped at 35%, so that an estimate
// of 0, or one off by half, always fails however few operations ran.
func tolerance(want float64, bits int) float64 {
	floor := 0.15
	if *soak > 1 {
		floor = 0.02
	}
	return min(0.35, max(floor, 4.5/math.Sqrt(want/float64(int(1)<<bits))))
}

// testSampleAbove is the rate above which the counting tests' maps are
// sampled (observe.WithSampleAbove).
const testSampleAbove = 20_000

// spin runs n goroutines that burn CPU until the returned function is
// called.
func spin(n int) (stop func()) {
	var wg sync.WaitGroup
	var done atomic.Bool
	for range n {
		wg.Go(func() {
			for x := 0; !done.Load(); x++ {
				if x%1024 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	return func() { done.Store(true); wg.Wait() }
}

// TestSampledCounts drives a map past the sampling threshold from two
// goroutines, in each way of loads (under -short only back to back), and
// checks that the estimated counts are close to the true ones, that the
// map returns to exact counting once quiet, and counts exactly again.
func TestSampledCounts(t *testing.T) {
	ls, d := loadsFor(2 * time.Second)
	for _, load := range ls {
		t.Run(load.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			// Filled before it is instrumented, so that only the load is
			// counted: filled after, its Stores could be sampled, and the
			// load's fewer Stores would weigh less in the estimate.
			bare := mapguard.NewMap[int, int]()
			for i := range 20_000 {
				bare.Store(2*i, i)
			}
			m := observe.Instrument(bare, "busy", observe.WithRegisterer(reg), observe.WithSampleAbove(testSampleAbove))
			// Each goroutine tallies what it did: loads of keys 0..39,999
			// (the even ones present), and one store in 8 operations, to a
			// present key. Loads and Stores are sampled by key, so many
			// keys make a steadier estimate.
			const keys = 40_000
			var tally [2][3]float64 // hits, misses, stores
			sawSampled := atomic.Bool{}
			stop := spin(load.spinners)
			busy(d, load.perSecond, func(g, i int) {
				k := (i*7919 + g) % keys
				if i%8 == 0 {
					// i/8, not k: keys a multiple of 8 apart would leave
					// the Stores 5,000 keys.
					m.Store((i/8*7919+g)%(keys/2)*2, i)
					tally[g][2]++
					return
				}
				if _, ok := m.Load(k); ok {
					tally[g][0]++
				} else {
					tally[g][1]++
				}
				if i%1024 == 1 && observe.Sampled(m) {
					sawSampled.Store(true)
				}
			})
			stop()
			if !sawSampled.Load() {
				t.Fatal("the map's counts were never sampled under load")
			}
			waitExact(t, func() bool { return observe.Sampled(m) })
			counter := func(op, result string) float64 {
				return gathered(t, reg, "mapguard_operations_total", map[string]string{"map": "busy", "op": op, "result": result}).GetCounter().GetValue()
			}
			for _, c := range []struct {
				op, result string
				want       float64
			}{
				{"load", "hit", tally[0][0] + tally[1][0]},
				{"load", "miss", tally[0][1] + tally[1][1]},
				{"store", "stored", tally[0][2] + tally[1][2]},
			} {
				got, tol := counter(c.op, c.result), tolerance(c.want, observe.MapBits)
				t.Logf("%s %s: estimated %.0f, true %.0f (%+.1f%%)", c.op, c.result, got, c.want, 100*(got-c.want)/c.want)
				if !within(got, c.want, tol) {
					t.Errorf("operations_total{op=%q,result=%q} = %.0f; want %.0f ± %.1f%%", c.op, c.result, got, c.want, 100*tol)
				}
			}

			// Quiet again: exact.
			before := counter("load", "hit")
			for i := range 10 {
				m.Load(2 * i)
			}
			if got := counter("load", "hit") - before; got != 10 {
				t.Errorf("after the load stopped, 10 hits counted as %v; want exactly 10", got)
			}
			// No map is sampled any more: the sampler goroutine has ended.
			waitExact(t, observe.SamplerRunning)
		})
	}
}

// TestSampledCountsSyncMap is TestSampledCounts' check of the estimate
// for SyncMap, whose Load is counted by the wrapper, on one hot key.
func TestSampledCountsSyncMap(t *testing.T) {
	ls, d := loadsFor(1500 * time.Millisecond)
	for _, load := range ls {
		t.Run(load.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := observe.InstrumentSyncMap(new(sync.Map), "busy", observe.WithRegisterer(reg), observe.WithSampleAbove(testSampleAbove))
			s.Store(1, 1)
			var hits [2]float64
			sawSampled := atomic.Bool{}
			stop := spin(load.spinners)
			busy(d, load.perSecond, func(g, i int) {
				if _, ok := s.Load(1); ok {
					hits[g]++
				}
				if i%1024 == 1 && observe.SyncMapSampled(s) {
					sawSampled.Store(true)
				}
			})
			stop()
			if !sawSampled.Load() {
				t.Fatal("the map's counts were never sampled under load")
			}
			waitExact(t, func() bool { return observe.SyncMapSampled(s) })
			want := hits[0] + hits[1]
			got := gathered(t, reg, "mapguard_operations_total", map[string]string{"map": "busy", "op": "load", "result": "hit"}).GetCounter().GetValue()
			tol := tolerance(want, observe.OpBits)
			t.Logf("load hit: estimated %.0f, true %.0f (%+.1f%%)", got, want, 100*(got-want)/want)
			if !within(got, want, tol) {
				t.Errorf("load hits = %.0f; want %.0f ± %.1f%%", got, want, 100*tol)
			}
		})
	}
}

// TestWithExactCounts checks that a map with WithExactCounts counts every
// operation however busy it is.
func TestWithExactCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.Instrument(mapguard.NewMap[int, int](), "exact", observe.WithRegisterer(reg), observe.WithExactCounts())
	m.Store(1, 1)
	var n [2]float64
	busy(300*time.Millisecond, 0, func(g, i int) {
		m.Load(1)
		n[g]++
		if observe.Sampled(m) {
			t.Error("a WithExactCounts map is sampled")
		}
	})
	got := gathered(t, reg, "mapguard_operations_total", map[string]string{"map": "exact", "op": "load", "result": "hit"}).GetCounter().GetValue()
	// Two goroutines can lose an increment when they share a cell.
	if want := n[0] + n[1]; got > want || got < want*0.99 {
		t.Errorf("load hits = %.0f; want %.0f (at most 1%% lost to shared cells)", got, want)
	}
}

// TestCountsNeverDecrease scrapes a map over and over while 32
// goroutines store and load it, across the switch to sampling, and checks
// that no operation counter ever goes down (Prometheus would read that as
// a counter reset). It runs until the map is sampled and has been scraped
// ten times since (at least 500 ms, at most 20 s), rather than for a fixed
// time, so that a machine short of CPU makes it slower, not weaker.
func TestCountsNeverDecrease(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.Instrument(mapguard.NewMap[int, int](), "mono", observe.WithRegisterer(reg), observe.WithSampleAbove(testSampleAbove))
	var wg sync.WaitGroup
	var done atomic.Bool
	var scrapes atomic.Int64
	wg.Go(func() {
		last := map[string]float64{}
		for !done.Load() {
			mfs, err := reg.Gather()
			if err != nil {
				t.Error(err)
				return
			}
			scrapes.Add(1)
			for _, mf := range mfs {
				if mf.GetName() != "mapguard_operations_total" {
					continue
				}
				for _, mt := range mf.GetMetric() {
					key := fmt.Sprint(mt.GetLabel())
					v := mt.GetCounter().GetValue()
					if v < last[key] {
						t.Errorf("%s went down from %v to %v", key, last[key], v)
					}
					last[key] = v
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	// 32 goroutines, so that some share a counter cell.
	var stop atomic.Bool
	var workers sync.WaitGroup
	for range 32 {
		workers.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if i%4 == 0 {
					m.Store(i%512, i)
				} else {
					m.Load(i % 1024)
				}
			}
		})
	}
	start := time.Now()
	sampledAt := int64(-1) // scrapes when the map was first seen sampled
	for {
		time.Sleep(5 * time.Millisecond)
		if sampledAt < 0 && observe.Sampled(m) {
			sampledAt = scrapes.Load()
		}
		if sampledAt >= 0 && scrapes.Load() >= sampledAt+10 && time.Since(start) >= 500*time.Millisecond {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("after 20 s: %d scrapes, the map sampled from scrape %d (-1: never); want 10 scrapes while sampled", scrapes.Load(), sampledAt)
			break
		}
	}
	stop.Store(true)
	workers.Wait()
	done.Store(true)
	wg.Wait()
}

package inline_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/internal/inline"
)

// intMap is what the benchmarks need of an int->int map.
type intMap interface {
	Load(int) (int, bool)
	Store(int, int)
}

type rwMap struct {
	mu sync.RWMutex
	m  map[int]int
}

func (r *rwMap) Load(k int) (int, bool) {
	r.mu.RLock()
	v, ok := r.m[k]
	r.mu.RUnlock()
	return v, ok
}

func (r *rwMap) Store(k, v int) {
	r.mu.Lock()
	r.m[k] = v
	r.mu.Unlock()
}

// syncMap is sync.Map typed for the benchmarks.
type syncMap struct{ m sync.Map }

func (s *syncMap) Load(k int) (int, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int), true
}

func (s *syncMap) Store(k, v int) { s.m.Store(k, v) }

var impls = []struct {
	name string
	make func(testing.TB) intMap
}{
	{"inline", func(b testing.TB) intMap { return mustNew[int, int](b, false) }},
	{"mapguard", func(testing.TB) intMap { return mapguard.NewMap[int, int]() }},
	{"rwmutex", func(testing.TB) intMap { return &rwMap{m: map[int]int{}} }},
	{"syncmap", func(testing.TB) intMap { return new(syncMap) }},
	{"xsync", func(testing.TB) intMap { return xsync.NewMap[int, int]() }},
}

// gcCPU returns the GC's CPU time so far.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return time.Duration(s[0].Value.Float64() * 1e9)
}

// BenchmarkMemory fills n int->int entries (keys 0..n-1, unpresized) and
// reports the heap bytes per entry after a GC, the wall time of one
// forced runtime.GC with the map resident (gc-ms) and that cycle's GC CPU
// time (gc-cpu-ms). Run it with -benchtime=1x. Tables that double land 1M
// entries just after a grow (inline: 262,144 buckets at load 0.48) and
// 700,000 just before one (131,072 buckets at load 0.67).
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{700_000, 1_000_000} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("n=%d/impl=%s", n, impl.name), func(b *testing.B) { memory(b, n, impl.make) })
		}
	}
}

func memory(b *testing.B, n int, newMap func(testing.TB) intMap) {
	var perEntry, gcMS, gcCPUMS float64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := newMap(b)
		for i := range n {
			m.Store(i, i)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		cpu0, start := gcCPU(), time.Now()
		runtime.GC()
		gcMS = float64(time.Since(start)) / 1e6
		gcCPUMS = float64(gcCPU()-cpu0) / 1e6
		if v, ok := m.Load(n / 2); !ok || v != n/2 {
			b.Fatalf("Load(%d) = %d, %v", n/2, v, ok)
		}
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perEntry, "B/entry")
	b.ReportMetric(gcMS, "gc-ms")
	b.ReportMetric(gcCPUMS, "gc-cpu-ms")
}

// BenchmarkOps times Load, Store (overwrites) and a mix of 90% Load and
// 10% Store of random keys of a map prefilled with size int keys, from
// GOMAXPROCS goroutines.
func BenchmarkOps(b *testing.B) {
	const size = 65536
	for _, opName := range []string{"Load", "Store", "reads=90%"} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("op=%s/size=%d/impl=%s", opName, size, impl.name), func(b *testing.B) {
				m := impl.make(b)
				for i := range size {
					m.Store(i, i)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					x := uint64(time.Now().UnixNano()) | 1
					for pb.Next() {
						x ^= x << 13
						x ^= x >> 7
						x ^= x << 17
						k := int(x % size)
						load := opName == "Load" || opName == "reads=90%" && (x>>32)%10 != 0
						if load {
							if _, ok := m.Load(k); !ok {
								b.Errorf("Load(%d) missed", k)
								return
							}
						} else {
							m.Store(k, k)
						}
					}
				})
			})
		}
	}
}

var _ intMap = (*inline.Map[int, int])(nil)

// BenchmarkLockedReads runs reads=90% on int->[3]int64, whose Stores open
// a write (odd sequence) on the chain, with retries optimistic reads before
// a reader locks, and reports the share of Loads that locked.
func BenchmarkLockedReads(b *testing.B) {
	const size = 65536
	for _, keys := range []int{size, 16} {
		for _, retries := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("keys=%d/retries=%d", keys, retries), func(b *testing.B) {
				m := mustNew[int, [3]int64](b, false)
				inline.SetReadRetries(m, retries)
				for i := range size {
					m.Store(i, [3]int64{})
				}
				var loads atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					x := uint64(time.Now().UnixNano()) | 1
					n := int64(0)
					for pb.Next() {
						x ^= x << 13
						x ^= x >> 7
						x ^= x << 17
						k := int(x % uint64(keys))
						if (x>>32)%10 != 0 {
							m.Load(k)
							n++
						} else {
							m.Store(k, [3]int64{int64(x), int64(x), int64(x)})
						}
					}
					loads.Add(n)
				})
				b.ReportMetric(float64(inline.LockedReads(m))/float64(max(loads.Load(), 1)), "locked/load")
			})
		}
	}
}

package observe_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

const overheadKeys = 1 << 16

// BenchmarkOverhead compares Load and Store on a bare Map, on the same
// kind of Map instrumented with metrics registered and the default
// options (impl=observed: counts sampled once the map is busy), and with
// WithExactCounts (impl=exact), on 65,536 keys, from GOMAXPROCS
// goroutines:
//
//	go test ./observe -run '^$' -bench Overhead -cpu 2 -count 10 | benchstat -col /impl -
//
// Each is called through its concrete type, as user code calls it, so
// the loop is written twice (a generic loop would call both through a
// dictionary: pointer types share one GC shape). Each map is made once
// per sub-benchmark and reused by its rounds, so what is measured is a
// busy map's steady state, not its first milliseconds (counted exactly
// until a rate check 10 ms or more after the first).
func BenchmarkOverhead(b *testing.B) {
	for _, op := range []string{"load", "store"} {
		getBare := once(func() *mapguard.Map[int, int] { return mapguard.NewMap[int, int]() })
		b.Run("op="+op+"/impl=bare", func(b *testing.B) {
			m := getBare()
			fill(m.Store)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := start()
				for pb.Next() {
					i = (i + 7919) & (overheadKeys - 1)
					if op == "load" {
						m.Load(i)
					} else {
						m.Store(i, i)
					}
				}
			})
		})
		for _, impl := range []string{"observed", "exact"} {
			opts := []observe.Option{observe.WithRegisterer(prometheus.NewRegistry())}
			if impl == "exact" {
				opts = append(opts, observe.WithExactCounts())
			}
			get := once(func() *observe.Map[int, int] {
				return observe.Instrument(mapguard.NewMap[int, int](), "bench", opts...)
			})
			b.Run("op="+op+"/impl="+impl, func(b *testing.B) {
				m := get()
				fill(m.Store)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := start()
					for pb.Next() {
						i = (i + 7919) & (overheadKeys - 1)
						if op == "load" {
							m.Load(i)
						} else {
							m.Store(i, i)
						}
					}
				})
			})
		}
	}
}

// once returns a function that makes a map with mk on its first call and
// returns that map ever after.
func once[M any](mk func() M) func() M {
	var m M
	made := false
	return func() M {
		if !made {
			m, made = mk(), true
		}
		return m
	}
}

var starts atomic.Int64

// start returns where a benchmark goroutine starts in the key sequence:
// each its own place, so that two goroutines do not walk the same keys in
// lockstep (and contend for the same bucket locks) by construction.
func start() int { return int(starts.Add(1) * 20011 & (overheadKeys - 1)) }

func fill(store func(int, int)) {
	for i := range overheadKeys {
		store(i, i)
	}
}

// BenchmarkOverheadSyncMap is BenchmarkOverhead for a sync.Map and
// InstrumentSyncMap, whose Load is counted by the wrapper (sync.Map has
// no hook).
func BenchmarkOverheadSyncMap(b *testing.B) {
	for _, op := range []string{"load", "store"} {
		getBare := once(func() *sync.Map { return new(sync.Map) })
		b.Run("op="+op+"/impl=bare", func(b *testing.B) {
			m := getBare()
			fill(func(k, v int) { m.Store(k, v) })
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := start()
				for pb.Next() {
					i = (i + 7919) & (overheadKeys - 1)
					if op == "load" {
						m.Load(i)
					} else {
						m.Store(i, i)
					}
				}
			})
		})
		for _, impl := range []string{"observed", "exact"} {
			opts := []observe.Option{observe.WithRegisterer(prometheus.NewRegistry())}
			if impl == "exact" {
				opts = append(opts, observe.WithExactCounts())
			}
			get := once(func() *observe.SyncMap { return observe.InstrumentSyncMap(new(sync.Map), "bench", opts...) })
			b.Run("op="+op+"/impl="+impl, func(b *testing.B) {
				m := get()
				fill(func(k, v int) { m.Store(k, v) })
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := start()
					for pb.Next() {
						i = (i + 7919) & (overheadKeys - 1)
						if op == "load" {
							m.Load(i)
						} else {
							m.Store(i, i)
						}
					}
				})
			})
		}
	}
}

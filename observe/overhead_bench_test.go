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
// the loop is written out per type (a generic loop would call both
// through a dictionary: pointer types share one GC shape). The maps are
// made and filled once, before any is timed, so that no round pays for
// another's garbage, and what is measured is a busy map's steady state
// (a new map counts exactly until a rate check 10 ms or more after its
// first).
func BenchmarkOverhead(b *testing.B) {
	bare := mapguard.NewMap[int, int]()
	observed := observe.Instrument(mapguard.NewMap[int, int](), "observed", observe.WithRegisterer(prometheus.NewRegistry()))
	exact := observe.Instrument(mapguard.NewMap[int, int](), "exact", observe.WithRegisterer(prometheus.NewRegistry()), observe.WithExactCounts())
	fill(bare.Store)
	fill(observed.Store)
	fill(exact.Store)
	for _, op := range []string{"load", "store"} {
		b.Run("op="+op+"/impl=bare", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := start()
				for pb.Next() {
					i = (i + 7919) & (overheadKeys - 1)
					if op == "load" {
						bare.Load(i)
					} else {
						bare.Store(i, i)
					}
				}
			})
		})
		for impl, m := range map[string]*observe.Map[int, int]{"observed": observed, "exact": exact} {
			b.Run("op="+op+"/impl="+impl, func(b *testing.B) {
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

// BenchmarkOverheadSyncMap is BenchmarkOverhead for a sync.Map and
// InstrumentSyncMap, whose Load is counted by the wrapper (sync.Map has
// no hook).
func BenchmarkOverheadSyncMap(b *testing.B) {
	bare := new(sync.Map)
	observed := observe.InstrumentSyncMap(new(sync.Map), "observed", observe.WithRegisterer(prometheus.NewRegistry()))
	exact := observe.InstrumentSyncMap(new(sync.Map), "exact", observe.WithRegisterer(prometheus.NewRegistry()), observe.WithExactCounts())
	fill(func(k, v int) { bare.Store(k, v) })
	fill(func(k, v int) { observed.Store(k, v) })
	fill(func(k, v int) { exact.Store(k, v) })
	for _, op := range []string{"load", "store"} {
		b.Run("op="+op+"/impl=bare", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := start()
				for pb.Next() {
					i = (i + 7919) & (overheadKeys - 1)
					if op == "load" {
						bare.Load(i)
					} else {
						bare.Store(i, i)
					}
				}
			})
		})
		for impl, m := range map[string]*observe.SyncMap{"observed": observed, "exact": exact} {
			b.Run("op="+op+"/impl="+impl, func(b *testing.B) {
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

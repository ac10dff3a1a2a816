package bench_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/bench"
)

// The benchmarks below compare every implementation from bench.Impls in one
// run. Names end in /impl=NAME so that benchstat can put implementations
// side by side:
//
//	go test ./bench -run '^$' -bench . -cpu 1,2,8 -count 1 > round1.txt
//	benchstat -col /impl round*.txt
//
// scripts/bench runs the interleaved rounds and writes BENCHMARKS.md.

func BenchmarkMap(b *testing.B) {
	for _, size := range bench.Sizes() {
		for _, mix := range bench.Mixes() {
			for _, im := range bench.Impls() {
				for _, kt := range []string{"string", "int"} {
					b.Run(fmt.Sprintf("%s/keys=%s/size=%d/impl=%s", mix.Name(), kt, size, im.Name), func(b *testing.B) {
						runEngine(b, im.Name, mix.Workload(size, kt))
					})
				}
			}
		}
	}
}

// runEngine runs w on impl through the engine of `mapguard bench`, for
// b.N operations of its mix, with b's timer running during the mix alone
// (not the prefill, the collections and the check). It reports ns/op as
// the engine does (wall time per operation over all goroutines) and fails
// the benchmark if the map's final state is not what the goroutines did.
func runEngine(b *testing.B, impl string, w bench.Workload) bench.Result {
	b.Helper()
	b.StopTimer()
	b.ReportAllocs()
	w.Ops, w.Duration = int64(b.N), 0
	r := &bench.Runner{Hooks: bench.Hooks{Start: b.StartTimer, Stop: b.StopTimer}}
	res, err := r.Run(context.Background(), impl, w)
	if err != nil {
		b.Fatal(err)
	}
	if res.Check != "" {
		b.Fatalf("the map's final state: %s", res.Check)
	}
	b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(max(res.Ops, 1)), "ns/op")
	return res
}

func BenchmarkLoadOrStoreHot(b *testing.B) {
	for _, im := range bench.Impls() {
		for _, kt := range []string{"string", "int"} {
			b.Run(fmt.Sprintf("keys=%s/impl=%s", kt, im.Name), func(b *testing.B) {
				runEngine(b, im.Name, bench.HotKeysWorkload(kt))
			})
		}
	}
}

// BenchmarkRangeWhileWriting times full Range passes over 65,536 keys
// while GOMAXPROCS writers Store and Delete: ns/op is the median pass,
// write-ns/op the writers' time per write during the passes.
func BenchmarkRangeWhileWriting(b *testing.B) {
	for _, im := range bench.Impls() {
		for _, kt := range []string{"string", "int"} {
			b.Run(fmt.Sprintf("keys=%s/size=65536/impl=%s", kt, im.Name), func(b *testing.B) {
				res := runEngine(b, im.Name, bench.RangeWhileWritingWorkload(1<<16, kt))
				b.ReportMetric(float64(res.RangePass.Nanoseconds()), "ns/op")
				// Each writer's time per write: wall time times writers over writes.
				b.ReportMetric(float64(res.Elapsed.Nanoseconds())*float64(res.GOMAXPROCS)/float64(max(res.Ops, 1)), "write-ns/op")
				b.ReportMetric(float64(res.RangePasses), "passes")
			})
		}
	}
}

// BenchmarkMemory reports heap bytes per entry (B/entry) for 1,000,000
// string->int and int->int entries, and the GC CPU time per full cycle
// (gc-cpu-ns) with them resident. impl=none is the GC cycle with no map
// at all (the keys alone resident), the floor the inline representation
// of int->int aims at. ns/op is the time to fill the map and measure it.
func BenchmarkMemory(b *testing.B) {
	// The two key sets are never live at once: a million string keys
	// resident would add their own marking to every int run's GC cycle.
	func() {
		strs := bench.StringKeys(bench.MemoryEntries)
		for _, im := range bench.Impls() {
			b.Run(fmt.Sprintf("keys=string/entries=1000000/impl=%s", im.Name), func(b *testing.B) {
				memory(b, im.Strings, strs)
			})
		}
	}()
	runtime.GC()
	ints := bench.IntKeys(bench.MemoryEntries)
	for _, im := range bench.Impls() {
		b.Run(fmt.Sprintf("keys=int/entries=1000000/impl=%s", im.Name), func(b *testing.B) {
			memory(b, im.Ints, ints)
		})
	}
	b.Run("keys=int/entries=1000000/impl=none", func(b *testing.B) {
		var gc float64
		for range b.N {
			gc += float64(bench.GCCPUPerCycle(bench.Impls()[0].Ints, ints[:0], 3).Nanoseconds())
		}
		runtime.KeepAlive(ints)
		b.ReportMetric(gc/float64(b.N), "gc-cpu-ns")
	})
}

func memory[K comparable](b *testing.B, newMap func() bench.Map[K, int], keys []K) {
	var bytes, gc float64
	for range b.N {
		bytes += bench.BytesPerEntry(newMap, keys)
		gc += float64(bench.GCCPUPerCycle(newMap, keys, 3).Nanoseconds())
	}
	b.ReportMetric(bytes/float64(b.N), "B/entry")
	b.ReportMetric(gc/float64(b.N), "gc-cpu-ns")
}

// BenchmarkReads is reads=100% on a prefilled map, with the copy-on-write
// ReadMostly beside every implementation.
func BenchmarkReads(b *testing.B) {
	impls := append(bench.Impls(), bench.ReadMostlyImpl())
	for _, size := range bench.Sizes() {
		for _, im := range impls {
			for _, kt := range []string{"string", "int"} {
				b.Run(fmt.Sprintf("keys=%s/size=%d/impl=%s", kt, size, im.Name), func(b *testing.B) {
					runEngine(b, im.Name, bench.Mix{ReadPct: 100}.Workload(size, kt))
				})
			}
		}
	}
}

// BenchmarkStoreCost is the cost of one Store into a map of n entries:
// O(n) for ReadMostly, which copies the map, O(1) for the others.
func BenchmarkStoreCost(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		keys := bench.IntKeys(n)
		for _, im := range []bench.Impl{mapguardImpl(), bench.ReadMostlyImpl()} {
			b.Run(fmt.Sprintf("entries=%d/impl=%s", n, im.Name), func(b *testing.B) {
				m := im.Ints()
				bench.Fill(m, keys)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					m.Store(keys[i%n], i)
				}
			})
		}
	}
}

// BenchmarkSnapshot is the cost of a consistent snapshot of a map of n
// int->int entries, with no writer running: SnapshotMap.Snapshot plus
// View.Release, against ReadMostly.Snapshot (one atomic load) and what a
// sync.Map user must do instead, copy the map with Range (which is not
// even consistent). The first two must stay flat as n grows.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{1000, 100_000, 1_000_000} {
		keys := bench.IntKeys(n)
		b.Run(fmt.Sprintf("entries=%d/impl=snapshotmap", n), func(b *testing.B) {
			s := mapguard.NewSnapshotMap[int, int]()
			for i, k := range keys {
				s.Store(k, i)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Snapshot().Release()
			}
		})
		b.Run(fmt.Sprintf("entries=%d/impl=readmostly", n), func(b *testing.B) {
			var r mapguard.ReadMostly[int, int]
			r.Update(func(tx *mapguard.Tx[int, int]) error {
				for i, k := range keys {
					tx.Store(k, i)
				}
				return nil
			})
			b.ReportAllocs()
			for b.Loop() {
				sink = r.Snapshot()
			}
		})
		b.Run(fmt.Sprintf("entries=%d/impl=syncmap-copy", n), func(b *testing.B) {
			var m sync.Map
			for i, k := range keys {
				m.Store(k, i)
			}
			b.ReportAllocs()
			for b.Loop() {
				cp := make(map[int]int, n)
				m.Range(func(k, v any) bool {
					cp[k.(int)] = v.(int)
					return true
				})
				sink = cp
			}
		})
	}
}

var sink map[int]int

func mapguardImpl() bench.Impl {
	for _, im := range bench.Impls() {
		if im.Name == "mapguard" {
			return im
		}
	}
	panic("no mapguard in bench.Impls")
}

// BenchmarkLoadTest: 2, 8 and 64 goroutines Load random keys of 65,536
// string keys for one second while one writer Stores every 10 ms. It
// reports reads/s and the p99 GC pause (gc-p99-ns) of the window; ns/op is
// wall time per read over all readers.
func BenchmarkLoadTest(b *testing.B) {
	keys := bench.StringKeys(1 << 16)
	for _, readers := range []int{2, 8, 64} {
		for _, im := range append(bench.Impls(), bench.ReadMostlyImpl()) {
			b.Run(fmt.Sprintf("readers=%d/impl=%s", readers, im.Name), func(b *testing.B) {
				var res bench.LoadResult
				for range b.N {
					res = bench.RunLoadTest(im.Strings(), keys, readers, time.Second, 10*time.Millisecond)
				}
				b.ReportMetric(1e9/res.ReadsPerSec, "ns/op")
				b.ReportMetric(res.ReadsPerSec, "reads/s")
				b.ReportMetric(float64(res.GCPauseP99.Nanoseconds()), "gc-p99-ns")
				b.ReportMetric(float64(res.GCPauses), "gc-pauses")
			})
		}
	}
}

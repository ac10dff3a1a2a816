package bench

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mapguard/mapguard/internal/gcpause"
)

// Mix is an operation mix of the go test benchmarks: ReadPct percent
// Load; the rest are writes, about two Stores for each Delete, on keys
// drawn uniformly from a prefilled key set. reads=25% is the write-heavy
// mix: 50% Store, 25% Delete, 25% Load. The benchmarks run it through the
// same engine as `mapguard bench` (Workload, Runner).
type Mix struct {
	ReadPct int
}

// Name is the mix's benchmark name, such as "reads=99%".
func (x Mix) Name() string { return fmt.Sprintf("reads=%d%%", x.ReadPct) }

// Mixes returns the standard mixes, read-mostly first.
func Mixes() []Mix { return []Mix{{99}, {90}, {75}, {25}} }

// Workload returns the mix as a workload on keys keys of keyType with
// int64 values (no pointers: mapguard.Map stores them inline), prefilled.
// Its writes split 2:1 between Store and Delete as closely as whole
// percents allow: reads=99% is 1% Store, 90% is 7% and 3%, 75% is 17% and
// 8%, 25% is 50% and 25%.
func (x Mix) Workload(keys int, keyType string) Workload {
	writes := 100 - x.ReadPct
	del := writes / 3
	return Workload{Name: x.Name(), Mix: map[string]int{"load": x.ReadPct, "store": writes - del, "delete": del},
		Keys: keys, KeyType: keyType, ValueType: "int", Distribution: "uniform", Prefill: 1}
}

// Sizes returns the standard key-set sizes: one that fits in L1/L2 caches
// with its map, one that does not.
func Sizes() []int { return []int{1 << 10, 1 << 16} }

// HotKeys is the number of keys LoadOrStore contends on.
const HotKeys = 10

// HotKeysWorkload is LoadOrStore from every goroutine on HotKeys keys of
// keyType, not prefilled, with int64 values: the "get or create" pattern
// of caches.
func HotKeysWorkload(keyType string) Workload {
	return Workload{Name: "loadorstore-hot", Mix: map[string]int{"loadorstore": 100},
		Keys: HotKeys, KeyType: keyType, ValueType: "int", Distribution: "uniform"}
}

// RangeWhileWritingWorkload is full Range passes over keys keys of keyType
// (prefilled, int64 values) by one goroutine while GOMAXPROCS writers
// Store and Delete random keys, half and half. The Result's RangePass is
// the median pass; its ns/op, the writers' time per write during the
// passes, shows whether iteration stalls writers.
func RangeWhileWritingWorkload(keys int, keyType string) Workload {
	return Workload{Name: "range-while-writing", Mix: map[string]int{"store": 50, "delete": 50},
		Keys: keys, KeyType: keyType, ValueType: "int", Distribution: "uniform", Prefill: 1, Rangers: 1}
}

// StringKeys returns n distinct 16-byte keys, like the IDs of a session
// table.
func StringKeys(n int) []string {
	keys, _ := stringKeys(context.Background(), n)
	return keys
}

// stringKeys is StringKeys, returning ctx's error if ctx is done first.
func stringKeys(ctx context.Context, n int) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		if i%cancelEvery == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		keys[i] = fmt.Sprintf("sess-%011x", uint64(i)*0x9e3779b97f4a7c15>>20)
	}
	return keys, nil
}

// IntKeys returns n distinct int keys: sequential IDs, the common case.
func IntKeys(n int) []int {
	keys := make([]int, n)
	for i := range keys {
		keys[i] = i
	}
	return keys
}

// Fill stores every key, with its index as the value. A map whose writes
// copy it (ReadMostly) is filled with one batch, not one copy per key.
func Fill[K comparable](m Map[K, int], keys []K) {
	if bs, ok := m.(batchStorer[K, int]); ok {
		bs.batchStore(keys, func(i int) int { return i }, func() bool { return false })
		return
	}
	for i, k := range keys {
		m.Store(k, i)
	}
}

// rng is a tiny per-goroutine generator (wyrand) so that choosing an
// operation costs a few cycles and the same for every implementation.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0xa0761d6478bd642f
	x := uint64(*r)
	x ^= x >> 32
	x *= 0xe7037ed1a0b428db
	return x ^ x>>29
}

var seeds atomic.Uint64

// newRNG returns a generator seeded differently from every other one in
// the process, so parallel goroutines draw different keys.
func newRNG() rng { return rng(seeds.Add(1) * 0x9e3779b97f4a7c15) }

// MemoryEntries is the entry count of the memory benchmarks.
const MemoryEntries = 1_000_000

// BytesPerEntry fills a new map with keys and returns the heap bytes the
// map holds per entry, after a full GC, not counting the keys' own string
// data, which all implementations share.
func BytesPerEntry[K comparable](newMap func() Map[K, int], keys []K) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := newMap()
	Fill(m, keys)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(keys))
}

// GCCPUPerCycle fills a new map with keys, then forces cycles full GC cycles
// with the map resident, and returns the GC CPU time per cycle, as the
// runtime accounts it (/cpu/classes/gc/total:cpu-seconds): the marking work
// the map's pointers cost every cycle of a real service.
func GCCPUPerCycle[K comparable](newMap func() Map[K, int], keys []K, cycles int) time.Duration {
	m := newMap()
	Fill(m, keys)
	runtime.GC()
	sample := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(sample)
	before := sample[0].Value.Float64()
	for range cycles {
		runtime.GC()
	}
	metrics.Read(sample)
	runtime.KeepAlive(m)
	return time.Duration((sample[0].Value.Float64() - before) / float64(cycles) * 1e9)
}

// LoadResult is what RunLoadTest measured.
type LoadResult struct {
	ReadsPerSec float64       // Loads completed per second, all readers together
	Writes      int           // Stores the writer made
	GCPauseP99  time.Duration // 99th percentile stop-the-world GC pause in the window
	GCPauses    uint64        // GC pauses in the window
}

// RunLoadTest runs readers goroutines calling Load on random keys of m,
// prefilled with keys, for d, while one writer Stores a random key every
// writeEvery. It reports the read throughput and the GC pauses of the
// window (runtime/metrics /sched/pauses/total/gc:seconds): the load of a
// config or routing table served to many request goroutines.
func RunLoadTest[K comparable](m Map[K, int], keys []K, readers int, d, writeEvery time.Duration) LoadResult {
	Fill(m, keys)
	runtime.GC()
	before := gcpause.Read()

	var (
		stop  atomic.Bool
		reads atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range readers {
		wg.Go(func() {
			r := newRNG()
			n := int64(0)
			for !stop.Load() {
				for range 256 {
					m.Load(keys[r.next()%uint64(len(keys))])
				}
				n += 256
			}
			reads.Add(n)
		})
	}
	writes := 0
	wg.Go(func() {
		r := newRNG()
		tick := time.NewTicker(writeEvery)
		defer tick.Stop()
		for !stop.Load() {
			<-tick.C
			x := r.next()
			m.Store(keys[x%uint64(len(keys))], int(x))
			writes++
		}
	})
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)

	p := gcpause.Since(before)
	res := LoadResult{ReadsPerSec: float64(reads.Load()) / elapsed.Seconds(), Writes: writes, GCPauses: p.Count, GCPauseP99: p.P99}
	return res
}

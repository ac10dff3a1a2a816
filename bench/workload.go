package bench

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard/internal/gcpause"
)

// Mix is an operation mix: ReadPct percent Load; the rest are writes, two
// Stores for each Delete, on keys drawn uniformly from a prefilled key set.
// reads=25% is the write-heavy mix: 50% Store, 25% Delete, 25% Load.
type Mix struct {
	ReadPct int
}

// Name is the mix's benchmark name, such as "reads=99%".
func (x Mix) Name() string { return fmt.Sprintf("reads=%d%%", x.ReadPct) }

// Mixes returns the standard mixes, read-mostly first.
func Mixes() []Mix { return []Mix{{99}, {90}, {75}, {25}} }

// Sizes returns the standard key-set sizes: one that fits in L1/L2 caches
// with its map, one that does not.
func Sizes() []int { return []int{1 << 10, 1 << 16} }

// HotKeys is the number of keys LoadOrStore contends on.
const HotKeys = 10

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

// RunMix runs mix on m, prefilled with keys (len(keys) must be a power of
// two), from GOMAXPROCS goroutines.
func RunMix[K comparable](b *testing.B, m Map[K, int], keys []K, mix Mix) {
	if len(keys)&(len(keys)-1) != 0 {
		panic("bench: RunMix needs a power-of-two key count")
	}
	Fill(m, keys)
	mask := uint64(len(keys) - 1)
	// Thresholds out of 300 so that the write share splits 2:1 exactly.
	readBelow := uint64(3 * mix.ReadPct)
	storeBelow := readBelow + uint64(2*(100-mix.ReadPct))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := newRNG()
		for pb.Next() {
			x := r.next()
			k := keys[x&mask]
			switch p := (x >> 32) % 300; {
			case p < readBelow:
				m.Load(k)
			case p < storeBelow:
				m.Store(k, int(x))
			default:
				m.Delete(k)
			}
		}
	})
}

// RunLoadOrStoreHot runs LoadOrStore on HotKeys keys from GOMAXPROCS
// goroutines: the "get or create" pattern of caches.
func RunLoadOrStoreHot[K comparable](b *testing.B, m Map[K, int], keys []K) {
	keys = keys[:HotKeys]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := newRNG()
		for pb.Next() {
			x := r.next()
			m.LoadOrStore(keys[x%HotKeys], int(x))
		}
	})
}

// RunRangeWhileWriting measures one full Range pass over m, prefilled with
// keys, while GOMAXPROCS writers Store and Delete random keys. ns/op is the
// time of one pass; the write-ns/op metric is the writers' average time per
// write during the passes, which shows whether iteration stalls writers.
func RunRangeWhileWriting[K comparable](b *testing.B, m Map[K, int], keys []K) {
	Fill(m, keys)
	writers := runtime.GOMAXPROCS(0)
	var (
		stop   atomic.Bool
		writes atomic.Int64
		wg     sync.WaitGroup
		ready  sync.WaitGroup
	)
	ready.Add(writers)
	for range writers {
		wg.Go(func() {
			r := newRNG()
			ready.Done()
			n := int64(0)
			for !stop.Load() {
				for range 64 {
					x := r.next()
					k := keys[x%uint64(len(keys))]
					if x>>63 == 0 {
						m.Store(k, int(x))
					} else {
						m.Delete(k)
					}
				}
				n += 64
			}
			writes.Add(n)
		})
	}
	ready.Wait()
	// No ReportAllocs: allocation counts are process-wide, so they would
	// count the writers' allocations, not the pass's.
	b.ResetTimer()
	start := time.Now()
	visited := 0
	for range b.N {
		m.Range(func(K, int) bool { visited++; return true })
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(visited)/float64(b.N), "entries/pass")
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	if w := writes.Load(); w > 0 {
		b.ReportMetric(float64(elapsed.Nanoseconds())*float64(writers)/float64(w), "write-ns/op")
	}
}

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

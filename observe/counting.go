package observe

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mapguard/mapguard"
)

// cheaprand is the runtime's per-thread generator: a few instructions,
// no lock, not cryptographic. xsync picks its counter stripes with it; the
// runtime keeps it linkable for such packages (go.dev/issue/67401).
//
//go:linkname cheaprand runtime.cheaprand
func cheaprand() uint32

// Operation counting, exact or sampled.
//
// Counting an operation is a write to a striped cell. A Load costs a few
// nanoseconds and the write (an atomic store is a locked instruction on
// amd64) about as much again, so counting every operation of a busy map
// would nearly double its cheapest operation. An instrumented map
// therefore counts exactly only while it is quiet. Above sampleAbove
// operations per second it samples, counting a sampled operation as
// 2^bits operations:
//
//   - The operations the wrappers count (Delete, Swap, ..., and every
//     SyncMap operation) are sampled one in 64, each independently, by
//     cheaprand: about 1 ns, against 35 ns or more for the operation.
//   - Map's Load and Store are sampled one in 256 inside mapguard.Map
//     (Observe): an operation is sampled when bits of its key's hash
//     agree with a salt, so one that is not costs a mask test and no
//     call, and the wrapper's method inlines to the map's. The sampler
//     goroutine draws a new salt every saltEvery, so over time every key
//     is sampled with probability 1/256.
//
// Either way the decision does not depend on when an operation runs, so
// the counts are unbiased estimates even when the process is starved of
// CPU or throttled, and, for the wrappers' per-operation decisions, even
// in loops that do nothing but map operations. A loop of Loads or Stores
// on one key is the weak case: all of them are sampled or none until the
// salt changes, and the salt changes only when the sampler goroutine runs
// (about 50 times a second when every P is busy), so its estimate varies
// more, and it is low by up to the counting cost's share while sampled.
// When the estimated rate falls below sampleBelow the map counts exactly
// again. WithExactCounts is for when exact counts matter more than the
// cost.
const (
	// saltEvery is how often the sampler draws new salts.
	saltEvery = time.Millisecond

	// sampleAbove is the rate (operations per second) above which a map's
	// counts are sampled; sampleBelow the rate below which they are exact
	// again. The gap keeps a map at the threshold from switching back and
	// forth. At 100,000 operations per second exact counting costs about
	// 0.05% of a core.
	sampleAbove = 100_000
	sampleBelow = 50_000

	// mapBits and opBits are the sampling of Map's Loads and Stores (1 in
	// 256: a sampled Load costs about 30 times an unsampled one) and of
	// the operations the wrappers count (1 in 64).
	mapBits = 8
	opBits  = 6

	// checkEvery is how many increments of one cell pass between two
	// checks of the rate while counting exactly; checkGap the least time
	// between two checks. rateEvery is how often the sampler checks the
	// rate of a sampled map.
	checkEvery = 1024
	checkGap   = 10 * time.Millisecond
	rateEvery  = 100 * time.Millisecond
)

// stripes is the number of cells of the operation counters. A goroutine
// picks its cell by a hash of its stack address, so two goroutines share
// a cell with probability 1/stripes.
const stripes = 64

type cell struct {
	c [numCounters]atomic.Uint64
	_ [(64 - (numCounters*8)%64) % 64]byte
}

// opCounters are counts (or estimates) striped over cells.
type opCounters struct{ cells [stripes]cell }

// stackHash hashes the calling goroutine's stack address: its top bits
// pick the goroutine's cell.
func stackHash() uint64 {
	var probe byte
	// Goroutine stacks start at 2 KiB, so neighbours can be 2 KiB apart:
	// drop fewer address bits than that before hashing.
	return uint64(uintptr(unsafe.Pointer(&probe))) >> 10 * 0x9e3779b97f4a7c15
}

// add adds n to counter c in the cell that hash x picks and returns the
// cell's new value. It is an atomic add: a load and a store would be
// cheaper, but a goroutine paused between them could move the cell back
// by what others added meanwhile, and a Prometheus counter must never go
// down. Only exact counting (a quiet map) and sampled operations add.
func (o *opCounters) add(c counter, x, n uint64) uint64 {
	return o.cells[x>>(64-6)].c[c].Add(n)
}

func (o *opCounters) sum(c counter) uint64 {
	var n uint64
	for i := range o.cells {
		n += o.cells[i].c[c].Load()
	}
	return n
}

func (o *opCounters) total() uint64 {
	var n uint64
	for c := range numCounters {
		n += o.sum(c)
	}
	return n
}

// counts is an instrumented map's operation counts.
type counts struct {
	raw opCounters
	// exactAdds are counts added in bulk (Clear, DeleteFunc), never
	// sampled.
	exactAdds [numCounters]atomic.Uint64
	// bits is how the wrappers count: one operation in 2^bits, as 2^bits
	// (0: every operation).
	bits atomic.Uint32
	// sampling is set while the counts are sampled.
	sampling atomic.Bool
	exact    bool // WithExactCounts: never sample
	// above and below are the rates (operations per second) above which
	// the counts are sampled and below which they are exact again:
	// sampleAbove and sampleBelow, except in tests.
	above, below float64
	// mapHook sets how Map's Load and Store are counted (Observe); nil
	// for SyncMap, whose wrapper counts every operation.
	mapHook func(bits uint, salt uint64)
	// lastCheck (ns since epoch) and checkedRaw are the time and the
	// total of the last rate check.
	lastCheck  atomic.Int64
	checkedRaw atomic.Uint64
}

// epoch is the origin of lastCheck's clock (monotonic).
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

// init sets how c counts: never sampled if exact; else sampled above the
// rate above (sampleAbove if 0) and exact again below half of it.
func (c *counts) init(exact bool, above float64, mapHook func(bits uint, salt uint64)) {
	c.exact, c.mapHook = exact, mapHook
	c.above, c.below = sampleAbove, sampleBelow
	if above > 0 {
		c.above, c.below = above, above/2
	}
	c.setMode(0, 0, 0)
}

// setMode samples the wrappers' operations with bits opb and Map's Loads
// and Stores with bits lb and salt; 0 bits count every operation.
func (c *counts) setMode(opb, lb uint, salt uint64) {
	c.bits.Store(uint32(opb))
	if c.mapHook != nil {
		c.mapHook(lb, salt)
	}
}

// inc counts one operation, or, while sampling, one in 2^bits as 2^bits.
func (c *counts) inc(k counter) {
	bits := c.bits.Load()
	if bits != 0 && cheaprand()&(1<<bits-1) != 0 {
		return
	}
	if c.raw.add(k, stackHash(), 1<<bits)%checkEvery == 0 && bits == 0 {
		c.checkRate()
	}
}

// count counts a hit as yes, anything else as no.
func (c *counts) count(hit bool, yes, no counter) {
	if hit {
		c.inc(yes)
	} else {
		c.inc(no)
	}
}

// countObserved counts a Load or Store that Map's Observe reported, as n
// operations.
func (c *counts) countObserved(op mapguard.Op, hit bool, n uint64) {
	k := storeStored
	if op == mapguard.OpLoad {
		k = loadMiss
		if hit {
			k = loadHit
		}
	}
	if c.raw.add(k, stackHash(), n)%checkEvery == 0 && n == 1 {
		c.checkRate()
	}
}

// addExact adds n operations counted in bulk.
func (c *counts) addExact(k counter, n uint64) { c.exactAdds[k].Add(n) }

// checkRate switches an exact map to sampling when its rate since the
// last check is above c.above (sampleAbove).
func (c *counts) checkRate() {
	if c.exact || c.sampling.Load() {
		return
	}
	t := now()
	last := c.lastCheck.Load()
	if t-last < int64(checkGap) || !c.lastCheck.CompareAndSwap(last, t) {
		return
	}
	n := c.raw.total()
	prev := c.checkedRaw.Swap(n)
	if last == 0 || n < prev || float64(n-prev) < c.above*float64(t-last)/1e9 {
		return
	}
	if c.sampling.CompareAndSwap(false, true) {
		c.setMode(opBits, mapBits, rand.Uint64())
		theSampler.add(c)
	}
}

// values returns every counter's count (exact) or estimate (sampled).
func (c *counts) values() [numCounters]float64 {
	var v [numCounters]float64
	for k := range numCounters {
		v[k] = float64(c.raw.sum(k) + c.exactAdds[k].Load())
	}
	return v
}

// sampler is the goroutine that draws the Load and Store salts of every
// sampled map and returns quiet maps to exact counting. It runs while at
// least one map is sampled.
type sampler struct {
	mu      sync.Mutex
	set     map[*counts]struct{}
	running bool
}

var theSampler sampler

func (s *sampler) add(c *counts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = make(map[*counts]struct{})
	}
	s.set[c] = struct{}{}
	if !s.running {
		s.running = true
		go s.loop()
	}
}

// loop draws new salts every saltEvery and, every rateEvery, returns the
// maps whose estimated rate fell below their c.below (sampleBelow) to
// exact counting. It
// ends when no map is sampled, so it holds a map only while it is busy.
func (s *sampler) loop() {
	var batch []*counts
	lastRate := time.Now()
	for {
		time.Sleep(saltEvery)
		clear(batch) // hold no map that left the set
		batch = batch[:0]
		s.mu.Lock()
		for c := range s.set {
			batch = append(batch, c)
		}
		s.mu.Unlock()
		for _, c := range batch {
			c.setMode(opBits, mapBits, rand.Uint64())
		}
		if time.Since(lastRate) < rateEvery {
			continue
		}
		lastRate = time.Now()
		var quiet []*counts
		for _, c := range batch {
			t := now()
			n := c.raw.total()
			last, prev := c.lastCheck.Swap(t), c.checkedRaw.Swap(n)
			if n >= prev && float64(n-prev) < c.below*float64(t-last)/1e9 {
				quiet = append(quiet, c)
			}
		}
		// Under s.mu, so that a map switching back to sampling (checkRate)
		// adds itself only after it has left the set.
		s.mu.Lock()
		for _, c := range quiet {
			c.setMode(0, 0, 0)
			c.lastCheck.Store(0)
			c.sampling.Store(false)
			delete(s.set, c)
		}
		if len(s.set) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

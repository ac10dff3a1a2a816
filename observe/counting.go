package observe

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Operation counting, exact or sampled.
//
// Counting an operation is a write to a striped cell. A Load costs a few
// nanoseconds and the write (an atomic store is a locked instruction on
// amd64) about as much again, so counting every operation of a busy map
// would nearly double its cheapest operation. An instrumented map
// therefore counts exactly only while it is quiet. Above sampleAbove
// operations per second it switches to sampling: one shared goroutine
// (the sampler) opens a counting window of sampleWindow at a random
// offset in every samplePeriod, and what each window counted is scaled by
// the period's measured length over the window's. Between windows an
// operation pays one atomic load of a flag. When the estimated rate falls
// below sampleBelow the map counts exactly again. Clear's deletions are
// always exact.
//
// The estimate assumes the rate inside a window is the rate outside it.
// For operations that arrive as requests do, it is: counting makes each
// a little slower, not less frequent (the paced tests stay within 15%,
// typically +2..+8%). In a loop that does nothing but map operations
// back to back, the slower counted operations are also fewer, and the
// estimate is low by up to the counting cost's share (-60% measured for a
// Load-only loop): WithExactCounts is for when exact counts matter more
// than the cost.
var samplePeriod, sampleWindow atomic.Int64 // time.Duration; tests shorten them

func init() {
	samplePeriod.Store(int64(100 * time.Millisecond))
	sampleWindow.Store(int64(time.Millisecond))
}

const (
	// sampleAbove is the rate (operations per second) above which a map's
	// counts are sampled; sampleBelow the rate below which they are exact
	// again. The gap keeps a map at the threshold from switching back and
	// forth. At 100,000 operations per second exact counting costs about
	// 0.05% of a core.
	sampleAbove = 100_000
	sampleBelow = 50_000

	// checkEvery is how many increments of one cell pass between two
	// checks of the rate while counting exactly; checkGap the least time
	// between two checks.
	checkEvery = 1024
	checkGap   = 10 * time.Millisecond
	// tickEvery is how many increments of one cell pass between two looks
	// at the clock during a window: the operations close a window at its
	// deadline themselves, as the sampler goroutine may wake late when
	// every P is busy (up to the 10 ms preemption tick), which would make
	// windows, and their cost, ten times as long.
	tickEvery = 64
)

// stripes is the number of cells of the operation counters. A goroutine
// picks its cell by a hash of its stack address, so two goroutines share
// a cell with probability 1/stripes.
const stripes = 64

type cell struct {
	c [numCounters]atomic.Uint64
	_ [(64 - (numCounters*8)%64) % 64]byte
}

// opCounters are raw counts: one per counted operation, in either mode.
type opCounters struct{ cells [stripes]cell }

// inc adds one and returns the cell's new value. It is an atomic load
// and store rather than an atomic add: no read-modify-write, and the
// cell's line stays in the counting core's cache. The price is that two
// goroutines counting in the same cell at the same instant can lose one
// increment: the counts may undercount slightly under contention, never
// overcount.
func (o *opCounters) inc(c counter) uint64 {
	var probe byte
	// Goroutine stacks start at 2 KiB, so neighbours can be 2 KiB apart:
	// drop fewer address bits than that before hashing.
	i := (uint64(uintptr(unsafe.Pointer(&probe))) >> 10 * 0x9e3779b97f4a7c15) >> (64 - 6)
	p := &o.cells[i&(stripes-1)].c[c]
	n := p.Load() + 1
	p.Store(n)
	return n
}

func (o *opCounters) sum(c counter) uint64 {
	var n uint64
	for i := range o.cells {
		n += o.cells[i].c[c].Load()
	}
	return n
}

// counts is an instrumented map's operation counts.
type counts struct {
	raw opCounters
	// on is set while operations are counted: always when exact, during
	// windows when sampled.
	on atomic.Bool
	// sampling is set while the counts are sampled.
	sampling atomic.Bool
	exact    bool // WithExactCounts: never sample
	// loadHook turns the map's own Load counting on or off (Map's Load is
	// counted inside mapguard.Map, see ObserveLoads); nil for SyncMap.
	loadHook func(on bool)
	// cleared counts Clear's deletions, exactly in both modes.
	cleared atomic.Uint64
	// lastCheck (ns since epoch) and checkedRaw are the time and the
	// total of the last rate check while exact.
	lastCheck  atomic.Int64
	checkedRaw atomic.Uint64
	// window is the state of the counting window: its deadline (ns since
	// epoch, > 0) while open, minus the time it closed (< 0) once closed.
	window atomic.Int64

	mu       sync.Mutex
	folded   [numCounters]uint64  // raw counts already in total
	total    [numCounters]float64 // counts, or estimates, up to lastFold
	lastFold time.Time
	counted  time.Duration // window time since lastFold while sampling
}

// epoch is the origin of lastCheck's and window's clock (monotonic).
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

func (c *counts) init(exact bool, loadHook func(bool)) {
	c.exact, c.loadHook = exact, loadHook
	c.lastFold = time.Now()
	c.setOn(true)
}

func (c *counts) setOn(on bool) {
	c.on.Store(on)
	if c.loadHook != nil {
		c.loadHook(on)
	}
}

// inc counts one operation if counting is on.
func (c *counts) inc(k counter) {
	if !c.on.Load() {
		return
	}
	if n := c.raw.inc(k); n%tickEvery == 0 {
		c.tick(n)
	}
}

// tick closes the window at its deadline while sampling, and checks the
// rate every checkEvery increments while exact.
func (c *counts) tick(n uint64) {
	if c.sampling.Load() {
		if end := c.window.Load(); end > 0 {
			if t := now(); t >= end {
				c.closeWindow(end, t)
			}
		}
		return
	}
	if n%checkEvery == 0 {
		c.checkRate()
	}
}

// openWindow starts counting until the deadline end.
func (c *counts) openWindow(end int64) {
	c.window.Store(end)
	c.setOn(true)
}

// closeWindow stops counting at t if the window whose deadline is end is
// still open.
func (c *counts) closeWindow(end, t int64) {
	if c.window.CompareAndSwap(end, -t) {
		c.setOn(false)
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

func (c *counts) rawTotal() uint64 {
	var n uint64
	for k := range numCounters {
		n += c.raw.sum(k)
	}
	return n
}

// checkRate switches an exact map to sampling when its rate since the
// last check is above sampleAbove.
func (c *counts) checkRate() {
	if c.exact || c.sampling.Load() {
		return
	}
	t := now()
	last := c.lastCheck.Load()
	if t-last < int64(checkGap) || !c.lastCheck.CompareAndSwap(last, t) {
		return
	}
	n := c.rawTotal()
	prev := c.checkedRaw.Swap(n)
	if last == 0 || float64(n-prev) < sampleAbove*float64(t-last)/1e9 {
		return
	}
	c.mu.Lock()
	if c.sampling.Load() {
		c.mu.Unlock()
		return
	}
	c.foldLocked(time.Now())
	c.sampling.Store(true)
	c.setOn(false)
	c.mu.Unlock()
	theSampler.add(c)
}

// foldLocked moves the raw counts since the last fold into total, scaled
// by the period over the counted window while sampling. It returns the
// rate of the period folded, in operations per second, and false if
// nothing was folded because no window was counted yet. c.mu is held.
func (c *counts) foldLocked(now time.Time) (rate float64, folded bool) {
	scale := 1.0
	period := now.Sub(c.lastFold)
	if c.sampling.Load() {
		if c.counted <= 0 {
			return 0, false
		}
		scale = float64(period) / float64(c.counted)
	}
	var ops float64
	for k := range numCounters {
		n := c.raw.sum(k)
		d := float64(n-c.folded[k]) * scale
		c.folded[k] = n
		c.total[k] += d
		ops += d
	}
	c.lastFold, c.counted = now, 0
	if period > 0 {
		rate = ops / period.Seconds()
	}
	return rate, true
}

// values returns every counter's count (exact) or estimate (sampled).
func (c *counts) values() [numCounters]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sampling.Load() {
		c.foldLocked(time.Now())
	}
	v := c.total
	v[clearDeleted] += float64(c.cleared.Load())
	return v
}

// sampler is the loop that opens the counting windows of every sampled
// map. It runs while at least one map is sampled.
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

// loop runs one period per iteration: wait a random offset, count for a
// window, wait out the period, fold. A map whose rate fell below
// sampleBelow returns to exact counting and leaves the set; the loop ends
// when the set is empty (so the sampler holds a map only while it is busy).
func (s *sampler) loop() {
	var batch []*counts
	for {
		period, window := time.Duration(samplePeriod.Load()), time.Duration(sampleWindow.Load())
		offset := rand.N(period - window)
		time.Sleep(offset)

		batch = batch[:0]
		s.mu.Lock()
		for c := range s.set {
			batch = append(batch, c)
		}
		s.mu.Unlock()
		start := now()
		for _, c := range batch {
			c.openWindow(start + int64(window))
		}
		time.Sleep(window)
		for _, c := range batch {
			end := c.window.Load()
			if end > 0 {
				c.closeWindow(end, now())
			}
			if closed := -c.window.Load(); closed > start {
				c.mu.Lock()
				c.counted += time.Duration(closed - start)
				c.mu.Unlock()
			}
		}
		time.Sleep(period - offset - window)

		var quiet []*counts
		for _, c := range batch {
			c.mu.Lock()
			if rate, ok := c.foldLocked(time.Now()); ok && rate < sampleBelow {
				c.sampling.Store(false)
				c.lastCheck.Store(0)
				c.setOn(true)
				quiet = append(quiet, c)
			}
			c.mu.Unlock()
		}
		s.mu.Lock()
		for _, c := range quiet {
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

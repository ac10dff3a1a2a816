package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/rollout"
)

// emitTick is how often the emitter emits what the rate owes: 100 times a
// second keeps the stream smooth without a timer per event.
const emitTick = 10 * time.Millisecond

// emitter emits events to the sink at a steady rate until stopped. The
// soak pauses it (holding mu) to flush and check the sink's accounting.
type emitter struct {
	sink *rollout.KafkaSink
	rate int // events per second
	// mu is held by the emitter while it emits a tick's events, and by
	// the soak while it is paused.
	mu sync.Mutex
	// emitted counts Emit calls, and errs those that returned an error
	// (with the Drop policy: the events dropped).
	emitted, errs atomic.Int64
	stop          chan struct{}
	done          chan struct{}
}

func newEmitter(sink *rollout.KafkaSink, rate int) *emitter {
	e := &emitter{sink: sink, rate: rate, stop: make(chan struct{}), done: make(chan struct{})}
	go e.loop()
	return e
}

func (e *emitter) loop() {
	defer close(e.done)
	t := time.NewTicker(emitTick)
	defer t.Stop()
	owed := 0.0
	i := 0
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		owed += float64(e.rate) * emitTick.Seconds()
		e.mu.Lock()
		for ; owed >= 1; owed-- {
			if err := e.sink.Emit(context.Background(), event(i)); err != nil {
				e.errs.Add(1)
			}
			e.emitted.Add(1)
			i++
		}
		e.mu.Unlock()
	}
}

// pause stops the emitter after its current tick; resume lets it go on,
// without catching up on the ticks it missed.
func (e *emitter) pause()  { e.mu.Lock() }
func (e *emitter) resume() { e.mu.Unlock() }

// close ends the emitter. It must be called while paused, and leaves it
// unpaused.
func (e *emitter) close() {
	close(e.stop)
	e.mu.Unlock()
	<-e.done
}

// event is the i'th event: 10,000 units over two arms, as an experiment
// would emit them.
func event(i int) rollout.Event {
	arm := "control"
	if i%2 == 1 {
		arm = "treatment"
	}
	return rollout.Event{
		Experiment: "soak", Arm: arm, Unit: "u" + strconv.Itoa(i%10_000), Time: time.Now(),
		Metrics: map[string]float64{"latency_ms": float64(i%997) / 10},
	}
}

// item is a Map value: a pointer, so that every write allocates as a
// service's values would.
type item struct {
	n uint64
	_ [32]byte // a payload: a value as large as a small record
}

// mapLoad runs a mixed load on a Map and a SnapshotMap, and takes,
// reads and releases Views of the SnapshotMap.
type mapLoad struct {
	m    *mapguard.Map[uint64, *item]
	sm   *mapguard.SnapshotMap[uint64, uint64]
	keys uint64
	// opsPerWorker paces each worker (operations per second on each map).
	opsPerWorker int
	views        int           // Views alive at once, at most
	viewEvery    time.Duration // how often a View is taken
	// mNet and smNet are the maps' insertions less their deletions, as
	// the operations' results report them: each map's Size once the load
	// stops.
	mNet, smNet atomic.Int64
	ops         atomic.Int64
	// viewsTaken and viewsReleased count Views; maxLive is the most alive
	// at once.
	viewsTaken, viewsReleased, maxLive atomic.Int64
	// viewErr is the first View whose Range did not see Len entries.
	viewErr atomic.Pointer[string]
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startMapLoad starts workers goroutines loading both maps over keys keys
// at opsPerSecond operations a second in all, and the View taker.
func startMapLoad(keys, workers, opsPerSecond, views int, viewEvery time.Duration) *mapLoad {
	l := &mapLoad{
		m:    mapguard.NewMap[uint64, *item](),
		sm:   mapguard.NewSnapshotMap[uint64, uint64](),
		keys: uint64(keys), views: views, viewEvery: viewEvery,
		stop: make(chan struct{}),
	}
	if workers > 0 {
		l.opsPerWorker = max(1, opsPerSecond/workers)
	}
	for w := range workers {
		l.wg.Go(func() { l.work(uint64(w)) })
	}
	l.wg.Go(l.takeViews)
	return l
}

// batch is how many operations a worker does between two checks of the
// clock and of stop.
const batch = 500

func (l *mapLoad) work(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x50a4))
	start := time.Now()
	done := 0
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		for range batch {
			l.op(r)
		}
		done += batch
		l.ops.Add(batch)
		// Sleep off what is ahead of the pace.
		if ahead := time.Duration(float64(done)/float64(l.opsPerWorker)*float64(time.Second)) - time.Since(start); ahead > 0 {
			select {
			case <-l.stop:
				return
			case <-time.After(ahead):
			}
		}
	}
}

// op does one random operation on each map, counting what it inserted
// and deleted.
func (l *mapLoad) op(r *rand.Rand) {
	k := r.Uint64N(l.keys)
	switch x := r.IntN(100); {
	case x < 60:
		l.m.Load(k)
		l.sm.Load(k)
	case x < 70:
		if _, loaded := l.m.Swap(k, &item{n: k}); !loaded {
			l.mNet.Add(1)
		}
		if _, loaded := l.sm.Swap(k, k); !loaded {
			l.smNet.Add(1)
		}
	case x < 78:
		if _, loaded := l.m.LoadOrStore(k, &item{n: k}); !loaded {
			l.mNet.Add(1)
		}
		if _, loaded := l.sm.LoadOrStore(k, k); !loaded {
			l.smNet.Add(1)
		}
	case x < 88:
		if _, loaded := l.m.LoadAndDelete(k); loaded {
			l.mNet.Add(-1)
		}
		if _, loaded := l.sm.LoadAndDelete(k); loaded {
			l.smNet.Add(-1)
		}
	case x < 98:
		// Delete even values, bump odd ones, create absent ones.
		var was bool
		_, ok := l.m.Compute(k, func(old *item, loaded bool) (*item, mapguard.ComputeOp) {
			was = loaded
			if loaded && old.n%2 == 0 {
				return nil, mapguard.DeleteOp
			}
			return &item{n: k + 1}, mapguard.UpdateOp
		})
		l.mNet.Add(b2i(ok) - b2i(was))
		_, ok = l.sm.Compute(k, func(old uint64, loaded bool) (uint64, mapguard.ComputeOp) {
			was = loaded
			if loaded && old%2 == 0 {
				return 0, mapguard.DeleteOp
			}
			return old + 1, mapguard.UpdateOp
		})
		l.smNet.Add(b2i(ok) - b2i(was))
	default:
		n := 0
		l.m.Range(func(uint64, *item) bool { n++; return n < 100 })
		l.sm.Range(func(uint64, uint64) bool { n++; return n < 200 })
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// takeViews takes a View every viewEvery, releasing the oldest first if
// views are alive, reads it whole (its Range must see exactly Len
// entries: a View never changes), and releases all when stopped.
func (l *mapLoad) takeViews() {
	var live []*mapguard.View[uint64, uint64]
	defer func() {
		for _, v := range live {
			v.Release()
			l.viewsReleased.Add(1)
		}
	}()
	t := time.NewTicker(l.viewEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if len(live) == l.views {
			live[0].Release()
			l.viewsReleased.Add(1)
			live = slices.Delete(live, 0, 1)
		}
		v := l.sm.Snapshot()
		l.viewsTaken.Add(1)
		live = append(live, v)
		if n := int64(len(live)); n > l.maxLive.Load() {
			l.maxLive.Store(n)
		}
		seen := 0
		for range v.Keys() {
			seen++
		}
		if n := v.Len(); n != seen && l.viewErr.Load() == nil {
			msg := fmt.Sprintf("View %d: Range saw %d entries, Len says %d", l.viewsTaken.Load(), seen, n)
			l.viewErr.CompareAndSwap(nil, &msg)
		}
		// The oldest View still reads its own time.
		live[0].Load(uint64(seen) % l.keys)
	}
}

// close stops the load and releases every View, and waits.
func (l *mapLoad) close() {
	close(l.stop)
	l.wg.Wait()
}

package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/internal/gcpause"
)

// This file is one run of a workload on one map, in the order it happens:
// fill (prefill the map and measure its heap), prepare (the check's records
// and the latency histograms), the mix (workers, plus rangers and a bulk
// writer), measure (GC, allocations, latencies), and check.

// mixPlan is what a run's workers share about the mix: cumulative
// thresholds out of 100 per operation, and whether its writes are shared.
//
// Owner-partitioned writes: in a mix with more than one kind of write,
// key i is written only by goroutine i % g, so each goroutine knows the
// exact final state of its keys. A mix whose only write is LoadOrStore or
// Compute shares every key among the goroutines (the contention it is
// about) and is checked by a single winner per key, or by the sum of the
// increments.
type mixPlan struct {
	ops    [100]Op // ops[p] is the operation a draw p of 0..99 picks
	shared bool
	g      int // goroutines running the mix
}

func planMix(w Workload) mixPlan {
	p := mixPlan{g: w.Goroutines}
	if p.g == 0 {
		p.g = runtime.GOMAXPROCS(0)
	}
	writeKinds, next := 0, 0
	for op := range numOps {
		pct := w.Mix[opNames[op]]
		for range pct {
			p.ops[next] = op
			next++
		}
		if op != OpLoad && op != OpRange && pct > 0 {
			writeKinds++
		}
	}
	p.shared = writeKinds == 1 && (w.Mix["loadorstore"] > 0 || w.Mix["compute"] > 0)
	return p
}

// model is one goroutine's record of what it did, for the check.
type model struct {
	last     []int64 // owned writes: the value each key was left with, or absent
	incs     []int64 // shared Compute: increments per key by this goroutine
	winners  []int64 // shared LoadOrStore: stores that won, per key
	seen     []int64 // shared LoadOrStore: a value loaded, per key (-1 none)
	mismatch string
}

// absent marks a key deleted, or never stored, in model.last: every value
// a run stores (a key's index, a sequence number, a count) is positive.
const absent = -1

// describeLast says what model.last holds for a key.
func describeLast(v int64) string {
	if v == absent {
		return "it absent"
	}
	return fmt.Sprintf("%d", v)
}

// newModels makes each goroutine's record: for owned writes, the prefill
// state of its keys.
func newModels(ctx context.Context, p mixPlan, nkeys, prefilled int) ([]*model, error) {
	models := make([]*model, p.g)
	for i := range models {
		md := &model{}
		if p.shared {
			md.incs = make([]int64, nkeys)
			md.winners = make([]int64, nkeys)
			md.seen = make([]int64, nkeys)
			for k := range md.seen {
				if k%cancelEvery == 0 && ctx.Err() != nil {
					return nil, ctx.Err()
				}
				md.seen[k] = -1
			}
		} else {
			md.last = make([]int64, nkeys)
			for k := range md.last {
				if k%cancelEvery == 0 && ctx.Err() != nil {
					return nil, ctx.Err()
				}
				md.last[k] = absent
				if k < prefilled && k%p.g == i {
					md.last[k] = int64(k)
				}
			}
		}
		models[i] = md
	}
	return models, nil
}

// fill stores the first prefilled keys with their prefill values and
// returns the heap the map holds per entry: the difference between two
// full collections, before the map was made and after the fill.
func fill[K comparable, V any](ctx context.Context, impl string, newMap func(string) (Map[K, V], error), keys []K, value func(int) V) (m Map[K, V], bytesPerEntry float64, phase string, err error) {
	if err := collect(ctx); err != nil {
		return nil, 0, "collecting garbage", err
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if m, err = newMap(impl); err != nil {
		return nil, 0, "", err
	}
	if len(keys) == 0 {
		return m, 0, "", nil
	}
	enterPhase("prefilling")
	if bs, ok := m.(batchStorer[K, V]); ok {
		if !bs.batchStore(keys, value, func() bool { return ctx.Err() != nil }) {
			return nil, 0, "prefilling", ctx.Err()
		}
	} else {
		for i, k := range keys {
			if i%cancelEvery == 0 && ctx.Err() != nil {
				return nil, 0, "prefilling", ctx.Err()
			}
			m.Store(k, value(i))
		}
	}
	if err := collect(ctx); err != nil {
		return nil, 0, "collecting garbage", err
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	// The keys and values were made before ms0: the difference is the map's.
	return m, float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc)) / float64(len(keys)), "", nil
}

// worker is one goroutine of the mix, with what it shares with the others.
type worker[K comparable, V any] struct {
	id       int
	m        Map[K, V]
	keys     []K
	plan     *mixPlan
	picker   keyPicker
	vs       values[V]
	md       *model
	h        *[numOps]*hdrhistogram.Histogram
	stop     *atomic.Bool
	deadline time.Time
	pass     func(K, V) bool
}

// run does up to n operations of the mix, until stop is set, and returns
// how many it did.
func (wk *worker[K, V]) run(n int64) int64 {
	r := newRNG()
	seq := int64(len(wk.keys)) + int64(wk.id) // above every prefill value
	// Made once: a closure made per call would escape through the
	// interface and cost every implementation an allocation.
	inc := func(old V, loaded bool) (V, mapguard.ComputeOp) {
		return wk.vs.inc(old, loaded), mapguard.UpdateOp
	}
	g := wk.plan.g
	var sampledOnce [numOps]bool // an operation of the kind was sampled
	var done int64
	for done < n && !wk.stop.Load() {
		// Look at stop after each operation, not each 64: one ReadMostly
		// write on a large map takes milliseconds.
		for i := 0; i < 64 && !wk.stop.Load(); i++ {
			x := r.next()
			ki := wk.picker.pick(x)
			op := wk.plan.ops[(x>>40)%100]
			if !wk.plan.shared && op != OpLoad && op != OpRange {
				// Move to the nearest key this goroutine owns (a mask
				// where g is a power of two: a division costs more than a
				// Load).
				if g&(g-1) == 0 {
					ki = ki&^(g-1) | wk.id
				} else {
					ki = ki - ki%g + wk.id
				}
				if ki >= len(wk.keys) {
					ki = wk.id % len(wk.keys)
					if ki%g != wk.id {
						op = OpLoad // no key of ours: read instead
					}
				}
			}
			var t0 time.Time
			// Sample 1 op in 64, and the first of each kind, so that a
			// rare operation that ran has a latency.
			sampled := done%sampleEvery == 0 || !sampledOnce[op]
			if sampled {
				sampledOnce[op] = true
				t0 = time.Now()
			}
			if op == OpStore || op == OpLoadOrStore {
				seq += int64(g)
			}
			wk.do(op, ki, seq, inc)
			if sampled {
				now := time.Now()
				wk.h[op].RecordValue(int64(now.Sub(t0)))
				// The goroutines end the run themselves at its deadline:
				// the timer's goroutine may wait for a CPU 10 ms and more
				// on a busy machine.
				if now.After(wk.deadline) {
					wk.stop.Store(true)
				}
			}
			done++
		}
	}
	return done
}

// do runs one operation on key ki (a Store or LoadOrStore stores the
// sequence number seq) and records what it did for the check.
func (wk *worker[K, V]) do(op Op, ki int, seq int64, inc func(V, bool) (V, mapguard.ComputeOp)) {
	k, md := wk.keys[ki], wk.md
	switch op {
	case OpLoad:
		wk.m.Load(k)
	case OpStore:
		wk.m.Store(k, wk.vs.make(seq))
		md.last[ki] = seq
	case OpDelete:
		wk.m.Delete(k)
		md.last[ki] = absent
	case OpLoadOrStore:
		v, loaded := wk.m.LoadOrStore(k, wk.vs.make(seq))
		got := wk.vs.seq(v)
		switch {
		case !wk.plan.shared:
			if !loaded {
				md.last[ki] = seq
			} else if md.last[ki] != got {
				md.mismatch = fmt.Sprintf("LoadOrStore of key %d loaded %d; its owner's last write left %s", ki, got, describeLast(md.last[ki]))
			}
		case loaded:
			md.seen[ki] = got
		default:
			md.winners[ki]++
			md.seen[ki] = seq
		}
	case OpCompute:
		wk.m.Compute(k, inc)
		switch {
		case wk.plan.shared:
			md.incs[ki]++
		case md.last[ki] != absent:
			md.last[ki]++
		default:
			md.last[ki] = 1
		}
	case OpRange:
		wk.m.Range(wk.pass)
	}
}

// aux runs the goroutines beside the mix: rangers doing full passes back
// to back (at least one each), and the bulk writer. wait waits for them
// and returns the rangers' pass times.
func aux[K comparable, V any](ctx context.Context, w Workload, m Map[K, V], keys []K, vs values[V], stop *atomic.Bool, pass func(K, V) bool) (wait func() []time.Duration) {
	var (
		wg     sync.WaitGroup
		passMu sync.Mutex
		passes []time.Duration
	)
	for range w.Rangers {
		wg.Go(func() {
			// At least one pass, even when the run ends before this
			// goroutine gets a CPU.
			for first := true; first || !stop.Load(); first = false {
				t0 := time.Now()
				m.Range(pass)
				d := time.Since(t0)
				passMu.Lock()
				passes = append(passes, d)
				passMu.Unlock()
			}
		})
	}
	if w.BulkEvery > 0 {
		wg.Go(func() {
			// The bulk writer owns no keys in the check: it rewrites the
			// prefilled values it finds, keeping each key's value.
			t := time.NewTicker(w.BulkEvery)
			defer t.Stop()
			r := rand.New(rand.NewPCG(3, 4))
			for !stop.Load() {
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
				for range w.BulkSize {
					k := r.IntN(len(keys))
					if v, ok := m.Load(keys[k]); ok {
						m.Store(keys[k], vs.make(vs.seq(v)))
					}
				}
			}
		})
	}
	return func() []time.Duration {
		wg.Wait()
		return passes
	}
}

// gcMark is the GC and allocation counters at the start of the mix.
type gcMark struct {
	samples []metrics.Sample
	cycles  uint64
	cpu     float64
	pauses  gcpause.Reading
	mem     runtime.MemStats
}

func markGC() *gcMark {
	g := &gcMark{samples: []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
	}}
	metrics.Read(g.samples)
	g.cycles, g.cpu = g.samples[0].Value.Uint64(), g.samples[1].Value.Float64()
	g.pauses = gcpause.Read()
	runtime.ReadMemStats(&g.mem)
	return g
}

// since fills res's allocation and GC fields with what happened since the
// mark, over res.Ops operations.
func (g *gcMark) since(res *Result) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metrics.Read(g.samples)
	res.AllocsPerOp = float64(ms.Mallocs-g.mem.Mallocs) / float64(max(res.Ops, 1))
	res.BytesPerOp = float64(ms.TotalAlloc-g.mem.TotalAlloc) / float64(max(res.Ops, 1))
	res.GCCycles = g.samples[0].Value.Uint64() - g.cycles
	res.GCCPU = time.Duration((g.samples[1].Value.Float64() - g.cpu) * 1e9)
	res.GCPauseP99 = gcpause.Since(g.pauses).P99
}

// latencies merges the workers' histograms into per-operation quantiles.
func latencies(hists [][numOps]*hdrhistogram.Histogram) map[string]Quantiles {
	out := map[string]Quantiles{}
	for op := range numOps {
		var merged *hdrhistogram.Histogram
		for i := range hists {
			if hh := hists[i][op]; hh != nil {
				if merged == nil {
					merged = hh
				} else {
					merged.Merge(hh)
				}
			}
		}
		if merged != nil && merged.TotalCount() > 0 {
			out[opNames[op]] = Quantiles{
				P50:     time.Duration(merged.ValueAtQuantile(50)),
				P99:     time.Duration(merged.ValueAtQuantile(99)),
				P999:    time.Duration(merged.ValueAtQuantile(99.9)),
				Samples: merged.TotalCount(),
			}
		}
	}
	return out
}

func run[K comparable, V any](ctx context.Context, impl string, newMap func(string) (Map[K, V], error), w Workload, ks *keySet[K], vs values[V], hooks Hooks) (Result, error) {
	keys := ks.keys
	interrupted := func(phase string, err error) (Result, error) {
		return Result{}, fmt.Errorf("%w: %s on %s, while %s: %w", ErrInterrupted, w.Name, impl, phase, err)
	}
	res := Result{Workload: w.Name, Impl: impl, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	plan := planMix(w)

	prefilled := int(w.Prefill * float64(len(keys)))
	enterPhase("making the values")
	prefillValue, err := vs.prefill(ctx, prefilled)
	if err != nil {
		return interrupted("making the values", err)
	}
	m, perEntry, phase, err := fill(ctx, impl, newMap, keys[:prefilled], prefillValue)
	switch {
	case err != nil && phase != "":
		return interrupted(phase, err)
	case err != nil:
		return res, err
	case prefilled > 0:
		res.BytesPerEntry = perEntry
	}

	enterPhase("preparing the check")
	models, err := newModels(ctx, plan, len(keys), prefilled)
	if err != nil {
		return interrupted("preparing the check", err)
	}
	hists := make([][numOps]*hdrhistogram.Histogram, plan.g)
	for i := range hists {
		for op := range numOps {
			if w.Mix[opNames[op]] > 0 {
				hists[i][op] = hdrhistogram.New(1, int64(time.Minute), 3)
			}
		}
	}

	// The mix. No collection before it: the one after the prefill left
	// the heap to the map, and the records above are small beside it. The
	// GC mark (ReadMemStats stops the world) comes before the duration's
	// clock starts.
	picker := newKeyPicker(w) // a zipf table takes milliseconds: not in the run's time
	mark := markGC()
	hooks.start()
	var stop atomic.Bool
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w.Duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, w.Duration)
		defer cancel()
	}
	go func() { <-ctx.Done(); stop.Store(true) }()
	// A Range pass stops midway only when the caller's ctx is done (one
	// pass over a map of many millions of keys takes seconds); at the end
	// of the run's duration it finishes.
	var halt atomic.Bool
	defer context.AfterFunc(parent, func() { halt.Store(true) })()
	pass := func(K, V) bool { return !halt.Load() }

	perG := int64(math.MaxInt64)
	if w.Ops > 0 {
		perG = max(1, w.Ops/int64(plan.g))
	}
	waitAux := aux(ctx, w, m, keys, vs, &stop, pass)
	start := time.Now()
	deadline := start.Add(time.Duration(math.MaxInt64 / 2))
	if w.Duration > 0 {
		deadline = start.Add(w.Duration)
	}
	var (
		total atomic.Int64
		wg    sync.WaitGroup
	)
	for id := range plan.g {
		wk := &worker[K, V]{id: id, m: m, keys: keys, plan: &plan, picker: picker, vs: vs,
			md: models[id], h: &hists[id], stop: &stop, deadline: deadline, pass: pass}
		wg.Go(func() { total.Add(wk.run(perG)) })
	}
	enterPhase("running")
	wg.Wait()
	res.Elapsed = time.Since(start)
	stop.Store(true)
	passes := waitAux()
	hooks.stop()
	if err := parent.Err(); err != nil {
		return interrupted("running", err)
	}

	res.Ops = total.Load()
	res.OpsPerSec = float64(res.Ops) / res.Elapsed.Seconds()
	mark.since(&res)
	res.Latency = latencies(hists)
	if len(passes) > 0 {
		res.RangePasses = len(passes)
		res.RangePass = median(passes)
	}
	enterPhase("checking the final state")
	res.Check, err = check(parent, m, ks, vs.seq, models, plan.shared, prefilled)
	if err != nil {
		return interrupted("checking the final state", err)
	}
	runtime.KeepAlive(m)
	return res, nil
}

// batchStorer is a map that stores many keys at once more cheaply than
// one by one (ReadMostly: one copy instead of one per key). batchStore
// stores keys with values value(i), looking at stop every cancelEvery
// keys; when stop says so it stores nothing and returns false.
type batchStorer[K comparable, V any] interface {
	batchStore(keys []K, value func(i int) V, stop func() bool) bool
}

// check compares the map's final state with what the goroutines did, and
// returns "" if they agree. It returns ctx's error if ctx is done first.
func check[K comparable, V any](ctx context.Context, m Map[K, V], ks *keySet[K], seq func(V) int64, models []*model, shared bool, prefilled int) (string, error) {
	for _, md := range models {
		if md.mismatch != "" {
			return md.mismatch, nil
		}
	}
	keys := ks.keys
	final := make([]int64, len(keys))
	found := make([]bool, len(keys))
	problem := ""
	visited := 0
	m.Range(func(k K, v V) bool {
		if visited++; visited%cancelEvery == 0 && ctx.Err() != nil {
			return false
		}
		i, ok := ks.indexOf(k)
		switch {
		case !ok:
			problem = fmt.Sprintf("Range visited key %v, which the workload never used", k)
		case found[i]:
			problem = fmt.Sprintf("Range visited key %d twice", i)
		default:
			final[i], found[i] = seq(v), true
			return true
		}
		return false
	})
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if problem != "" {
		return problem, nil
	}
	g := len(models)
	for i := range keys {
		if i%cancelEvery == 0 && ctx.Err() != nil {
			return "", ctx.Err()
		}
		got, ok := final[i], found[i]
		if shared {
			var incs, winners int64
			seen := int64(-1)
			for _, md := range models {
				incs += md.incs[i]
				winners += md.winners[i]
				if s := md.seen[i]; s >= 0 {
					if seen >= 0 && s != seen {
						return fmt.Sprintf("key %d: LoadOrStore returned two different values, %d and %d", i, seen, s), nil
					}
					seen = s
				}
			}
			want, wantOK := int64(0), false
			if i < prefilled {
				want, wantOK = int64(i), true
			}
			if incs > 0 {
				want, wantOK = want+incs, true
			}
			switch {
			case winners > 1 || winners == 1 && i < prefilled:
				return fmt.Sprintf("key %d: %d LoadOrStores stored a value; want at most one winner", i, winners), nil
			case seen >= 0:
				want, wantOK = seen, true
			}
			if ok != wantOK || got != want {
				return fmt.Sprintf("key %d: map holds %d (present %v); the goroutines' operations leave %d (present %v)", i, got, ok, want, wantOK), nil
			}
			continue
		}
		md := models[i%g]
		if want := md.last[i]; ok != (want != absent) || ok && got != want {
			return fmt.Sprintf("key %d: map holds %d (present %v); its owner's last write left %s", i, got, ok, describeLast(want)), nil
		}
	}
	return "", nil
}

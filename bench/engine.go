package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/internal/gcpause"
)

// Value is what the workloads store: a sequence number, which the
// correctness check reads back, and ValueSize bytes of payload, allocated
// per write as a service allocates the struct it stores.
type Value struct {
	N    int64
	Data []byte
}

// Quantiles are latency percentiles of one operation, from a sample.
type Quantiles struct {
	P50, P99, P999 time.Duration
	Samples        int64
}

// Result is what one run of a workload on one implementation measured.
type Result struct {
	Workload   string `json:"workload"`
	Impl       string `json:"impl"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// Ops is the operations of the mix completed (Range passes by rangers
	// and bulk updates are not counted).
	Ops       int64         `json:"ops"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	OpsPerSec float64       `json:"ops_per_sec"`
	// Latency holds sampled latency percentiles per operation name.
	Latency map[string]Quantiles `json:"latency"`
	// AllocsPerOp and BytesPerOp are heap allocations per operation, all
	// goroutines included.
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	// BytesPerEntry is the heap the prefilled map holds per entry, keys'
	// own data excluded; 0 without a prefill.
	BytesPerEntry float64 `json:"bytes_per_entry"`
	// GC during the run: cycles, CPU time, and the 99th percentile
	// stop-the-world pause (runtime/metrics).
	GCCycles   uint64        `json:"gc_cycles"`
	GCCPU      time.Duration `json:"gc_cpu_ns"`
	GCPauseP99 time.Duration `json:"gc_pause_p99_ns"`
	// RangePasses and RangePass (the median pass time) are the rangers'
	// full passes, for workloads that iterate.
	RangePasses int           `json:"range_passes"`
	RangePass   time.Duration `json:"range_pass_ns"`
	// Check is empty if the final state matched what the goroutines did,
	// or says what did not.
	Check string `json:"check"`
}

// sampleEvery is how often an operation's latency is sampled: 1 in 16
// keeps the clock reads' cost small and equal for every implementation.
const sampleEvery = 16

// Run runs w on a new map of the implementation named impl, with
// GOMAXPROCS as set by the caller, until w's duration or operation count
// is reached, then checks the map's final state. It is new(Runner).Run.
func Run(ctx context.Context, impl string, w Workload) (Result, error) {
	return new(Runner).Run(ctx, impl, w)
}

// ErrInterrupted is wrapped, with the context's error, by the error Run
// returns when ctx is done before the run finished: its result would be
// of a cut-short run, so there is none.
var ErrInterrupted = errors.New("bench: run interrupted")

// Runner runs workloads one at a time. It keeps the key set of the last
// workload it ran, with the index the check uses to find a key's position
// and the values the prefill stores, so that running one workload on
// every implementation makes them once (they are dropped before the next
// workload's are made). The zero Runner is ready to use; a Runner must
// not be copied after first use.
type Runner struct {
	// mu serializes runs (each measures the whole process) and guards the
	// cached key sets.
	mu      sync.Mutex
	strings *keySet[string]
	ints    *keySet[int]
}

// stopGrace is how long Run waits, once ctx is done, for the run to stop
// and say in which phase it was, before it returns without it.
const stopGrace = 100 * time.Millisecond

// Run runs w on a new map of the implementation named impl, with
// GOMAXPROCS as set by the caller, until w's duration or operation count
// is reached, then checks the map's final state.
//
// When ctx is done, Run returns within stopGrace an error wrapping
// ErrInterrupted and ctx's error. The run's goroutines stop at their next
// look at ctx: every phase (making the keys, prefilling, the run, the
// check) looks every few milliseconds, but on a heap of many gigabytes
// the collector can hold a goroutine that allocates for seconds, so Run
// does not wait for them; the Runner's next Run does.
func (r *Runner) Run(ctx context.Context, impl string, w Workload) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, err
	}
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		res, err := r.run(ctx, impl, w)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
	}
	select {
	case o := <-done:
		return o.res, o.err // its error names the phase
	case <-time.After(stopGrace):
		return Result{}, fmt.Errorf("%w: %s on %s, still stopping: %w", ErrInterrupted, w.Name, impl, ctx.Err())
	}
}

// run is Run, called with r.mu held.
func (r *Runner) run(ctx context.Context, impl string, w Workload) (Result, error) {
	interrupted := func(phase string, err error) error {
		return fmt.Errorf("%w: %s on %s, while %s: %w", ErrInterrupted, w.Name, impl, phase, err)
	}
	if w.KeyType == "int" {
		if r.ints == nil || len(r.ints.keys) != w.Keys {
			r.ints, r.strings = nil, nil // let the old sets go before making the new one
			enterPhase("making the keys")
			ks, err := newIntKeySet(ctx, w.Keys)
			if err != nil {
				return Result{}, interrupted("making the keys", err)
			}
			r.ints = ks
		}
		return runValues(ctx, impl, w, r.ints)
	}
	if r.strings == nil || len(r.strings.keys) != w.Keys {
		r.ints, r.strings = nil, nil
		enterPhase("making the keys")
		ks, err := newStringKeySet(ctx, w.Keys)
		if err != nil {
			return Result{}, interrupted("making the keys", err)
		}
		r.strings = ks
	}
	return runValues(ctx, impl, w, r.strings)
}

// runValues runs w on keys ks with the values w's value type names.
func runValues[K comparable](ctx context.Context, impl string, w Workload, ks *keySet[K]) (Result, error) {
	if w.ValueType == "int" {
		return run(ctx, impl, New[K, int64], w, ks, intValues())
	}
	return run(ctx, impl, New[K, *Value], w, ks, pointerValues(ks, w.ValueSize))
}

// values is how a run makes the values of type V it stores, and reads
// back the sequence number each carries.
type values[V any] struct {
	// prefill returns the values of the first n keys, made before the
	// map's memory is measured: value(i) is key i's, with sequence number i.
	prefill func(ctx context.Context, n int) (value func(i int) V, err error)
	// make returns a new value with sequence number n.
	make func(n int64) V
	// seq returns v's sequence number.
	seq func(v V) int64
	// inc returns the value Compute stores over old: old's number plus one,
	// or 1 when there was none.
	inc func(old V, loaded bool) V
}

// pointerValues makes *Value values with size bytes of payload, a new
// allocation per write; the prefill's are kept in ks for the next run.
func pointerValues[K comparable](ks *keySet[K], size int) values[*Value] {
	return values[*Value]{
		prefill: func(ctx context.Context, n int) (func(int) *Value, error) {
			vals, err := ks.values(ctx, n, size)
			if err != nil {
				return nil, err
			}
			return func(i int) *Value { return vals[i] }, nil
		},
		make: func(n int64) *Value { return &Value{N: n, Data: make([]byte, size)} },
		seq:  func(v *Value) int64 { return v.N },
		inc: func(old *Value, loaded bool) *Value {
			nv := &Value{N: 1}
			if loaded {
				nv.N, nv.Data = old.N+1, old.Data
			}
			return nv
		},
	}
}

// intValues makes int64 values, the sequence number itself: no pointers,
// so mapguard.Map stores them inline.
func intValues() values[int64] {
	return values[int64]{
		prefill: func(context.Context, int) (func(int) int64, error) {
			return func(i int) int64 { return int64(i) }, nil
		},
		make: func(n int64) int64 { return n },
		seq:  func(v int64) int64 { return v },
		inc: func(old int64, loaded bool) int64 {
			if loaded {
				return old + 1
			}
			return 1
		},
	}
}

// keySet is a workload's keys and a way back from a key to its position,
// and the values its prefill stores (no run changes a Value it stored:
// every write stores a new one).
type keySet[K comparable] struct {
	keys      []K
	indexOf   func(K) (int, bool)
	vals      []*Value // vals[i] is key i's prefill value, Value{N: i}
	valueSize int      // of vals' payloads
}

// values returns the prefill values of the first n keys, with payloads of
// size bytes, making them unless the last call made them.
func (ks *keySet[K]) values(ctx context.Context, n, size int) ([]*Value, error) {
	if len(ks.vals) >= n && ks.valueSize == size {
		return ks.vals[:n], nil
	}
	ks.vals = nil // let the old ones go first
	vals := make([]*Value, n)
	for i := range vals {
		if i%cancelEvery == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		vals[i] = &Value{N: int64(i), Data: make([]byte, size)}
	}
	ks.vals, ks.valueSize = vals, size
	return vals, nil
}

// enterPhase is called as a run enters each of its phases, named as
// its ErrInterrupted error names them; tests hook it.
var enterPhase = func(phase string) {}

// cancelEvery is how many steps of a long loop (making keys, prefilling,
// checking) run between two looks at the context: a few milliseconds of
// work at most.
const cancelEvery = 1 << 12

func newIntKeySet(ctx context.Context, n int) (*keySet[int], error) {
	keys := make([]int, n)
	for i := range keys {
		if i%cancelEvery == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		keys[i] = i
	}
	return &keySet[int]{keys: keys, indexOf: func(k int) (int, bool) { return k, k >= 0 && k < n }}, nil
}

func newStringKeySet(ctx context.Context, n int) (*keySet[string], error) {
	keys, err := stringKeys(ctx, n)
	if err != nil {
		return nil, err
	}
	// No size hint: make(map, n) sets up every slot at once, which for
	// tens of millions of keys takes seconds that cannot be interrupted;
	// grown one insert at a time, the map splits a table at a time.
	index := map[string]int{}
	for i, k := range keys {
		if i%cancelEvery == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		index[k] = i
	}
	return &keySet[string]{keys: keys, indexOf: func(k string) (int, bool) { i, ok := index[k]; return i, ok }}, nil
}

// collect runs a full garbage collection, and returns early (leaving it
// to finish in the background) when ctx is done first: a collection of a
// heap of many gigabytes takes seconds.
func collect(ctx context.Context) error {
	enterPhase("collecting garbage")
	done := make(chan struct{})
	go func() {
		runtime.GC()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// median returns the median of xs, sorting it: the mean of the middle two
// for an even count. xs must not be empty.
func median(xs []time.Duration) time.Duration {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	a, b := xs[n/2-1], xs[n/2]
	return a + (b-a)/2
}

// keyPicker maps uniform draws to key indices, uniformly or with a zipf
// distribution whose draws are precomputed, so that a draw costs the
// same for every implementation.
type keyPicker struct {
	n     uint64
	table []uint32 // zipf: 1<<16 precomputed draws; nil for uniform
}

func newKeyPicker(w Workload) keyPicker {
	p := keyPicker{n: uint64(w.Keys)}
	if w.Distribution == "zipf" {
		z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), w.ZipfS, 1, uint64(w.Keys-1))
		p.table = make([]uint32, 1<<16)
		for i := range p.table {
			p.table[i] = uint32(z.Uint64())
		}
	}
	return p
}

func (p keyPicker) pick(x uint64) int {
	if p.table != nil {
		return int(p.table[x&(1<<16-1)])
	}
	return int((x & 0xffffffff) * p.n >> 32)
}

// owner-partitioned writes: in a mix with more than one kind of write,
// key i is written only by goroutine i % g, so each goroutine knows the
// exact final state of its keys. A mix whose only write is LoadOrStore or
// Compute shares every key among the goroutines (the contention it is
// about) and is checked by a single winner per key, or by the sum of the
// increments.
type model struct {
	present  []bool
	value    []int64
	incs     []int64 // shared Compute: increments per key by this goroutine
	winners  []int64 // shared LoadOrStore: stores that won, per key
	seen     []int64 // shared LoadOrStore: a value loaded, per key (-1 none)
	mismatch string
}

func run[K comparable, V any](ctx context.Context, impl string, newMap func(string) (Map[K, V], error), w Workload, ks *keySet[K], vs values[V]) (Result, error) {
	keys := ks.keys
	interrupted := func(phase string, err error) (Result, error) {
		return Result{}, fmt.Errorf("%w: %s on %s, while %s: %w", ErrInterrupted, w.Name, impl, phase, err)
	}
	res := Result{Workload: w.Name, Impl: impl, GOMAXPROCS: runtime.GOMAXPROCS(0), Latency: map[string]Quantiles{}}
	g := w.Goroutines
	if g == 0 {
		g = runtime.GOMAXPROCS(0)
	}
	var thresholds [numOps]int // cumulative, out of 100
	writeKinds := 0
	acc := 0
	for op := range numOps {
		acc += w.Mix[opNames[op]]
		thresholds[op] = acc
		if op != OpLoad && op != OpRange && w.Mix[opNames[op]] > 0 {
			writeKinds++
		}
	}
	shared := writeKinds == 1 && (w.Mix["loadorstore"] > 0 || w.Mix["compute"] > 0)

	prefilled := int(w.Prefill * float64(len(keys)))
	enterPhase("making the values")
	prefillValue, err := vs.prefill(ctx, prefilled)
	if err != nil {
		return interrupted("making the values", err)
	}
	if err := collect(ctx); err != nil {
		return interrupted("collecting garbage", err)
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	m, err := newMap(impl)
	if err != nil {
		return res, err
	}
	if prefilled > 0 {
		enterPhase("prefilling")
		if bs, ok := m.(batchStorer[K, V]); ok {
			if !bs.batchStore(keys[:prefilled], prefillValue, func() bool { return ctx.Err() != nil }) {
				return interrupted("prefilling", ctx.Err())
			}
		} else {
			for i, k := range keys[:prefilled] {
				if i%cancelEvery == 0 && ctx.Err() != nil {
					return interrupted("prefilling", ctx.Err())
				}
				m.Store(k, prefillValue(i))
			}
		}
		if err := collect(ctx); err != nil {
			return interrupted("collecting garbage", err)
		}
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		// The keys and values were made before ms0: the difference is the map's.
		res.BytesPerEntry = float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc)) / float64(prefilled)
	}
	picker := newKeyPicker(w)

	enterPhase("preparing the check")
	models := make([]*model, g)
	for i := range models {
		md := &model{}
		if shared {
			md.incs = make([]int64, len(keys))
			md.winners = make([]int64, len(keys))
			md.seen = make([]int64, len(keys))
			for k := range md.seen {
				if k%cancelEvery == 0 && ctx.Err() != nil {
					return interrupted("preparing the check", ctx.Err())
				}
				md.seen[k] = -1
			}
		} else {
			md.present = make([]bool, len(keys))
			md.value = make([]int64, len(keys))
			for k := i; k < prefilled; k += g {
				if k%cancelEvery == i && ctx.Err() != nil {
					return interrupted("preparing the check", ctx.Err())
				}
				md.present[k], md.value[k] = true, int64(k)
			}
		}
		models[i] = md
	}
	hists := make([][numOps]*hdrhistogram.Histogram, g)
	for i := range hists {
		for op := range numOps {
			if w.Mix[opNames[op]] > 0 {
				hists[i][op] = hdrhistogram.New(1, int64(time.Minute), 3)
			}
		}
	}

	gcSamples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
	}
	// No collection here: the one after the prefill left the heap to the
	// map, and the records above are small beside it.
	metrics.Read(gcSamples)
	cycles0, gccpu0 := gcSamples[0].Value.Uint64(), gcSamples[1].Value.Float64()
	pauses0 := gcpause.Read()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)

	var (
		stop    atomic.Bool
		total   atomic.Int64
		wg      sync.WaitGroup
		aux     sync.WaitGroup
		passes  []time.Duration
		passMu  sync.Mutex
		seqBase = int64(len(keys)) // values above every prefill index
	)
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

	for range w.Rangers {
		aux.Go(func() {
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
		aux.Go(func() {
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

	perG := int64(math.MaxInt64)
	if w.Ops > 0 {
		perG = max(1, w.Ops/int64(g))
	}
	start := time.Now()
	deadline := start.Add(time.Duration(math.MaxInt64 / 2))
	if w.Duration > 0 {
		deadline = start.Add(w.Duration)
	}
	for id := range g {
		wg.Go(func() {
			md := models[id]
			h := &hists[id]
			r := newRNG()
			seq := seqBase + int64(id)
			// Made once: a closure made per call would escape through
			// the interface and cost every implementation an allocation.
			inc := func(old V, loaded bool) (V, mapguard.ComputeOp) {
				return vs.inc(old, loaded), mapguard.UpdateOp
			}
			var n int64
			for n < perG && !stop.Load() {
				// Look at stop after each operation, not each 64: one
				// ReadMostly write on a large map takes milliseconds.
				for i := 0; i < 64 && !stop.Load(); i++ {
					x := r.next()
					ki := picker.pick(x)
					p := int((x >> 40) % 100)
					op := Op(0)
					for op < numOps-1 && p >= thresholds[op] {
						op++
					}
					if !shared && op != OpLoad && op != OpRange {
						// Move to the nearest key this goroutine owns.
						ki = ki - ki%g + id
						if ki >= len(keys) {
							ki = id % len(keys)
							if ki%g != id {
								op = OpLoad // no key of ours: read instead
							}
						}
					}
					k := keys[ki]
					var t0 time.Time
					// Sample 1 op in 16, and the first of each kind, so that
					// a rare operation that ran has a latency.
					sampled := n%sampleEvery == 0 || h[op].TotalCount() == 0
					if sampled {
						t0 = time.Now()
					}
					switch op {
					case OpLoad:
						m.Load(k)
					case OpStore:
						seq += int64(g)
						m.Store(k, vs.make(seq))
						md.present[ki], md.value[ki] = true, seq
					case OpDelete:
						m.Delete(k)
						md.present[ki] = false
					case OpLoadOrStore:
						seq += int64(g)
						v, loaded := m.LoadOrStore(k, vs.make(seq))
						got := vs.seq(v)
						switch {
						case !shared:
							if !loaded {
								md.present[ki], md.value[ki] = true, seq
							} else if !md.present[ki] || md.value[ki] != got {
								md.mismatch = fmt.Sprintf("LoadOrStore of key %d loaded %d; its owner stored %d (present %v)", ki, got, md.value[ki], md.present[ki])
							}
						case loaded:
							md.seen[ki] = got
						default:
							md.winners[ki]++
							md.seen[ki] = seq
						}
					case OpCompute:
						m.Compute(k, inc)
						if shared {
							md.incs[ki]++
						} else {
							if md.present[ki] {
								md.value[ki]++
							} else {
								md.present[ki], md.value[ki] = true, 1
							}
						}
					case OpRange:
						m.Range(pass)
					}
					if sampled {
						now := time.Now()
						h[op].RecordValue(int64(now.Sub(t0)))
						// The goroutines end the run themselves at its
						// deadline: the timer's goroutine may wait for a
						// CPU 10 ms and more on a busy machine.
						if now.After(deadline) {
							stop.Store(true)
						}
					}
					n++
				}
			}
			total.Add(n)
		})
	}
	enterPhase("running")
	wg.Wait()
	res.Elapsed = time.Since(start)
	stop.Store(true)
	aux.Wait()
	if err := parent.Err(); err != nil {
		return interrupted("running", err)
	}

	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	metrics.Read(gcSamples)
	res.Ops = total.Load()
	res.OpsPerSec = float64(res.Ops) / res.Elapsed.Seconds()
	res.AllocsPerOp = float64(ms2.Mallocs-ms1.Mallocs) / float64(max(res.Ops, 1))
	res.BytesPerOp = float64(ms2.TotalAlloc-ms1.TotalAlloc) / float64(max(res.Ops, 1))
	res.GCCycles = gcSamples[0].Value.Uint64() - cycles0
	res.GCCPU = time.Duration((gcSamples[1].Value.Float64() - gccpu0) * 1e9)
	res.GCPauseP99 = gcpause.Since(pauses0).P99

	for op := range numOps {
		merged := (*hdrhistogram.Histogram)(nil)
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
			res.Latency[opNames[op]] = Quantiles{
				P50:     time.Duration(merged.ValueAtQuantile(50)),
				P99:     time.Duration(merged.ValueAtQuantile(99)),
				P999:    time.Duration(merged.ValueAtQuantile(99.9)),
				Samples: merged.TotalCount(),
			}
		}
	}
	if len(passes) > 0 {
		res.RangePasses = len(passes)
		res.RangePass = median(passes)
	}
	enterPhase("checking the final state")
	res.Check, err = check(parent, m, ks, vs.seq, models, shared, prefilled)
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
		if ok != md.present[i] || ok && got != md.value[i] {
			return fmt.Sprintf("key %d: map holds %d (present %v); its owner's last write left %d (present %v)", i, got, ok, md.value[i], md.present[i]), nil
		}
	}
	return "", nil
}

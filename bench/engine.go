package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"
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

// sampleEvery is how often an operation's latency is sampled: 1 in 64.
// Two clock reads per sample are the engine's largest cost per operation:
// on this VM a clock read takes 25 ns (a loop of time.Since), so 1 in 16
// cost about 3 ns of every Load, a quarter of a mapguard Load, and
// narrowed every ratio; 1 in 64 costs under 1 ns, equally for every
// implementation, and a 120 ms run still samples tens of thousands.
const sampleEvery = 64

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
	// Hooks, if set, are called as the measured phase of each run begins
	// and ends.
	Hooks Hooks

	// mu serializes runs (each measures the whole process) and guards the
	// cached key sets.
	mu      sync.Mutex
	strings *keySet[string]
	ints    *keySet[int]
}

// Hooks are called from a run's goroutine as its measured phase (the mix,
// with its rangers and bulk writer) begins and ends; nil ones are skipped.
// A go test benchmark passes b.StartTimer and b.StopTimer, with its timer
// stopped before Run, so that its ns/op and allocations count the mix
// alone, not the prefill, the collections and the check.
type Hooks struct {
	Start, Stop func()
}

func (h Hooks) start() {
	if h.Start != nil {
		h.Start()
	}
}

func (h Hooks) stop() {
	if h.Stop != nil {
		h.Stop()
	}
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
		return runValues(ctx, impl, w, r.ints, r.Hooks)
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
	return runValues(ctx, impl, w, r.strings, r.Hooks)
}

// runValues runs w on keys ks with the values w's value type names.
func runValues[K comparable](ctx context.Context, impl string, w Workload, ks *keySet[K], hooks Hooks) (Result, error) {
	if w.ValueType == "int" {
		return run(ctx, impl, New[K, int64], w, ks, intValues(), hooks)
	}
	return run(ctx, impl, New[K, *Value], w, ks, pointerValues(ks, w.ValueSize), hooks)
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

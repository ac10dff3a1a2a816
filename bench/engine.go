package bench

import (
	"context"
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
// is reached or ctx is done, then checks the map's final state.
func Run(ctx context.Context, impl string, w Workload) (Result, error) {
	if err := w.Validate(); err != nil {
		return Result{}, err
	}
	if w.KeyType == "int" {
		return run(ctx, impl, New[int, *Value], w, IntKeys(w.Keys))
	}
	return run(ctx, impl, New[string, *Value], w, StringKeys(w.Keys))
}

// zipfTable maps uniform draws to key indices with a zipf distribution,
// precomputed so that a draw costs the same for every implementation.
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

func run[K comparable](ctx context.Context, impl string, newMap func(string) (Map[K, *Value], error), w Workload, keys []K) (Result, error) {
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

	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	m, err := newMap(impl)
	if err != nil {
		return res, err
	}
	prefilled := int(w.Prefill * float64(len(keys)))
	if prefilled > 0 {
		vals := make([]*Value, prefilled)
		for i := range vals {
			vals[i] = &Value{N: int64(i), Data: make([]byte, w.ValueSize)}
		}
		if bs, ok := m.(interface {
			batchStore(keys []K, value func(i int) *Value)
		}); ok {
			bs.batchStore(keys[:prefilled], func(i int) *Value { return vals[i] })
		} else {
			for i, k := range keys[:prefilled] {
				m.Store(k, vals[i])
			}
		}
		runtime.GC()
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		payload := prefilled * (16 + 24 + w.ValueSize) // the Values themselves, which every map shares
		res.BytesPerEntry = float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc)-int64(payload)) / float64(prefilled)
	}
	picker := newKeyPicker(w)

	models := make([]*model, g)
	for i := range models {
		md := &model{}
		if shared {
			md.incs = make([]int64, len(keys))
			md.winners = make([]int64, len(keys))
			md.seen = make([]int64, len(keys))
			for k := range md.seen {
				md.seen[k] = -1
			}
		} else {
			md.present = make([]bool, len(keys))
			md.value = make([]int64, len(keys))
			for k := i; k < prefilled; k += g {
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
	runtime.GC()
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w.Duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, w.Duration)
		defer cancel()
	}
	go func() { <-ctx.Done(); stop.Store(true) }()

	for range w.Rangers {
		aux.Go(func() {
			for !stop.Load() {
				t0 := time.Now()
				m.Range(func(K, *Value) bool { return true })
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
						m.Store(keys[k], &Value{N: v.N, Data: make([]byte, w.ValueSize)})
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
	for id := range g {
		wg.Go(func() {
			md := models[id]
			h := &hists[id]
			r := newRNG()
			seq := seqBase + int64(id)
			var n int64
			for n < perG && !stop.Load() {
				for range 64 {
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
						m.Store(k, &Value{N: seq, Data: make([]byte, w.ValueSize)})
						md.present[ki], md.value[ki] = true, seq
					case OpDelete:
						m.Delete(k)
						md.present[ki] = false
					case OpLoadOrStore:
						seq += int64(g)
						v, loaded := m.LoadOrStore(k, &Value{N: seq, Data: make([]byte, w.ValueSize)})
						switch {
						case !shared:
							if !loaded {
								md.present[ki], md.value[ki] = true, seq
							} else if !md.present[ki] || md.value[ki] != v.N {
								md.mismatch = fmt.Sprintf("LoadOrStore of key %d loaded %d; its owner stored %d (present %v)", ki, v.N, md.value[ki], md.present[ki])
							}
						case loaded:
							md.seen[ki] = v.N
						default:
							md.winners[ki]++
							md.seen[ki] = seq
						}
					case OpCompute:
						m.Compute(k, func(old *Value, loaded bool) (*Value, mapguard.ComputeOp) {
							nv := &Value{N: 1}
							if loaded {
								nv.N, nv.Data = old.N+1, old.Data
							}
							return nv, mapguard.UpdateOp
						})
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
						m.Range(func(K, *Value) bool { return true })
					}
					if sampled {
						h[op].RecordValue(int64(time.Since(t0)))
					}
					n++
				}
			}
			total.Add(n)
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	stop.Store(true)
	aux.Wait()

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
		slices.Sort(passes)
		res.RangePasses = len(passes)
		res.RangePass = passes[len(passes)/2]
	}
	res.Check = check(m, keys, models, shared, prefilled)
	runtime.KeepAlive(m)
	return res, nil
}

// check compares the map's final state with what the goroutines did, and
// returns "" if they agree.
func check[K comparable](m Map[K, *Value], keys []K, models []*model, shared bool, prefilled int) string {
	for _, md := range models {
		if md.mismatch != "" {
			return md.mismatch
		}
	}
	index := make(map[K]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	final := make(map[int]int64, len(keys))
	dup := ""
	m.Range(func(k K, v *Value) bool {
		i := index[k]
		if _, ok := final[i]; ok {
			dup = fmt.Sprintf("Range visited key %d twice", i)
			return false
		}
		final[i] = v.N
		return true
	})
	if dup != "" {
		return dup
	}
	g := len(models)
	for i := range keys {
		got, ok := final[i]
		if shared {
			var incs, winners int64
			seen := int64(-1)
			for _, md := range models {
				incs += md.incs[i]
				winners += md.winners[i]
				if s := md.seen[i]; s >= 0 {
					if seen >= 0 && s != seen {
						return fmt.Sprintf("key %d: LoadOrStore returned two different values, %d and %d", i, seen, s)
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
				return fmt.Sprintf("key %d: %d LoadOrStores stored a value; want at most one winner", i, winners)
			case seen >= 0:
				want, wantOK = seen, true
			}
			if ok != wantOK || got != want {
				return fmt.Sprintf("key %d: map holds %d (present %v); the goroutines' operations leave %d (present %v)", i, got, ok, want, wantOK)
			}
			continue
		}
		md := models[i%g]
		if ok != md.present[i] || ok && got != md.value[i] {
			return fmt.Sprintf("key %d: map holds %d (present %v); its owner's last write left %d (present %v)", i, got, ok, md.value[i], md.present[i])
		}
	}
	return ""
}

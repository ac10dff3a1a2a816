package observe

import (
	"context"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// counter names one (op, result) pair of mapguard_operations_total.
type counter uint8

const (
	loadHit counter = iota
	loadMiss
	storeStored
	loadOrStoreHit
	loadOrStoreStored
	swapStored
	loadAndDeleteDeleted
	loadAndDeleteMiss
	deleteDeleted
	deleteMiss
	casStored
	casMiss
	cadDeleted
	cadMiss
	computeStored
	computeDeleted
	computeMiss // cancelled, or deleting an absent key
	loadOrComputeHit
	loadOrComputeStored
	loadOrComputeMiss // cancelled
	clearDeleted
	updateStored // ReadMostly.Update committed
	updateMiss   // ReadMostly.Update's function returned an error
	numCounters
)

// counterLabels are the op and result labels of each counter.
var counterLabels = [numCounters][2]string{
	loadHit: {"load", "hit"}, loadMiss: {"load", "miss"},
	storeStored:    {"store", "stored"},
	loadOrStoreHit: {"load_or_store", "hit"}, loadOrStoreStored: {"load_or_store", "stored"},
	swapStored:           {"swap", "stored"},
	loadAndDeleteDeleted: {"load_and_delete", "deleted"}, loadAndDeleteMiss: {"load_and_delete", "miss"},
	deleteDeleted: {"delete", "deleted"}, deleteMiss: {"delete", "miss"},
	casStored: {"compare_and_swap", "stored"}, casMiss: {"compare_and_swap", "miss"},
	cadDeleted: {"compare_and_delete", "deleted"}, cadMiss: {"compare_and_delete", "miss"},
	computeStored: {"compute", "stored"}, computeDeleted: {"compute", "deleted"}, computeMiss: {"compute", "miss"},
	loadOrComputeHit: {"load_or_compute", "hit"}, loadOrComputeStored: {"load_or_compute", "stored"},
	loadOrComputeMiss: {"load_or_compute", "miss"},
	clearDeleted:      {"clear", "deleted"},
	updateStored:      {"update", "stored"}, updateMiss: {"update", "miss"},
}

// mapCounters are the counters of Map, SnapshotMap and SyncMap: every
// operation of Map's API. readMostlyCounters are ReadMostly's.
var (
	mapCounters        = countersUpTo(clearDeleted)
	readMostlyCounters = []counter{loadHit, loadMiss, storeStored, deleteDeleted, deleteMiss, updateStored, updateMiss}
)

// countersUpTo returns the counters from the first to last.
func countersUpTo(last counter) []counter {
	cs := make([]counter, 0, last+1)
	for c := range last + 1 {
		cs = append(cs, c)
	}
	return cs
}

// instrument is what the instrumented maps share: the counters, the
// iteration histograms, the tracer. It does not point to the map's
// Collector (nor to the Registerer, which holds the Collector): the
// sampler and a mapguard.Map reach the instrument, and must not keep the
// map's name in use (claimNames) once its wrapper and Collector are gone.
type instrument struct {
	name        string
	cfg         config
	ops         counts
	counters    []counter // the counters the collector exports: the map type's operations
	iterSeconds prometheus.Histogram
	iterEntries prometheus.Histogram
	tracer      trace.Tracer
	otelSeconds metric.Float64Histogram
	labels      pprof.LabelSet
	computeLbls pprof.LabelSet
}

// newInstrument returns the Collector of a new instrument (Collector.in)
// of a map named name, which exports counters. mapHook, if not nil, sets
// how the map counts its own Loads and Stores (counts.setMode). The
// wrapper keeps the Collector: it holds the map's name.
//
// It panics with a *NameError if the name is invalid or in use
// (claimNames, register), and with an error naming the package if the
// Registerer refuses the collector otherwise; either way before the map
// counts anything for the new instrument, and leaving the name free.
func newInstrument(name string, cfg config, counters []counter, stats func() (tableStats, bool), mapHook func(in *instrument, bits uint, salt uint64)) *Collector {
	reg := cfg.reg
	cfg.reg = nil // the instrument must not reach its Collector
	in := &instrument{name: name, cfg: cfg, counters: counters}
	c := newCollector(in, stats)
	mp := cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	keys := nameKeys(name, reg, mp)
	if err := claimNames(c, keys); err != nil {
		panic(err)
	}
	in.iterSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:                            "mapguard_iteration_duration_seconds",
		Help:                            "Duration of full or partial iterations of the map (Range, All, Keys, Values, DeleteFunc, MarshalJSON, and a SnapshotMap's Views).",
		ConstLabels:                     prometheus.Labels{"map": name},
		Buckets:                         prometheus.ExponentialBuckets(0.0001, 4, 10), // 100µs to 26s
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: time.Hour,
	})
	in.iterEntries = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        "mapguard_iteration_entries",
		Help:        "Entries visited per iteration of the map.",
		ConstLabels: prometheus.Labels{"map": name},
		Buckets:     prometheus.ExponentialBuckets(1, 10, 8), // 1 to 10M
	})
	tp := cfg.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	in.tracer = tp.Tracer(ScopeName)
	h, err := mp.Meter(ScopeName).Float64Histogram("mapguard.iteration.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of iterations of mapguard maps."))
	if err == nil {
		in.otelSeconds = h
	}
	in.labels = pprof.Labels("map", name, "op", "range")
	in.computeLbls = pprof.Labels("map", name, "op", "compute")
	if reg != nil {
		if err := register(reg, c, keys); err != nil {
			panic(err)
		}
	}
	// Only now does the map count for in: a panic above leaves it
	// counting for the instrument it had, if any.
	var hook func(uint, uint64)
	if mapHook != nil {
		hook = func(bits uint, salt uint64) { mapHook(in, bits, salt) }
	}
	in.ops.init(cfg.exact, cfg.sampleAbove, hook)
	return c
}

// count counts a hit as yes, anything else as no.
func (in *instrument) count(hit bool, yes, no counter) { in.ops.count(hit, yes, no) }

// observeRange runs one iteration of a map's Range, as the iteration of
// the instrumented map named in, under its pprof labels, timing it and
// counting entries and an early stop.
func observeRange[K, V any](ctx context.Context, in *instrument, rangeFn func(func(K, V) bool), f func(K, V) bool) {
	it := in.begin(ctx)
	n, stopped := 0, false
	pprof.Do(ctx, in.labels, func(context.Context) {
		rangeFn(func(k K, v V) bool {
			n++
			if !f(k, v) {
				stopped = true
				return false
			}
			return true
		})
	})
	in.end(it, n, stopped)
}

var heapSamples = []string{"/gc/heap/allocs:bytes", "/gc/heap/live:bytes"}

// iteration is an iteration in progress.
type iteration struct {
	ctx    context.Context
	start  time.Time
	allocs uint64
}

func (in *instrument) begin(ctx context.Context) iteration {
	s := []metrics.Sample{{Name: heapSamples[0]}}
	metrics.Read(s)
	return iteration{ctx: ctx, start: time.Now(), allocs: s[0].Value.Uint64()}
}

// end records a finished iteration: histograms, the OpenTelemetry metric,
// and a span if the sampler wants one.
func (in *instrument) end(it iteration, entries int, stopped bool) {
	end := time.Now()
	d := end.Sub(it.start)
	s := []metrics.Sample{{Name: heapSamples[0]}, {Name: heapSamples[1]}}
	metrics.Read(s)
	info := Iteration{
		Ctx: it.ctx, Map: in.name, Duration: d, Entries: entries, Stopped: stopped,
		HeapAllocated: s[0].Value.Uint64() - it.allocs, HeapLive: s[1].Value.Uint64(),
	}
	in.iterSeconds.Observe(d.Seconds())
	in.iterEntries.Observe(float64(entries))
	if in.otelSeconds != nil {
		in.otelSeconds.Record(it.ctx, d.Seconds(), metric.WithAttributes(attribute.String("map", in.name)))
	}
	if !in.cfg.sampler.Sample(info) {
		return
	}
	_, span := in.tracer.Start(it.ctx, "range "+in.name, trace.WithTimestamp(it.start),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("mapguard.map", in.name),
			attribute.Int("mapguard.entries", entries),
			attribute.Bool("mapguard.stopped_early", stopped),
			attribute.Int64("mapguard.duration_ns", d.Nanoseconds()),
			attribute.Int64("mapguard.heap_allocated_bytes", int64(info.HeapAllocated)),
		))
	if in.cfg.slow > 0 && d > in.cfg.slow {
		span.SetAttributes(attribute.Bool("mapguard.slow", true))
	}
	span.End(trace.WithTimestamp(end))
}

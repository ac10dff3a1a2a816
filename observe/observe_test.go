package observe_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// gathered returns the value of the metric family name whose labels
// include want, from reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			return m
		}
	}
	t.Fatalf("no %s%v in the registry", name, want)
	return nil
}

func TestPrometheusMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := observe.Instrument(mapguard.NewMap[string, int](), "sessions", observe.WithRegisterer(reg), observe.WithSampler(observe.Never()))
	s := observe.InstrumentSyncMap(&sync.Map{}, "legacy", observe.WithRegisterer(reg))
	for i := range 1000 {
		m.Store(string(rune('a'+i%26))+strings.Repeat("x", i), i)
	}
	m.Load("a")      // hit
	m.Load("nope")   // miss
	m.Delete("nope") // miss
	m.Delete("a")    // deleted
	m.LoadOrStore("b", 1)
	m.Compute("c", func(int, bool) (int, mapguard.ComputeOp) { return 1, mapguard.UpdateOp })
	for range m.All() {
	}
	s.Store("k", 1)
	s.Load("k")

	counter := func(mapName, op, result string) float64 {
		return gathered(t, reg, "mapguard_operations_total", map[string]string{"map": mapName, "op": op, "result": result}).GetCounter().GetValue()
	}
	for _, tc := range []struct {
		op, result string
		want       float64
	}{
		{"store", "stored", 1000}, {"load", "hit", 1}, {"load", "miss", 1},
		{"delete", "miss", 1}, {"delete", "deleted", 1}, {"load_or_store", "stored", 1}, {"compute", "stored", 1},
	} {
		if got := counter("sessions", tc.op, tc.result); got != tc.want {
			t.Errorf("operations_total{op=%q,result=%q} = %v; want %v", tc.op, tc.result, got, tc.want)
		}
	}
	if got := counter("legacy", "load", "hit"); got != 1 {
		t.Errorf("sync.Map load hits = %v; want 1", got)
	}
	if got := gathered(t, reg, "mapguard_entries", map[string]string{"map": "sessions"}).GetGauge().GetValue(); got != 1001 {
		t.Errorf("entries = %v; want 1001", got)
	}
	if got := gathered(t, reg, "mapguard_entries", map[string]string{"map": "legacy"}).GetGauge().GetValue(); got != 1 {
		t.Errorf("sync.Map entries = %v; want 1", got)
	}
	if got := gathered(t, reg, "mapguard_resizes_total", map[string]string{"map": "sessions", "direction": "grow"}).GetCounter().GetValue(); got == 0 {
		t.Error("1000 stores into a new map counted no grow")
	}
	if got := gathered(t, reg, "mapguard_capacity", map[string]string{"map": "sessions"}).GetGauge().GetValue(); got < 1001 {
		t.Errorf("capacity %v < entries", got)
	}
	h := gathered(t, reg, "mapguard_iteration_duration_seconds", map[string]string{"map": "sessions"}).GetHistogram()
	if h.GetSampleCount() != 1 || len(h.GetBucket()) == 0 || h.GetSchema() == 0 && len(h.GetPositiveSpan()) == 0 && h.GetZeroCount() == 0 {
		t.Errorf("iteration histogram %v; want one sample in classic and native buckets", h)
	}
	e := gathered(t, reg, "mapguard_iteration_entries", map[string]string{"map": "sessions"}).GetHistogram()
	if e.GetSampleSum() != 1001 {
		t.Errorf("iteration entries sum %v; want 1001", e.GetSampleSum())
	}
	for _, c := range []prometheus.Collector{m.Collector(), s.Collector()} {
		if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
			t.Errorf("CollectAndLint: %v %v", problems, err)
		}
	}
}

func TestSameNameTwicePanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	observe.Instrument(mapguard.NewMap[int, int](), "x", observe.WithRegisterer(reg))
	defer func() {
		if recover() == nil {
			t.Fatal("registering a second map named x did not panic")
		}
	}()
	observe.Instrument(mapguard.NewMap[int, int](), "x", observe.WithRegisterer(reg))
}

// tracedMap returns a map instrumented with a recording tracer.
func tracedMap(t *testing.T, s observe.Sampler) (*observe.Map[int, int], *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	m := observe.Instrument(mapguard.NewMap[int, int](), "routes", observe.WithTracerProvider(tp), observe.WithSampler(s))
	for i := range 100 {
		m.Store(i, i)
	}
	return m, rec, tp.Tracer("test")
}

func TestIterationSpans(t *testing.T) {
	m, rec, _ := tracedMap(t, observe.Always())
	n := 0
	for range m.All() {
		if n++; n == 10 {
			break
		}
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != "range routes" {
		t.Fatalf("spans %v; want one named %q", spans, "range routes")
	}
	attrs := map[string]any{}
	for _, a := range spans[0].Attributes() {
		attrs[string(a.Key)] = a.Value.AsInterface()
	}
	if attrs["mapguard.entries"] != int64(10) || attrs["mapguard.stopped_early"] != true || attrs["mapguard.map"] != "routes" {
		t.Fatalf("span attributes %v", attrs)
	}
	if _, ok := attrs["mapguard.heap_allocated_bytes"]; !ok {
		t.Fatalf("span lacks allocated bytes: %v", attrs)
	}
	if spans[0].InstrumentationScope().Name != observe.ScopeName {
		t.Fatalf("scope %q; want %q", spans[0].InstrumentationScope().Name, observe.ScopeName)
	}
}

func TestSamplers(t *testing.T) {
	t.Run("Never", func(t *testing.T) {
		m, rec, _ := tracedMap(t, observe.Never())
		m.Range(func(int, int) bool { return true })
		if len(rec.Ended()) != 0 {
			t.Fatal("Never sampled an iteration")
		}
	})
	t.Run("SlowOrLarge", func(t *testing.T) {
		m, rec, _ := tracedMap(t, observe.SlowOrLarge(time.Hour, 50))
		m.Range(func(k, _ int) bool { return k < 1000 && false }) // stops at once: 1 entry
		m.Range(func(int, int) bool { return true })              // 100 entries: large
		m.Range(func(int, int) bool { time.Sleep(0); return true })
		if got := len(rec.Ended()); got != 2 {
			t.Fatalf("%d spans; want the 2 iterations over 50 entries", got)
		}
	})
	t.Run("Ratio follows the parent", func(t *testing.T) {
		m, rec, tracer := tracedMap(t, observe.Ratio(0))
		ctx, parent := tracer.Start(context.Background(), "request")
		m.RangeContext(ctx, func(int, int) bool { return true })
		parent.End()
		spans := rec.Ended()
		if len(spans) != 2 || spans[0].Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Fatalf("Ratio(0) under a sampled parent: %d spans; want the iteration as the parent's child", len(spans))
		}
		m.Range(func(int, int) bool { return true })
		if len(rec.Ended()) != 2 {
			t.Fatal("Ratio(0) sampled a root iteration")
		}
	})
	t.Run("Ratio", func(t *testing.T) {
		s := observe.Ratio(0.25)
		hits := 0
		for range 4000 {
			if s.Sample(observe.Iteration{Ctx: context.Background()}) {
				hits++
			}
		}
		if hits < 800 || hits > 1200 {
			t.Fatalf("Ratio(0.25) sampled %d of 4000", hits)
		}
	})
	t.Run("MemorySpike", func(t *testing.T) {
		s := observe.MemorySpike(1 << 20)
		got := []bool{}
		for _, live := range []uint64{10 << 20, 10<<20 + 1000, 12 << 20, 12 << 20, 11 << 20, 12<<20 + 1} {
			got = append(got, s.Sample(observe.Iteration{HeapLive: live}))
		}
		// Growth counts from the last traced iteration or the lowest heap since:
		// 11 MiB is a trough, so 12 MiB+1 is a spike again.
		want := []bool{false, false, true, false, false, true}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("MemorySpike decisions %v; want %v", got, want)
			}
		}
	})
}

func TestOpenTelemetryMetric(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m := observe.Instrument(mapguard.NewMap[int, int](), "cfg", observe.WithMeterProvider(mp))
	m.Store(1, 1)
	m.Range(func(int, int) bool { return true })
	m.Range(func(int, int) bool { return true })
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name == "mapguard.iteration.duration" {
				h := md.Data.(metricdata.Histogram[float64])
				if len(h.DataPoints) != 1 || h.DataPoints[0].Count != 2 {
					t.Fatalf("histogram %+v; want 2 iterations", h.DataPoints)
				}
				return
			}
		}
	}
	t.Fatal("no mapguard.iteration.duration metric")
}

// TestPprofLabels takes a CPU profile while a large map is ranged and
// finds samples labelled with the map's name. Under -short the map is a
// tenth the size (filling it dominates the test under -race); a Range
// is still long against the profiler's 10 ms period.
func TestPprofLabels(t *testing.T) {
	m := observe.Instrument(mapguard.NewMap[int, int](), "hotmap", observe.WithSampler(observe.Never()))
	entries := 200_000
	if testing.Short() {
		entries = 20_000
	}
	for i := range entries {
		m.Store(i, i)
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("CPU profiling unavailable: %v", err)
	}
	deadline := time.Now().Add(400 * time.Millisecond)
	sum := 0
	for time.Now().Before(deadline) {
		m.Range(func(k, v int) bool { sum += v; return true })
	}
	pprof.StopCPUProfile()
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	labelled := 0
	for _, s := range p.Sample {
		if s.Label["map"] != nil && s.Label["map"][0] == "hotmap" && s.Label["op"][0] == "range" {
			labelled++
		}
	}
	if labelled == 0 {
		t.Fatalf("no CPU sample labelled map=hotmap op=range among %d samples", len(p.Sample))
	}
}

// TestGlobalProvidersByDefault checks that without WithTracerProvider the
// global tracer provider gets the spans.
func TestGlobalProvidersByDefault(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(prev)
	m := observe.Instrument(mapguard.NewMap[int, int](), "global", observe.WithSampler(observe.Always()))
	m.Store(1, 1)
	m.Range(func(int, int) bool { return true })
	if spans := rec.Ended(); len(spans) != 1 || spans[0].Name() != "range global" {
		t.Fatalf("global provider recorded %d spans; want one", len(spans))
	}
}

func TestInstrumentMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"empty name":              func() { observe.Instrument(mapguard.NewMap[int, int](), "") },
		"zero slow iteration":     func() { observe.WithSlowIteration(0) },
		"negative slow iteration": func() { observe.WithSlowIteration(-time.Second) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "observe:") {
					t.Errorf("%s: recovered %v; want a panic naming the package", name, r)
				}
			}()
			f()
		}()
	}
}

// TestLockedReadsExported: readers of a key that two writers store without
// pause lose optimistic reads and take the chain's lock; the map's
// Stats.LockedReads counts them and the collector exports the count as
// mapguard_locked_reads_total.
func TestLockedReadsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.Instrument(mapguard.NewMap[int, [3]int64](), "hot", observe.WithRegisterer(reg))
	if got := gathered(t, reg, "mapguard_locked_reads_total", map[string]string{"map": "hot"}).GetCounter().GetValue(); got != 0 {
		t.Fatalf("locked reads of a new map: %v", got)
	}
	m.Store(1, [3]int64{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := int64(0); !stop.Load(); i++ {
				m.Store(1, [3]int64{i, i, i})
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Stats().LockedReads == 0 && time.Now().Before(deadline) {
		for range 1000 {
			m.Load(1)
		}
	}
	stop.Store(true)
	wg.Wait()
	want := m.Stats().LockedReads
	if want == 0 {
		t.Skip("no read lost to the writers in 5 s (one CPU?): nothing to export")
	}
	if got := gathered(t, reg, "mapguard_locked_reads_total", map[string]string{"map": "hot"}).GetCounter().GetValue(); got != float64(want) {
		t.Errorf("mapguard_locked_reads_total = %v; Stats().LockedReads = %d", got, want)
	}
}

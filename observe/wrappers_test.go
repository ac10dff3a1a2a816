package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// jsonMap is what the JSON tests need of a map, bare or instrumented.
type jsonMap interface {
	Store(key string, value int)
	json.Marshaler
	json.Unmarshaler
}

// jsonCase is one map type for the JSON tests: a bare map and an
// instrumented one named name registered with reg.
type jsonCase struct {
	typ  string
	make func(reg prometheus.Registerer, name string) (bare, observed jsonMap)
}

var jsonCases = []jsonCase{
	{"Map", func(reg prometheus.Registerer, name string) (jsonMap, jsonMap) {
		return mapguard.NewMap[string, int](), observe.Instrument(mapguard.NewMap[string, int](), name, observe.WithRegisterer(reg), observe.WithExactCounts())
	}},
	{"SnapshotMap", func(reg prometheus.Registerer, name string) (jsonMap, jsonMap) {
		return mapguard.NewSnapshotMap[string, int](), observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[string, int](), name, observe.WithRegisterer(reg), observe.WithExactCounts())
	}},
	{"ReadMostly", func(reg prometheus.Registerer, name string) (jsonMap, jsonMap) {
		return new(mapguard.ReadMostly[string, int]), observe.InstrumentReadMostly(new(mapguard.ReadMostly[string, int]), name, observe.WithRegisterer(reg), observe.WithExactCounts())
	}},
}

// TestMarshalJSONOfInstrumentedMapIsNotEmpty pins the bug where
// json.Marshal of an instrumented map of 1000 entries gave {}: each
// wrapper encodes as the bare map does, observed as an iteration, and
// decodes as it does, counting the Stores.
func TestMarshalJSONOfInstrumentedMapIsNotEmpty(t *testing.T) {
	for _, c := range jsonCases {
		t.Run(c.typ, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			bare, observed := c.make(reg, "j")
			for i := range 1000 {
				bare.Store(fmt.Sprint("k", i), i)
				observed.Store(fmt.Sprint("k", i), i)
			}
			got, err := json.Marshal(observed)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(bare)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("json.Marshal(instrumented) = %.80s...; want %.80s... (as the bare map's)", got, want)
			}
			var decoded map[string]int
			if err := json.Unmarshal(got, &decoded); err != nil || len(decoded) != 1000 {
				t.Fatalf("decoded %d entries (%v); want 1000", len(decoded), err)
			}
			it := gathered(t, reg, "mapguard_iteration_entries", map[string]string{"map": "j"}).GetHistogram()
			if it.GetSampleCount() != 1 || it.GetSampleSum() != 1000 {
				t.Errorf("iterations %d of %v entries; want MarshalJSON observed as one iteration of 1000", it.GetSampleCount(), it.GetSampleSum())
			}

			// Decoding: the same entries, each Store counted.
			reg2 := prometheus.NewPedanticRegistry()
			bare2, observed2 := c.make(reg2, "u")
			if err := json.Unmarshal(got, observed2); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, bare2); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(observed2)
			if string(again) != string(got) {
				t.Errorf("after UnmarshalJSON the map encodes as %.80s...; want %.80s...", again, got)
			}
			op, result, n := "store", "stored", 1000.0
			if c.typ == "ReadMostly" {
				op, result, n = "update", "stored", 1 // one Update, as the bare map's UnmarshalJSON
			}
			if v := gathered(t, reg2, "mapguard_operations_total", map[string]string{"map": "u", "op": op, "result": result}).GetCounter().GetValue(); v != n {
				t.Errorf("UnmarshalJSON counted operations_total{op=%q,result=%q} = %v; want %v", op, result, v, n)
			}
			for _, bad := range []string{`[1]`, `{"a":"x"}`} {
				err := json.Unmarshal([]byte(bad), observed2)
				if err == nil {
					t.Errorf("UnmarshalJSON(%s) succeeded", bad)
					continue
				}
				if !strings.HasPrefix(err.Error(), "observe: ") && !strings.HasPrefix(err.Error(), "mapguard: ") {
					t.Errorf("UnmarshalJSON(%s): %v; want an error naming the package", bad, err)
				}
			}
			if again, _ := json.Marshal(observed2); string(again) != string(got) {
				t.Error("a failed UnmarshalJSON changed the map")
			}
		})
	}
}

// TestMarshalJSONError checks that an instrumented map whose keys JSON
// cannot encode fails as the bare map does, with an error naming the map.
func TestMarshalJSONError(t *testing.T) {
	type key struct{ a, b int }
	m := observe.Instrument(mapguard.NewMap[key, int](), "structs")
	m.Store(key{1, 2}, 3)
	_, err := json.Marshal(m)
	var unsupported *json.UnsupportedTypeError
	if !errors.As(err, &unsupported) || !strings.Contains(err.Error(), "observe: encoding map structs as JSON") {
		t.Fatalf("json.Marshal of a map with struct keys: %v; want an UnsupportedTypeError naming the map", err)
	}
	if _, bareErr := json.Marshal(m.Unwrap()); bareErr == nil {
		t.Fatal("the bare map encoded struct keys")
	}
}

// singleKeyAPI is the single-key API Map and SnapshotMap share, bare or
// instrumented.
type singleKeyAPI interface {
	Load(key int) (int, bool)
	Store(key, value int)
	LoadOrStore(key, value int) (int, bool)
	LoadAndStore(key, value int) (int, bool)
	Swap(key, value int) (int, bool)
	LoadAndDelete(key int) (int, bool)
	Delete(key int)
	CompareAndSwap(key, old, new int) bool
	CompareAndDelete(key, old int) bool
	Compute(key int, fn func(old int, loaded bool) (int, mapguard.ComputeOp)) (int, bool)
	LoadOrCompute(key int, fn func() (int, bool)) (int, bool)
	DeleteFunc(del func(key, value int) bool) int
	Size() int
	Clear()
	MarshalJSON() ([]byte, error)
}

// script runs the same operations on m and returns what each returned.
func script(m singleKeyAPI) []string {
	var out []string
	rec := func(a ...any) { out = append(out, fmt.Sprint(a...)) }
	for i := range 8 {
		m.Store(i, i*10)
	}
	rec(m.Load(1))
	rec(m.Load(100))
	rec(m.LoadOrStore(1, 7))
	rec(m.LoadOrStore(100, 7))
	rec(m.LoadAndStore(2, 21))
	rec(m.LoadAndStore(101, 5)) // absent: xsync returns the stored value
	rec(m.Swap(3, 31))
	rec(m.Swap(102, 6))
	rec(m.LoadAndDelete(4))
	rec(m.LoadAndDelete(4))
	m.Delete(5)
	m.Delete(5)
	rec(m.CompareAndSwap(6, 60, 61), m.CompareAndSwap(6, 60, 62))
	rec(m.CompareAndDelete(7, 0), m.CompareAndDelete(7, 70))
	rec(m.Compute(0, func(old int, loaded bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp }))
	rec(m.Compute(200, func(int, bool) (int, mapguard.ComputeOp) { return 0, mapguard.DeleteOp }))
	rec(m.Compute(1, func(int, bool) (int, mapguard.ComputeOp) { return 0, mapguard.CancelOp }))
	rec(m.LoadOrCompute(300, func() (int, bool) { return 3, false }))
	rec(m.LoadOrCompute(300, func() (int, bool) { return 4, false }))
	rec(m.LoadOrCompute(301, func() (int, bool) { return 5, true }))
	rec(m.DeleteFunc(func(k, v int) bool { return k >= 100 }))
	rec(m.Size())
	b, err := m.MarshalJSON()
	rec(string(b), err)
	m.Clear()
	rec(m.Size())
	return out
}

// TestWrappersBehaveAsTheirMaps runs one script of every single-key
// operation on a bare map and on an instrumented one, and compares what
// each operation returned.
func TestWrappersBehaveAsTheirMaps(t *testing.T) {
	for _, c := range []struct {
		name           string
		bare, observed singleKeyAPI
	}{
		{"Map", mapguard.NewMap[int, int](), observe.Instrument(mapguard.NewMap[int, int](), "d-map")},
		{"SnapshotMap", mapguard.NewSnapshotMap[int, int](), observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[int, int](), "d-snapshot")},
	} {
		want, got := script(c.bare), script(c.observed)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: step %d returned %s; want %s (as the bare map)", c.name, i, got[i], want[i])
			}
		}
	}
}

// goroutineLabels returns the goroutine profile, whose groups of
// goroutines start with their pprof labels.
func goroutineLabels(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// labelled reports whether a goroutine profile shows labels map=name op=op.
func labelled(profile, name, op string) bool {
	return strings.Contains(profile, fmt.Sprintf(`# labels: {"map":%q, "op":%q}`, name, op))
}

// TestSnapshotMapMetrics checks InstrumentSnapshotMap's metrics with a
// real registry: entries, capacity, resizes, the operation counters, and
// the iteration histograms, which count a View's iterations.
func TestSnapshotMapMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[int, int](), "versions", observe.WithRegisterer(reg), observe.WithExactCounts())
	for i := range 1000 {
		m.Store(i, i)
	}
	m.Load(1)
	m.Load(-1)
	m.Delete(2)
	m.Delete(-2)
	m.LoadOrStore(1, 1)
	m.Compute(3, func(old int, _ bool) (int, mapguard.ComputeOp) { return old, mapguard.DeleteOp })
	view := m.Snapshot()
	defer view.Release()
	m.Store(5000, 1) // after the View: not in it
	view.Load(4)
	view.Load(5000)
	n := 0
	for range view.All() {
		n++
	}
	if n != 998 {
		t.Fatalf("the View iterated %d entries; want the 998 present when it was taken", n)
	}
	for range m.Keys() {
		break
	}
	counter := func(op, result string) float64 {
		return gathered(t, reg, "mapguard_operations_total", map[string]string{"map": "versions", "op": op, "result": result}).GetCounter().GetValue()
	}
	for _, c := range []struct {
		op, result string
		want       float64
	}{
		{"store", "stored", 1001}, {"load", "hit", 2}, {"load", "miss", 2}, // a View's Loads count as the map's
		{"delete", "deleted", 1}, {"delete", "miss", 1}, {"load_or_store", "hit", 1}, {"compute", "deleted", 1},
	} {
		if got := counter(c.op, c.result); got != c.want {
			t.Errorf("operations_total{op=%q,result=%q} = %v; want %v", c.op, c.result, got, c.want)
		}
	}
	if got := gathered(t, reg, "mapguard_entries", map[string]string{"map": "versions"}).GetGauge().GetValue(); got != 999 {
		t.Errorf("entries = %v; want 999", got)
	}
	if got := gathered(t, reg, "mapguard_capacity", map[string]string{"map": "versions"}).GetGauge().GetValue(); got < 999 {
		t.Errorf("capacity %v < entries", got)
	}
	if got := gathered(t, reg, "mapguard_resizes_total", map[string]string{"map": "versions", "direction": "grow"}).GetCounter().GetValue(); got == 0 {
		t.Error("1000 stores into a new map counted no grow")
	}
	e := gathered(t, reg, "mapguard_iteration_entries", map[string]string{"map": "versions"}).GetHistogram()
	if e.GetSampleCount() != 2 || e.GetSampleSum() != 999 {
		t.Errorf("iterations: %d visiting %v entries; want the View's (998) and the map's stopped at 1", e.GetSampleCount(), e.GetSampleSum())
	}
	if problems, err := testutil.CollectAndLint(m.Collector()); err != nil || len(problems) != 0 {
		t.Errorf("CollectAndLint: %v %v", problems, err)
	}
}

// TestReadMostlyMetrics checks InstrumentReadMostly's metrics with a real
// registry, comparing the scrape with the exposition its operations imply.
func TestReadMostlyMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := observe.InstrumentReadMostly(new(mapguard.ReadMostly[string, int]), "flags", observe.WithRegisterer(reg))
	m.Store("a", 1)
	m.Store("b", 2)
	m.Store("c", 3)
	m.Load("a")
	m.Load("zz")
	m.Delete("c")
	m.Delete("c")
	m.Update(func(tx *mapguard.Tx[string, int]) error { tx.Store("d", 4); return nil })
	boom := errors.New("boom")
	if err := m.Update(func(tx *mapguard.Tx[string, int]) error { tx.Store("e", 5); return boom }); err != boom {
		t.Fatalf("Update returned %v; want its function's error", err)
	}
	seen := map[string]int{}
	m.Range(func(k string, v int) bool { seen[k] = v; return true })
	if want := map[string]int{"a": 1, "b": 2, "d": 4}; !maps.Equal(seen, want) {
		t.Fatalf("Range saw %v; want %v", seen, want)
	}
	for range m.Values() {
		break
	}

	const want = `
# HELP mapguard_entries Entries in the map.
# TYPE mapguard_entries gauge
mapguard_entries{map="flags"} 3
# HELP mapguard_operations_total Operations on the map, by operation and result (hit, miss, stored, deleted).
# TYPE mapguard_operations_total counter
mapguard_operations_total{map="flags",op="delete",result="deleted"} 1
mapguard_operations_total{map="flags",op="delete",result="miss"} 1
mapguard_operations_total{map="flags",op="load",result="hit"} 1
mapguard_operations_total{map="flags",op="load",result="miss"} 1
mapguard_operations_total{map="flags",op="store",result="stored"} 3
mapguard_operations_total{map="flags",op="update",result="miss"} 1
mapguard_operations_total{map="flags",op="update",result="stored"} 1
`
	if err := testutil.CollectAndCompare(m.Collector(), strings.NewReader(want), "mapguard_entries", "mapguard_operations_total"); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"mapguard_capacity", "mapguard_resizes_total"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 0 {
			t.Errorf("%s: %d series (%v); a ReadMostly has no table", name, n, err)
		}
	}
	e := gathered(t, reg, "mapguard_iteration_entries", map[string]string{"map": "flags"}).GetHistogram()
	if e.GetSampleCount() != 2 || e.GetSampleSum() != 4 {
		t.Errorf("iterations: %d visiting %v entries; want Range's 3 and Values' 1", e.GetSampleCount(), e.GetSampleSum())
	}
	if problems, err := testutil.CollectAndLint(m.Collector()); err != nil || len(problems) != 0 {
		t.Errorf("CollectAndLint: %v %v", problems, err)
	}
}

// TestWrapperIterationsObserved checks, for every iteration of the new
// wrappers (a SnapshotMap's, its View's, a ReadMostly's), the span with
// the real OpenTelemetry SDK, the OpenTelemetry histogram, and the pprof
// labels while the callback runs.
func TestWrapperIterationsObserved(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	opts := []observe.Option{observe.WithTracerProvider(tp), observe.WithMeterProvider(mp), observe.WithSampler(observe.Always())}
	sm := observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[int, int](), "snap", opts...)
	rm := observe.InstrumentReadMostly(new(mapguard.ReadMostly[int, int]), "rm", opts...)
	for i := range 10 {
		sm.Store(i, i)
		rm.Store(i, i)
	}
	view := sm.Snapshot()
	defer view.Release()
	sm.Clear() // the View keeps its entries

	for _, c := range []struct {
		name, mapName string
		iterate       func(f func(k, v int) bool)
		wantEntries   int64
	}{
		{"SnapshotMap.Range", "snap", sm.Range, 0},
		{"View.Range", "snap", view.Range, 10},
		{"View.Keys", "snap", func(f func(k, v int) bool) {
			for k := range view.Keys() {
				if !f(k, 0) {
					return
				}
			}
		}, 10},
		{"ReadMostly.All", "rm", func(f func(k, v int) bool) {
			for k, v := range rm.All() {
				if !f(k, v) {
					return
				}
			}
		}, 10},
	} {
		before := len(rec.Ended())
		sawLabels := false
		c.iterate(func(int, int) bool {
			if !sawLabels {
				sawLabels = labelled(goroutineLabels(t), c.mapName, "range")
			}
			return true
		})
		if c.wantEntries > 0 && !sawLabels {
			t.Errorf("%s: no goroutine labelled map=%s op=range during the iteration", c.name, c.mapName)
		}
		spans := rec.Ended()[before:]
		if len(spans) != 1 || spans[0].Name() != "range "+c.mapName {
			t.Errorf("%s: %d spans; want one named %q", c.name, len(spans), "range "+c.mapName)
			continue
		}
		for _, a := range spans[0].Attributes() {
			if a.Key == "mapguard.entries" && a.Value.AsInt64() != c.wantEntries {
				t.Errorf("%s: span entries %d; want %d", c.name, a.Value.AsInt64(), c.wantEntries)
			}
		}
	}

	// Compute's labels.
	sawCompute := false
	sm.Compute(1, func(int, bool) (int, mapguard.ComputeOp) {
		sawCompute = labelled(goroutineLabels(t), "snap", "compute")
		return 1, mapguard.UpdateOp
	})
	if !sawCompute {
		t.Error("SnapshotMap.Compute: fn did not run under map=snap op=compute")
	}

	var rmd metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rmd); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, scope := range rmd.ScopeMetrics {
		for _, md := range scope.Metrics {
			if md.Name != "mapguard.iteration.duration" {
				continue
			}
			for _, dp := range md.Data.(metricdata.Histogram[float64]).DataPoints {
				name, _ := dp.Attributes.Value("map")
				counts[name.AsString()] += dp.Count
			}
		}
	}
	if counts["snap"] != 3 || counts["rm"] != 1 {
		t.Errorf("OpenTelemetry iteration counts %v; want snap 3 (map, View twice) and rm 1", counts)
	}
}

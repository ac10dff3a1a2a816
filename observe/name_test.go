package observe_test

import (
	"context"
	"errors"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// instrumenters instrument a new map of each type under a name.
var instrumenters = map[string]func(name string, opts ...observe.Option){
	"Instrument": func(name string, opts ...observe.Option) {
		observe.Instrument(mapguard.NewMap[int, int](), name, opts...)
	},
	"InstrumentSnapshotMap": func(name string, opts ...observe.Option) {
		observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[int, int](), name, opts...)
	},
	"InstrumentReadMostly": func(name string, opts ...observe.Option) {
		observe.InstrumentReadMostly(new(mapguard.ReadMostly[int, int]), name, opts...)
	},
	"InstrumentSyncMap": func(name string, opts ...observe.Option) {
		observe.InstrumentSyncMap(new(sync.Map), name, opts...)
	},
}

// nameErrorOf runs f and returns the *NameError it panicked with, failing
// the test if it did not panic or panicked with something else.
func nameErrorOf(t *testing.T, f func()) (ne *observe.NameError) {
	t.Helper()
	var r any
	func() {
		defer func() { r = recover() }()
		f()
	}()
	err, ok := r.(error)
	if !ok {
		t.Fatalf("recovered %v; want a panic with a *observe.NameError", r)
	}
	ne, ok = errors.AsType[*observe.NameError](err)
	if !ok {
		t.Fatalf("recovered %T %v; want a *observe.NameError", r, r)
	}
	if !strings.HasPrefix(err.Error(), "observe: ") {
		t.Errorf("error %q does not start with the package name", err)
	}
	return ne
}

// mustNotPanic runs f, failing the test with what it panicked with.
func mustNotPanic(t *testing.T, what string, f func()) {
	t.Helper()
	var r any
	func() {
		defer func() { r = recover() }()
		f()
	}()
	if r != nil {
		t.Fatalf("%s panicked: %v", what, r)
	}
}

func TestValidName(t *testing.T) {
	for _, c := range []struct {
		name  string
		valid bool
	}{
		{"sessions", true},
		{"sessions-ü", true},
		{"a b{c}=\"d\"", true}, // any UTF-8 is a label value
		{"", false},
		{"\xff", false},
		{"sessions\xc3", false}, // a truncated two-byte sequence
	} {
		err := observe.ValidName(c.name)
		if (err == nil) != c.valid {
			t.Errorf("ValidName(%q) = %v; want valid %v", c.name, err, c.valid)
			continue
		}
		if err == nil {
			continue
		}
		ne, ok := errors.AsType[*observe.NameError](err)
		if !ok || ne.Name != c.name || ne.InUse {
			t.Errorf("ValidName(%q) = %#v; want a *NameError naming it, not in use", c.name, err)
		}
		if !strings.HasPrefix(err.Error(), "observe: ") {
			t.Errorf("ValidName(%q) = %q; want it to start with the package name", c.name, err)
		}
	}
}

// TestInvalidNamePanicsAtInstrument pins an invalid UTF-8 name being
// accepted by Instrument and failing only when the collector was
// registered or scraped (and never, in OpenTelemetry and pprof): every
// constructor panics with a *NameError, and registers nothing.
func TestInvalidNamePanicsAtInstrument(t *testing.T) {
	for typ, instrument := range instrumenters {
		for _, name := range []string{"", "\xff", "cache\xc3"} {
			reg := prometheus.NewPedanticRegistry()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			ne := nameErrorOf(t, func() {
				instrument(name, observe.WithRegisterer(reg), observe.WithMeterProvider(mp))
			})
			if ne.Name != name || ne.InUse {
				t.Errorf("%s(%q): NameError %+v; want the name, not in use", typ, name, ne)
			}
			if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
				t.Errorf("%s(%q): the registry gathers %d families, error %v; want none registered", typ, name, len(mfs), err)
			}
		}
	}
}

// TestSameNameUnregisteredPanics pins two maps of one name without a
// Registerer being accepted until their collectors were registered on one
// registry: the second Instrument of a name in use panics, for every
// constructor against every other, while the first map is reachable.
func TestSameNameUnregisteredPanics(t *testing.T) {
	first := observe.Instrument(mapguard.NewMap[int, int](), "dup-unregistered")
	for typ, instrument := range instrumenters {
		ne := nameErrorOf(t, func() { instrument("dup-unregistered") })
		if ne.Name != "dup-unregistered" || !ne.InUse {
			t.Errorf("%s: NameError %+v; want the name, in use", typ, ne)
		}
		if !strings.Contains(ne.Error(), "without a Registerer") {
			t.Errorf("%s: %q does not say where the name is in use", typ, ne)
		}
	}
	// The first map's collector still registers and scrapes.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(first.Collector())
	first.Store(1, 1)
	if got := gathered(t, reg, "mapguard_entries", map[string]string{"map": "dup-unregistered"}).GetGauge().GetValue(); got != 1 {
		t.Errorf("mapguard_entries = %v; want 1", got)
	}
	// A Registerer is another scope: the name is free there.
	mustNotPanic(t, "the name on a Registerer", func() {
		observe.Instrument(mapguard.NewMap[int, int](), "dup-unregistered", observe.WithRegisterer(prometheus.NewRegistry()))
	})
}

// TestSameNameOnARegistererPanics: a Registerer that holds a map of the
// name refuses the second, which panics with a *NameError wrapping the
// registry's AlreadyRegisteredError; maps of one name on two registries
// are fine.
func TestSameNameOnARegistererPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	first := observe.InstrumentSyncMap(new(sync.Map), "dup-registered", observe.WithRegisterer(reg))
	for typ, instrument := range instrumenters {
		ne := nameErrorOf(t, func() { instrument("dup-registered", observe.WithRegisterer(reg)) })
		if !ne.InUse {
			t.Errorf("%s: NameError %+v; want in use", typ, ne)
		}
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](ne)
		if !ok || are.ExistingCollector != first.Collector() {
			t.Errorf("%s: %v does not wrap an AlreadyRegisteredError naming the first map's collector", typ, ne)
		}
	}
	mustNotPanic(t, "the name on a second registry", func() {
		observe.InstrumentSyncMap(new(sync.Map), "dup-registered", observe.WithRegisterer(prometheus.NewRegistry()))
	})
	// Unregistering frees the name on the Registerer at once, though the
	// first map is still reachable.
	if !reg.Unregister(first.Collector()) {
		t.Fatal("Unregister found no collector")
	}
	mustNotPanic(t, "the name after Unregister", func() {
		observe.InstrumentSyncMap(new(sync.Map), "dup-registered", observe.WithRegisterer(reg))
	})
	first.Store(1, 1)
}

// TestSameNameInAMeterProviderPanics pins two maps of one name recording
// into one MeterProvider, whose iteration durations the SDK silently
// merged into one series: the second panics, whether the provider is
// given or the global one the program set. A no-op provider, which
// records nothing, and two different providers are fine.
func TestSameNameInAMeterProviderPanics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	first := observe.Instrument(mapguard.NewMap[int, int](), "dup-otel",
		observe.WithMeterProvider(mp), observe.WithRegisterer(prometheus.NewRegistry()))
	for typ, instrument := range instrumenters {
		ne := nameErrorOf(t, func() {
			instrument("dup-otel", observe.WithMeterProvider(mp), observe.WithRegisterer(prometheus.NewRegistry()))
		})
		if !ne.InUse || !strings.Contains(ne.Error(), "MeterProvider") {
			t.Errorf("%s: NameError %v; want in use in the MeterProvider", typ, ne)
		}
	}
	// The panics recorded nothing: one map, one iteration, one series.
	first.Range(func(int, int) bool { return true })
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := iterationCount(rm, "dup-otel"); n != 1 {
		t.Errorf("mapguard.iteration.duration{map=dup-otel} counts %d iterations; want 1", n)
	}

	other := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	mustNotPanic(t, "the name in another MeterProvider", func() {
		observe.Instrument(mapguard.NewMap[int, int](), "dup-otel", observe.WithMeterProvider(other), observe.WithRegisterer(prometheus.NewRegistry()))
	})
	for range 2 {
		mustNotPanic(t, "the name in a no-op MeterProvider", func() {
			observe.Instrument(mapguard.NewMap[int, int](), "dup-noop", observe.WithMeterProvider(noop.NewMeterProvider()), observe.WithRegisterer(prometheus.NewRegistry()))
		})
	}

	// The global provider once the program set it.
	prev := otel.GetMeterProvider()
	global := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	otel.SetMeterProvider(global)
	defer otel.SetMeterProvider(prev)
	g := observe.Instrument(mapguard.NewMap[int, int](), "dup-global", observe.WithRegisterer(prometheus.NewRegistry()))
	ne := nameErrorOf(t, func() {
		observe.InstrumentSyncMap(new(sync.Map), "dup-global", observe.WithRegisterer(prometheus.NewRegistry()))
	})
	if !ne.InUse {
		t.Errorf("the global MeterProvider: NameError %+v; want in use", ne)
	}
	g.Store(1, 1)
}

// iterationCount returns how many iterations the OpenTelemetry histogram
// counts for the map named name.
func iterationCount(rm metricdata.ResourceMetrics, name string) uint64 {
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != "mapguard.iteration.duration" {
				continue
			}
			for _, dp := range md.Data.(metricdata.Histogram[float64]).DataPoints {
				if v, ok := dp.Attributes.Value("map"); ok && v.AsString() == name {
					n += dp.Count
				}
			}
		}
	}
	return n
}

// TestDroppedMapFreesItsName: a map nothing references any more frees its
// name for its successor, without the program waiting for a collection,
// also when it was busy enough to be sampled (the sampler goroutine holds
// sampled maps).
func TestDroppedMapFreesItsName(t *testing.T) {
	for i := range 3 {
		mustNotPanic(t, "instrumenting a dropped map's name", func() {
			observe.Instrument(mapguard.NewMap[int, int](), "dropped").Store(i, i)
		})
	}
	for range 2 {
		mustNotPanic(t, "instrumenting a dropped busy map's name", func() { dropBusyMap(t, "dropped-busy") })
	}
}

// TestViewHoldsItsMapsName: a View of an instrumented SnapshotMap records
// its iterations under the map's name, so while it is reachable the name
// is in use though the map's wrapper was dropped.
func TestViewHoldsItsMapsName(t *testing.T) {
	view := viewOfDroppedMap("viewed")
	ne := nameErrorOf(t, func() { observe.Instrument(mapguard.NewMap[int, int](), "viewed") })
	if !ne.InUse {
		t.Errorf("NameError %+v; want in use", ne)
	}
	if n := view.Len(); n != 1 {
		t.Errorf("the View holds %d entries; want 1", n)
	}
	view.Release()
	view = nil
	mustNotPanic(t, "the name after the View was dropped", func() {
		observe.Instrument(mapguard.NewMap[int, int](), "viewed")
	})
}

// viewOfDroppedMap returns a View of an instrumented SnapshotMap named
// name of one entry, and drops the map.
func viewOfDroppedMap(name string) *observe.View[int, int] {
	m := observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[int, int](), name)
	m.Store(1, 1)
	return m.Snapshot()
}

// dropBusyMap instruments a map named name and loads from it until its
// counts are sampled, then drops it.
func dropBusyMap(t *testing.T, name string) {
	t.Helper()
	m := observe.Instrument(mapguard.NewMap[int, int](), name, observe.WithSampleAbove(1))
	deadline := time.Now().Add(5 * time.Second)
	for !observe.Sampled(m) && time.Now().Before(deadline) {
		for i := range 4096 {
			m.Load(i)
		}
		time.Sleep(time.Millisecond)
	}
	if !observe.Sampled(m) {
		t.Fatal("the map was not sampled after 5 s of Loads above its rate")
	}
}

// TestRefusedRegistrationLeavesNameAndMap: when the Registerer refuses
// the collector for another reason (a foreign collector exporting the same
// series), Instrument panics naming the package, the name stays free in
// its other scopes, and the map keeps counting for the instrument it had.
func TestRefusedRegistrationLeavesNameAndMap(t *testing.T) {
	bare := mapguard.NewMap[int, int]()
	okReg := prometheus.NewPedanticRegistry()
	first := observe.Instrument(bare, "refused-first", observe.WithRegisterer(okReg), observe.WithExactCounts())

	refusing := prometheus.NewRegistry()
	refusing.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mapguard_entries", Help: "Entries in the map.", ConstLabels: prometheus.Labels{"map": "refused"},
	}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	var r any
	func() {
		defer func() { r = recover() }()
		observe.Instrument(bare, "refused", observe.WithRegisterer(refusing), observe.WithMeterProvider(mp))
	}()
	err, ok := r.(error)
	if !ok || !strings.HasPrefix(err.Error(), "observe: registering the collector of map \"refused\"") {
		t.Fatalf("recovered %v; want the registry's error, naming the package and the map", r)
	}
	if _, isName := errors.AsType[*observe.NameError](err); isName {
		t.Errorf("%v is a *NameError; the name was not in use", err)
	}
	// Free at once: Instrument needs no collection to find it free.
	forced := forcedGCs()
	mustNotPanic(t, "the refused name in the same MeterProvider", func() {
		observe.Instrument(mapguard.NewMap[int, int](), "refused", observe.WithMeterProvider(mp), observe.WithRegisterer(prometheus.NewRegistry()))
	})
	if n := forcedGCs() - forced; n != 0 {
		t.Errorf("Instrument forced %d collections to find the refused name free; want 0", n)
	}
	first.Load(1)
	if got := gathered(t, okReg, "mapguard_operations_total", map[string]string{"map": "refused-first", "op": "load", "result": "miss"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("the first instrument counts %v load misses after the refused one; want 1", got)
	}
}

// forcedGCs returns how many collections runtime.GC has forced.
func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestScrapeOfValidNames: maps with valid names, non-ASCII included,
// scrape on a pedantic registry (which checks every metric it gathers)
// and pass the linter.
func TestScrapeOfValidNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := observe.Instrument(mapguard.NewMap[string, int](), "sessions-ü", observe.WithRegisterer(reg))
	s := observe.InstrumentSnapshotMap(mapguard.NewSnapshotMap[string, int](), `a "quoted" {name}`, observe.WithRegisterer(reg))
	m.Store("a", 1)
	s.Store("b", 2)
	s.Store("c", 3)
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if got := gathered(t, reg, "mapguard_entries", map[string]string{"map": "sessions-ü"}).GetGauge().GetValue(); got != 1 {
		t.Errorf("mapguard_entries{map=sessions-ü} = %v; want 1", got)
	}
	if got := gathered(t, reg, "mapguard_entries", map[string]string{"map": `a "quoted" {name}`}).GetGauge().GetValue(); got != 2 {
		t.Errorf("mapguard_entries{map=a \"quoted\" {name}} = %v; want 2", got)
	}
}

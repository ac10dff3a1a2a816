// Package observe makes mapguard maps (and sync.Maps) observable in
// production: Prometheus metrics read at scrape time, an OpenTelemetry span
// per sampled iteration, and pprof labels that attribute iteration and
// Compute cost to the map by name.
//
//	sessions := observe.Instrument(mapguard.NewMap[string, *Session](), "sessions",
//		observe.WithRegisterer(prometheus.DefaultRegisterer))
//
// Instrument wraps a mapguard.Map, InstrumentSnapshotMap a SnapshotMap
// (its Views' iterations are observed too), InstrumentReadMostly a
// ReadMostly and InstrumentSyncMap a sync.Map; each wrapper has the whole
// API of the map it wraps.
//
// Operations are counted in striped cells that the collector sums when
// scraped, with Map.Stats. Counting is exact while a map is quiet; above
// 100,000 operations per second it is sampled (one Map Load or Store in
// 256, one other operation in 64, each counted as that many: unbiased
// estimates), so that instrumentation costs a busy map's Load and Store a
// few percent (WithExactCounts turns sampling off).
// Nothing is registered globally unless a Registerer says so. An invalid
// map name (ValidName), or one that another map has where the two would
// clash (see Instrument), is a *NameError panic when the map is
// instrumented, not a failed scrape or a merged series later.
package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the OpenTelemetry instrumentation scope of the tracer and
// meter: the package's import path.
const ScopeName = "github.com/mapguard/mapguard/observe"

// Option configures Instrument, InstrumentSnapshotMap,
// InstrumentReadMostly and InstrumentSyncMap.
type Option func(*config)

type config struct {
	reg     prometheus.Registerer
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	sampler Sampler
	slow    time.Duration
	exact   bool
	// sampleAbove is the rate above which counts are sampled; 0 is
	// sampleAbove's. Only tests set it (a machine running -race tests in
	// parallel may not reach the production rate).
	sampleAbove float64
}

func newConfig(opts []Option) config {
	c := config{sampler: SlowOrLarge(100*time.Millisecond, 1_000_000)}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithRegisterer registers the map's Prometheus collector with reg. Without
// it no collector is registered; Collector returns it for registering
// elsewhere.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) { c.reg = reg }
}

// WithTracerProvider sets the provider of the iteration spans' tracer. The
// global provider (otel.GetTracerProvider) is used when none is given.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of the OpenTelemetry iteration
// metrics. The global provider (otel.GetMeterProvider) is used when none is
// given.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithSampler chooses which iterations get a span. The default is
// SlowOrLarge(100ms, 1,000,000 entries), or the WithSlowIteration
// threshold if one is given.
func WithSampler(s Sampler) Option {
	return func(c *config) { c.sampler = s }
}

// WithSlowIteration sets the duration above which an iteration counts as
// slow: the default sampler traces slow iterations only. A non-positive d
// panics.
func WithSlowIteration(d time.Duration) Option {
	if d <= 0 {
		panic("observe: WithSlowIteration: the duration must be positive")
	}
	return func(c *config) {
		c.slow = d
		c.sampler = SlowOrLarge(d, 1_000_000)
	}
}

// WithExactCounts counts every operation, however busy the map. By
// default a map's operation counts are exact only below 100,000
// operations per second and sampled above, because counting costs a Load
// about as much again as the Load itself (a call and a counter write).
// Sampled, a Map's Load or Store is counted with probability 1/256 and
// any other operation with 1/64, each as that many operations, so the
// counts are unbiased estimates; their relative error is about
// 1/sqrt(operations sampled), under 1% over a 15 s scrape at 100,000
// Loads per second. A
// map whose Loads go nearly all to one key is the weak case: Loads and
// Stores are sampled by key with a salt redrawn every millisecond, so its
// counts vary more.
func WithExactCounts() Option {
	return func(c *config) { c.exact = true }
}

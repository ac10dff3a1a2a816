package observe

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"unicode/utf8"
	"weak"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// NameError is the error ValidName returns for a name that cannot name an
// instrumented map, and the value Instrument, InstrumentSnapshotMap,
// InstrumentReadMostly and InstrumentSyncMap panic with when given such a
// name or a name already in use (see Instrument for where a name must be
// unique). They panic rather than return an error because a map's name is
// fixed in the program, as prometheus.MustRegister panics with an
// AlreadyRegisteredError; a program that takes names from configuration
// checks them with ValidName first, or recovers the panic and finds the
// NameError with errors.As.
//
// A name is invalid when it is empty or is not valid UTF-8: a Prometheus
// label value must be valid UTF-8, so every scrape of the map's collector
// would fail, and OpenTelemetry exporters and pprof readers would reject
// or garble the name.
type NameError struct {
	// Name is the name given.
	Name string
	// InUse reports that the name is valid but another instrumented map
	// has it where the two would clash.
	InUse bool
	// where says where the name is in use; err is the Registerer's
	// error when it refused the collector.
	where string
	err   error
}

// Error says what is wrong with the name.
func (e *NameError) Error() string {
	q := strconv.Quote(e.Name)
	switch {
	case e.Name == "":
		return "observe: a map's name must not be empty"
	case !utf8.ValidString(e.Name):
		return "observe: map name " + q + " is not valid UTF-8, as a Prometheus label value must be"
	case e.err != nil:
		return "observe: map name " + q + " is already in use " + e.where + ": " + e.err.Error()
	case e.InUse:
		return "observe: map name " + q + " is already in use " + e.where
	}
	return "observe: map name " + q + " is valid" // a NameError nobody should make
}

// Unwrap returns the Registerer's error when WithRegisterer's Registerer
// already held a map of the name (a prometheus.AlreadyRegisteredError,
// whose ExistingCollector is that map's Collector), and nil otherwise.
func (e *NameError) Unwrap() error { return e.err }

// ValidName returns a *NameError if name cannot name an instrumented map
// (it is empty or not valid UTF-8), and nil if it can. It does not check
// that the name is free: only Instrument can claim it, atomically.
func ValidName(name string) error {
	if name == "" || !utf8.ValidString(name) {
		return &NameError{Name: name}
	}
	return nil
}

// unregistered is the scope of the maps instrumented without a
// Registerer: their collectors may be registered together later.
type unregistered struct{}

// nameKey is a name in a scope: unregistered{}, or the MeterProvider the
// map records into.
type nameKey struct {
	scope any
	name  string
}

// names holds every claimed name, each with a weak pointer to the
// Collector of the map that claimed it: a name is in use while the
// Collector is reachable, as it is from the map's wrapper, its Views and
// a Registerer that holds it. mu protects m.
var names struct {
	mu sync.Mutex
	m  map[nameKey]weak.Pointer[Collector]
}

// defaultMeterProvider is the global MeterProvider a program starts with,
// which records nothing until otel.SetMeterProvider replaces it.
var defaultMeterProvider = otel.GetMeterProvider()

// nameKeys returns the scopes in which a map named name, registered with
// reg (nil: none) and recording into mp, must be
// the only reachable map of that name: without a Registerer, the maps
// without one; and the MeterProvider it records into, if that is one
// given with WithMeterProvider or a global one the program set, and a
// pointer (as the SDK's is: a provider that is a plain value, as the
// no-op one is, records nothing and cannot be told apart from another).
// A Registerer is not a scope here: it checks its own collectors when
// the map registers, and unregistering frees a name in it.
func nameKeys(name string, reg prometheus.Registerer, mp metric.MeterProvider) []nameKey {
	var keys []nameKey
	if reg == nil {
		keys = append(keys, nameKey{unregistered{}, name})
	}
	if mp != nil && mp != defaultMeterProvider && reflect.TypeOf(mp).Kind() == reflect.Pointer {
		keys = append(keys, nameKey{mp, name})
	}
	return keys
}

// claimNames gives c's map its name in each of keys, or gives it none and
// returns a *NameError if the name is invalid or another reachable
// Collector has it in one of them. A Collector that is unreachable but
// not yet collected still holds its names, so before it reports a name in
// use claimNames runs a garbage collection and looks again: a map that
// was dropped frees its name for its successor. The collection costs
// milliseconds, but only a name that is about to be a panic pays it.
func claimNames(c *Collector, keys []nameKey) error {
	name := c.in.name
	if err := ValidName(name); err != nil {
		return err
	}
	names.mu.Lock()
	defer names.mu.Unlock()
	taken := func() (nameKey, bool) {
		for _, k := range keys {
			if old, ok := names.m[k]; ok && old.Value() != nil {
				return k, true
			}
		}
		return nameKey{}, false
	}
	if _, ok := taken(); ok {
		// runtime.GC does not wait for cleanups to run, so holding
		// names.mu (which releaseNames takes) cannot deadlock. It
		// finishes a cycle in progress, in which taken may have kept
		// the old Collector, and then runs a full one.
		runtime.GC()
		if k, ok := taken(); ok {
			where := "by another reachable map instrumented without a Registerer (their collectors could not be registered together)"
			if k.scope != (unregistered{}) {
				where = "by another reachable map recording into the same MeterProvider (their iteration metrics would be one series)"
			}
			return &NameError{Name: name, InUse: true, where: where}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if names.m == nil {
		names.m = make(map[nameKey]weak.Pointer[Collector])
	}
	cl := claim{keys, weak.Make(c)}
	for _, k := range keys {
		names.m[k] = cl.by
	}
	runtime.AddCleanup(c, releaseNames, cl)
	return nil
}

// claim is the names a map claimed, and its Collector.
type claim struct {
	keys []nameKey
	by   weak.Pointer[Collector]
}

// releaseNames frees cl's names that cl's Collector still holds: it runs
// after the Collector is collected, and when its Registerer refused it.
func releaseNames(cl claim) {
	names.mu.Lock()
	defer names.mu.Unlock()
	for _, k := range cl.keys {
		if names.m[k] == cl.by {
			delete(names.m, k)
		}
	}
}

// register registers c with reg, or releases c's names (keys) and
// returns the Registerer's error: a *NameError wrapping it if reg already
// holds a map of the name.
func register(reg prometheus.Registerer, c *Collector, keys []nameKey) error {
	err := reg.Register(c)
	if err == nil {
		return nil
	}
	releaseNames(claim{keys, weak.Make(c)})
	name := c.in.name
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		return &NameError{Name: name, InUse: true, where: "on the Registerer", err: are}
	}
	return fmt.Errorf("observe: registering the collector of map %q: %w", name, err)
}

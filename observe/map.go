package observe

import (
	"context"
	"iter"

	"github.com/mapguard/mapguard"
)

// Map is a mapguard.Map with instrumentation: the same methods, each
// counted by operation and result, iterations timed, traced when sampled
// and run under pprof labels map=<name> op=range, and Compute and
// LoadOrCompute under op=compute. It is safe for concurrent use, as the
// map it wraps.
//
// Map has every method of mapguard.Map but Observe, which the instrument
// uses to count the map's Loads and Stores (another observer would
// replace it); a test compares the two method sets.
type Map[K comparable, V any] struct {
	m  *mapguard.Map[K, V]
	in *instrument
	c  *Collector // holds the map's name while the wrapper is reachable
	// cancel is a LoadOrCompute function that cancels: LoadOrCompute
	// loads through it, as the map's Load would count as a load.
	cancel func() (V, bool)
}

// Instrument wraps m, naming it name in metrics, spans and profile labels.
// Use a short fixed name (it is a label value, so never a key or an ID).
//
// The name must be valid (ValidName: not empty, valid UTF-8), and free
// wherever two maps of one name would clash:
//
//   - on WithRegisterer's Registerer, which refuses a second collector of
//     the name until the first is unregistered;
//   - without WithRegisterer, among the other maps instrumented without
//     one, whose collectors could not be registered together later;
//   - in the MeterProvider the map records into, where the two maps'
//     iteration durations would be one series: one given with
//     WithMeterProvider, or the global one once the program has set it
//     (otel.SetMeterProvider; a value provider, as the no-op one, is not
//     checked).
//
// Outside a Registerer, a name is in use while the map instrumented under
// it is reachable: its wrapper, a SnapshotMap's View, or its Collector
// (held by a registry, say). Instrument collects garbage before it
// reports a name in use, so a map that was dropped frees its name; one
// that a goroutine still uses (a request in flight) does not. A program
// that replaces a map at run time under the same name therefore uses
// WithRegisterer (unregistering the old collector first), and, if it
// records into a MeterProvider that is checked, lets the old map's users
// finish first.
//
// Otherwise Instrument panics with a *NameError before the map counts
// anything for it, as prometheus.MustRegister panics with an
// AlreadyRegisteredError (which the NameError wraps when the Registerer
// refused it); recover it and use errors.As to act on it, or check a
// configured name with ValidName first. Two maps of one name in different
// scopes still share the pprof labels map=<name>: give them different
// names to tell them apart in a profile.
//
// Instrument a map once: the map counts its own Loads and Stores for the
// one instrument set last (mapguard.Map.Observe).
func Instrument[K comparable, V any](m *mapguard.Map[K, V], name string, opts ...Option) *Map[K, V] {
	om := &Map[K, V]{m: m, cancel: cancelCompute[V]}
	om.c = newInstrument(name, newConfig(opts), mapCounters, func() (tableStats, bool) {
		st := m.Stats()
		return tableStats{entries: st.Entries, capacity: st.Capacity, grows: st.Grows, shrinks: st.Shrinks, clears: st.Clears, lockedReads: st.LockedReads, hasTable: true}, true
	}, mapHook(m))
	om.in = om.c.in
	return om
}

// mapHook returns the function that sets how m counts its own Loads and
// Stores: every one (bits 0), or the sample that bits and salt choose,
// each counted as the weight the map reports.
func mapHook[K comparable, V any](m *mapguard.Map[K, V]) func(in *instrument, bits uint, salt uint64) {
	var count func(mapguard.Op, bool, uint64) // made once: the salt changes every millisecond
	return func(in *instrument, bits uint, salt uint64) {
		if count == nil {
			count = in.ops.countObserved
		}
		m.Observe(count, bits, salt)
	}
}

// Unwrap returns the map being instrumented. Operations on it directly
// are not counted, except Load and Store, which the map counts itself
// while it is instrumented.
func (m *Map[K, V]) Unwrap() *mapguard.Map[K, V] { return m.m }

// Collector returns the map's Prometheus collector, to register where
// WithRegisterer was not given.
func (m *Map[K, V]) Collector() *Collector { return m.c }

// Load is mapguard.Map.Load, counted as a hit or a miss. The map counts
// it itself (mapguard.Map.Observe), so this method inlines to a plain
// call of the map's Load.
func (m *Map[K, V]) Load(key K) (value V, ok bool) { return m.m.Load(key) }

// Store is mapguard.Map.Store, counted by the map itself as Load is.
func (m *Map[K, V]) Store(key K, value V) { m.m.Store(key, value) }

// LoadOrStore is mapguard.Map.LoadOrStore, counted as a hit (loaded) or a
// store.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	actual, loaded = m.m.LoadOrStore(key, value)
	m.in.count(loaded, loadOrStoreHit, loadOrStoreStored)
	return actual, loaded
}

// LoadAndStore is mapguard.Map.LoadAndStore, counted as a swap.
func (m *Map[K, V]) LoadAndStore(key K, value V) (actual V, loaded bool) {
	actual, loaded = m.m.LoadAndStore(key, value)
	m.in.ops.inc(swapStored)
	return actual, loaded
}

// Swap is mapguard.Map.Swap.
func (m *Map[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	previous, loaded = m.m.Swap(key, value)
	m.in.ops.inc(swapStored)
	return previous, loaded
}

// LoadAndDelete is mapguard.Map.LoadAndDelete.
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	value, loaded = m.m.LoadAndDelete(key)
	m.in.count(loaded, loadAndDeleteDeleted, loadAndDeleteMiss)
	return value, loaded
}

// Delete is mapguard.Map.Delete, counted as a deletion or a miss.
func (m *Map[K, V]) Delete(key K) {
	_, loaded := m.m.LoadAndDelete(key)
	m.in.count(loaded, deleteDeleted, deleteMiss)
}

// CompareAndSwap is mapguard.Map.CompareAndSwap.
func (m *Map[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	swapped = m.m.CompareAndSwap(key, old, new)
	m.in.count(swapped, casStored, casMiss)
	return swapped
}

// CompareAndDelete is mapguard.Map.CompareAndDelete.
func (m *Map[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	deleted = m.m.CompareAndDelete(key, old)
	m.in.count(deleted, cadDeleted, cadMiss)
	return deleted
}

// Compute is mapguard.Map.Compute, run under the pprof labels map=<name>
// op=compute and counted by what fn decided.
func (m *Map[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op mapguard.ComputeOp)) (actual V, ok bool) {
	return observeCompute(m.in, m.m.Compute, key, fn)
}

// LoadOrCompute is mapguard.Map.LoadOrCompute; fn runs under the pprof
// labels map=<name> op=compute.
func (m *Map[K, V]) LoadOrCompute(key K, fn func() (value V, cancel bool)) (actual V, loaded bool) {
	return observeLoadOrCompute(m.in, m.m.LoadOrCompute, m.cancel, key, fn)
}

// DeleteFunc is mapguard.Map.DeleteFunc, observed as an iteration.
func (m *Map[K, V]) DeleteFunc(del func(key K, value V) bool) int {
	return observeDeleteFunc(m.in, m.m.DeleteFunc, del)
}

// RangeContext is Range with a context: the iteration's span, if sampled,
// is a child of ctx's span, and the pprof labels add to ctx's.
func (m *Map[K, V]) RangeContext(ctx context.Context, f func(key K, value V) bool) {
	observeRange(ctx, m.in, m.m.Range, f)
}

// Range is mapguard.Map.Range, observed as an iteration.
func (m *Map[K, V]) Range(f func(key K, value V) bool) { m.RangeContext(context.Background(), f) }

// All is mapguard.Map.All, observed as an iteration.
func (m *Map[K, V]) All() iter.Seq2[K, V] { return m.Range }

// Keys is mapguard.Map.Keys, observed as an iteration.
func (m *Map[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) { m.Range(func(k K, _ V) bool { return yield(k) }) }
}

// Values is mapguard.Map.Values, observed as an iteration.
func (m *Map[K, V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) { m.Range(func(_ K, v V) bool { return yield(v) }) }
}

// Size is mapguard.Map.Size.
func (m *Map[K, V]) Size() int { return m.m.Size() }

// Stats is mapguard.Map.Stats.
func (m *Map[K, V]) Stats() mapguard.Stats { return m.m.Stats() }

// MarshalJSON is mapguard.Map.MarshalJSON, observed as an iteration: it
// encodes what one Range sees as a JSON object, as encoding/json encodes
// a map[K]V.
func (m *Map[K, V]) MarshalJSON() ([]byte, error) {
	return marshalJSON(m.in, m.m.Range, m.m.Size())
}

// UnmarshalJSON is mapguard.Map.UnmarshalJSON; the map counts each entry
// it stores as a Store.
func (m *Map[K, V]) UnmarshalJSON(data []byte) error { return m.m.UnmarshalJSON(data) }

// Clear is mapguard.Map.Clear; the entries it removes are counted as
// clear deletions (as the size was just before).
func (m *Map[K, V]) Clear() {
	n := m.m.Size()
	m.m.Clear()
	m.in.ops.addExact(clearDeleted, uint64(n))
}

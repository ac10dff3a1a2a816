package observe

import (
	"context"
	"iter"

	"github.com/mapguard/mapguard"
)

// SnapshotMap is a mapguard.SnapshotMap with instrumentation, as Map is
// for mapguard.Map: the same methods, counted by operation and result,
// iterations timed, traced when sampled and run under pprof labels. Its
// Snapshot returns a View whose iteration is observed as an iteration of
// the map, and whose Loads are counted as the map's Loads.
//
// Unlike mapguard.Map, a SnapshotMap does not count its own Loads and
// Stores, so the wrapper counts them as SyncMap's are counted: while the
// map is busy one in 64 is counted, as 64, by a per-operation random
// draw (about 1 ns) after the call. A SnapshotMap Load costs a Map Load
// plus a pointer chase, so counting costs it relatively less than it
// would cost a Map's.
//
// SnapshotMap has every method of mapguard.SnapshotMap, with Snapshot
// returning the instrumented View; a test compares the method sets.
type SnapshotMap[K comparable, V any] struct {
	m  *mapguard.SnapshotMap[K, V]
	in *instrument
	c  *Collector // holds the map's name while the wrapper is reachable
	// cancel is a LoadOrCompute function that cancels (see
	// observeLoadOrCompute).
	cancel func() (V, bool)
}

// InstrumentSnapshotMap wraps m, naming it name, as Instrument does (and
// panics as Instrument does for an invalid name or one in use). The
// metrics are Map's: mapguard_capacity and mapguard_resizes_total describe
// the table under the map's versions.
func InstrumentSnapshotMap[K comparable, V any](m *mapguard.SnapshotMap[K, V], name string, opts ...Option) *SnapshotMap[K, V] {
	sm := &SnapshotMap[K, V]{m: m, cancel: cancelCompute[V]}
	sm.c = newInstrument(name, newConfig(opts), mapCounters, func() (tableStats, bool) {
		st := m.Stats()
		return tableStats{entries: st.Entries, capacity: st.Capacity, grows: st.Grows, shrinks: st.Shrinks, clears: st.Clears, lockedReads: st.LockedReads, hasTable: true}, true
	}, nil)
	sm.in = sm.c.in
	return sm
}

// Unwrap returns the map being instrumented. Operations on it directly
// are not counted.
func (s *SnapshotMap[K, V]) Unwrap() *mapguard.SnapshotMap[K, V] { return s.m }

// Collector returns the map's Prometheus collector, to register where
// WithRegisterer was not given.
func (s *SnapshotMap[K, V]) Collector() *Collector { return s.c }

// Load is mapguard.SnapshotMap.Load, counted as a hit or a miss.
func (s *SnapshotMap[K, V]) Load(key K) (value V, ok bool) {
	value, ok = s.m.Load(key)
	s.in.count(ok, loadHit, loadMiss)
	return value, ok
}

// Store is mapguard.SnapshotMap.Store.
func (s *SnapshotMap[K, V]) Store(key K, value V) {
	s.m.Store(key, value)
	s.in.ops.inc(storeStored)
}

// LoadOrStore is mapguard.SnapshotMap.LoadOrStore, counted as a hit
// (loaded) or a store.
func (s *SnapshotMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	actual, loaded = s.m.LoadOrStore(key, value)
	s.in.count(loaded, loadOrStoreHit, loadOrStoreStored)
	return actual, loaded
}

// LoadAndStore is mapguard.SnapshotMap.LoadAndStore, counted as a swap.
func (s *SnapshotMap[K, V]) LoadAndStore(key K, value V) (actual V, loaded bool) {
	actual, loaded = s.m.LoadAndStore(key, value)
	s.in.ops.inc(swapStored)
	return actual, loaded
}

// Swap is mapguard.SnapshotMap.Swap.
func (s *SnapshotMap[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	previous, loaded = s.m.Swap(key, value)
	s.in.ops.inc(swapStored)
	return previous, loaded
}

// LoadAndDelete is mapguard.SnapshotMap.LoadAndDelete.
func (s *SnapshotMap[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	value, loaded = s.m.LoadAndDelete(key)
	s.in.count(loaded, loadAndDeleteDeleted, loadAndDeleteMiss)
	return value, loaded
}

// Delete is mapguard.SnapshotMap.Delete, counted as a deletion or a miss.
func (s *SnapshotMap[K, V]) Delete(key K) {
	_, loaded := s.m.LoadAndDelete(key)
	s.in.count(loaded, deleteDeleted, deleteMiss)
}

// CompareAndSwap is mapguard.SnapshotMap.CompareAndSwap.
func (s *SnapshotMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	swapped = s.m.CompareAndSwap(key, old, new)
	s.in.count(swapped, casStored, casMiss)
	return swapped
}

// CompareAndDelete is mapguard.SnapshotMap.CompareAndDelete.
func (s *SnapshotMap[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	deleted = s.m.CompareAndDelete(key, old)
	s.in.count(deleted, cadDeleted, cadMiss)
	return deleted
}

// Compute is mapguard.SnapshotMap.Compute, run under the pprof labels
// map=<name> op=compute and counted by what fn decided.
func (s *SnapshotMap[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op mapguard.ComputeOp)) (actual V, ok bool) {
	return observeCompute(s.in, s.m.Compute, key, fn)
}

// LoadOrCompute is mapguard.SnapshotMap.LoadOrCompute; fn runs under the
// pprof labels map=<name> op=compute.
func (s *SnapshotMap[K, V]) LoadOrCompute(key K, fn func() (value V, cancel bool)) (actual V, loaded bool) {
	return observeLoadOrCompute(s.in, s.m.LoadOrCompute, s.cancel, key, fn)
}

// DeleteFunc is mapguard.SnapshotMap.DeleteFunc, observed as an
// iteration.
func (s *SnapshotMap[K, V]) DeleteFunc(del func(key K, value V) bool) int {
	return observeDeleteFunc(s.in, s.m.DeleteFunc, del)
}

// RangeContext is Range with a context, as Map.RangeContext.
func (s *SnapshotMap[K, V]) RangeContext(ctx context.Context, f func(key K, value V) bool) {
	observeRange(ctx, s.in, s.m.Range, f)
}

// Range is mapguard.SnapshotMap.Range, observed as an iteration. It is not
// a snapshot; iterate a View for one.
func (s *SnapshotMap[K, V]) Range(f func(key K, value V) bool) {
	s.RangeContext(context.Background(), f)
}

// All is mapguard.SnapshotMap.All, observed as an iteration.
func (s *SnapshotMap[K, V]) All() iter.Seq2[K, V] { return s.Range }

// Keys is mapguard.SnapshotMap.Keys, observed as an iteration.
func (s *SnapshotMap[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) { s.Range(func(k K, _ V) bool { return yield(k) }) }
}

// Values is mapguard.SnapshotMap.Values, observed as an iteration.
func (s *SnapshotMap[K, V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) { s.Range(func(_ K, v V) bool { return yield(v) }) }
}

// Size is mapguard.SnapshotMap.Size.
func (s *SnapshotMap[K, V]) Size() int { return s.m.Size() }

// Stats is mapguard.SnapshotMap.Stats.
func (s *SnapshotMap[K, V]) Stats() mapguard.Stats { return s.m.Stats() }

// Clear is mapguard.SnapshotMap.Clear; the entries it removes are counted
// as clear deletions (as the size was just before).
func (s *SnapshotMap[K, V]) Clear() {
	n := s.m.Size()
	s.m.Clear()
	s.in.ops.addExact(clearDeleted, uint64(n))
}

// MarshalJSON is mapguard.SnapshotMap.MarshalJSON, observed as an
// iteration. Like it, it is not a snapshot: marshal a View for one.
func (s *SnapshotMap[K, V]) MarshalJSON() ([]byte, error) {
	return marshalJSON(s.in, s.m.Range, s.m.Size())
}

// UnmarshalJSON is mapguard.SnapshotMap.UnmarshalJSON: it decodes a JSON
// object and stores its entries, each counted as a Store, keeping entries
// whose keys are not in the object. On error the map is unchanged.
func (s *SnapshotMap[K, V]) UnmarshalJSON(data []byte) error {
	plain, err := decodeJSON[K, V](s.in, data)
	if err != nil {
		return err
	}
	for k, v := range plain {
		s.Store(k, v)
	}
	return nil
}

// Snapshot is mapguard.SnapshotMap.Snapshot, with the View instrumented:
// its iterations are observed as the map's, and its Loads counted as the
// map's Loads.
func (s *SnapshotMap[K, V]) Snapshot() *View[K, V] {
	return &View[K, V]{v: s.m.Snapshot(), in: s.in, c: s.c}
}

// View is a mapguard.View of an instrumented SnapshotMap, made by
// SnapshotMap.Snapshot: the same methods, with iterations (Range, All,
// Keys, Values, MarshalJSON) observed as iterations of the map (the
// histograms, a span when sampled, the pprof labels map=<name> op=range)
// and Loads counted as the map's Loads. Len's first call counts the
// entries with an iteration that is not observed.
//
// The zero View is not usable: get one from SnapshotMap.Snapshot. As the
// View it wraps, it is safe for concurrent use and must not be used
// after Release.
type View[K comparable, V any] struct {
	v  *mapguard.View[K, V]
	in *instrument
	c  *Collector // holds the map's name while the View is reachable
}

// Unwrap returns the View being instrumented. Operations on it directly
// are not counted.
func (v *View[K, V]) Unwrap() *mapguard.View[K, V] { return v.v }

// Load is mapguard.View.Load, counted as a load of the map, a hit or a
// miss.
func (v *View[K, V]) Load(key K) (value V, ok bool) {
	value, ok = v.v.Load(key)
	v.in.count(ok, loadHit, loadMiss)
	return value, ok
}

// RangeContext is Range with a context, as Map.RangeContext.
func (v *View[K, V]) RangeContext(ctx context.Context, f func(key K, value V) bool) {
	observeRange(ctx, v.in, v.v.Range, f)
}

// Range is mapguard.View.Range, observed as an iteration of the map.
func (v *View[K, V]) Range(f func(key K, value V) bool) { v.RangeContext(context.Background(), f) }

// All is mapguard.View.All, observed as an iteration of the map.
func (v *View[K, V]) All() iter.Seq2[K, V] { return v.Range }

// Keys is mapguard.View.Keys, observed as an iteration of the map.
func (v *View[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) { v.Range(func(k K, _ V) bool { return yield(k) }) }
}

// Values is mapguard.View.Values, observed as an iteration of the map.
func (v *View[K, V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) { v.Range(func(_ K, val V) bool { return yield(val) }) }
}

// Len is mapguard.View.Len.
func (v *View[K, V]) Len() int { return v.v.Len() }

// MarshalJSON is mapguard.View.MarshalJSON, observed as an iteration of
// the map: one consistent state of the map as a JSON object.
func (v *View[K, V]) MarshalJSON() ([]byte, error) {
	return marshalJSON(v.in, v.v.Range, 0)
}

// Release is mapguard.View.Release.
func (v *View[K, V]) Release() { v.v.Release() }

package observe

import (
	"context"
	"iter"

	"github.com/mapguard/mapguard"
)

// ReadMostly is a mapguard.ReadMostly with instrumentation: the same
// methods, Load, Store, Delete and Update counted by result, iterations
// (Range, All, Keys, Values, MarshalJSON) timed, traced when sampled and
// run under pprof labels map=<name> op=range. Its collector exports
// mapguard_entries (Len) and the operation counters; a ReadMostly has no
// table, so there is no mapguard_capacity or mapguard_resizes_total.
//
// The wrapper counts Load after the call, as SyncMap's: exactly while the
// map is quiet, and while it is busy one in 64 by a per-operation random
// draw (about 1 ns), counted as 64. A ReadMostly Load is a few
// nanoseconds, so counting is a larger share of its cost than of any
// other map's: use the bare map (Unwrap) on a path where that matters.
//
// Snapshot returns the map's current version, a plain Go map: iterating
// it is not observed.
//
// ReadMostly has every method of mapguard.ReadMostly; a test compares the
// method sets.
type ReadMostly[K comparable, V any] struct {
	m  *mapguard.ReadMostly[K, V]
	in *instrument
	c  *Collector // holds the map's name while the wrapper is reachable
}

// InstrumentReadMostly wraps m, naming it name, as Instrument does (and
// panics as Instrument does for an invalid name or one in use). An
// Update is counted as op="update", result="stored" when it commits and
// "miss" when its function returns an error; the operations inside it are
// not counted.
func InstrumentReadMostly[K comparable, V any](m *mapguard.ReadMostly[K, V], name string, opts ...Option) *ReadMostly[K, V] {
	rm := &ReadMostly[K, V]{m: m}
	rm.c = newInstrument(name, newConfig(opts), readMostlyCounters, func() (tableStats, bool) {
		return tableStats{entries: m.Len()}, true
	}, nil)
	rm.in = rm.c.in
	return rm
}

// Unwrap returns the map being instrumented. Operations on it directly
// are not counted.
func (m *ReadMostly[K, V]) Unwrap() *mapguard.ReadMostly[K, V] { return m.m }

// Collector returns the map's Prometheus collector, to register where
// WithRegisterer was not given.
func (m *ReadMostly[K, V]) Collector() *Collector { return m.c }

// Load is mapguard.ReadMostly.Load, counted as a hit or a miss.
func (m *ReadMostly[K, V]) Load(key K) (value V, ok bool) {
	value, ok = m.m.Load(key)
	m.in.count(ok, loadHit, loadMiss)
	return value, ok
}

// Len is mapguard.ReadMostly.Len.
func (m *ReadMostly[K, V]) Len() int { return m.m.Len() }

// Snapshot is mapguard.ReadMostly.Snapshot: the current version, to be
// treated as read-only. Its iteration is not observed.
func (m *ReadMostly[K, V]) Snapshot() map[K]V { return m.m.Snapshot() }

// Store is mapguard.ReadMostly.Store.
func (m *ReadMostly[K, V]) Store(key K, value V) {
	m.m.Store(key, value)
	m.in.ops.inc(storeStored)
}

// Delete is mapguard.ReadMostly.Delete, counted as a deletion or a miss.
// An absent key is found so without the map's lock; a present one is
// deleted in an Update that knows whether it was still there.
func (m *ReadMostly[K, V]) Delete(key K) {
	deleted := false
	if _, ok := m.m.Load(key); ok {
		m.m.Update(func(tx *mapguard.Tx[K, V]) error {
			if _, deleted = tx.Load(key); deleted {
				tx.Delete(key)
			}
			return nil
		})
	}
	m.in.count(deleted, deleteDeleted, deleteMiss)
}

// Update is mapguard.ReadMostly.Update, counted as a store when it
// commits and a miss when fn returns an error. A panic in fn propagates
// uncounted.
func (m *ReadMostly[K, V]) Update(fn func(tx *mapguard.Tx[K, V]) error) error {
	err := m.m.Update(fn)
	m.in.count(err == nil, updateStored, updateMiss)
	return err
}

// RangeContext is Range with a context, as Map.RangeContext.
func (m *ReadMostly[K, V]) RangeContext(ctx context.Context, f func(key K, value V) bool) {
	observeRange(ctx, m.in, m.m.Range, f)
}

// Range is mapguard.ReadMostly.Range, observed as an iteration.
func (m *ReadMostly[K, V]) Range(f func(key K, value V) bool) {
	m.RangeContext(context.Background(), f)
}

// All is mapguard.ReadMostly.All, observed as an iteration. Like it, it
// iterates the version current when All is called.
func (m *ReadMostly[K, V]) All() iter.Seq2[K, V] {
	cur := m.m.Snapshot()
	return func(yield func(K, V) bool) { observeRange(context.Background(), m.in, rangeOf(cur), yield) }
}

// Keys is mapguard.ReadMostly.Keys, observed as an iteration.
func (m *ReadMostly[K, V]) Keys() iter.Seq[K] {
	all := m.All()
	return func(yield func(K) bool) { all(func(k K, _ V) bool { return yield(k) }) }
}

// Values is mapguard.ReadMostly.Values, observed as an iteration.
func (m *ReadMostly[K, V]) Values() iter.Seq[V] {
	all := m.All()
	return func(yield func(V) bool) { all(func(_ K, v V) bool { return yield(v) }) }
}

// rangeOf returns a Range function over the plain map cur.
func rangeOf[K comparable, V any](cur map[K]V) func(func(K, V) bool) {
	return func(f func(K, V) bool) {
		for k, v := range cur {
			if !f(k, v) {
				return
			}
		}
	}
}

// MarshalJSON is mapguard.ReadMostly.MarshalJSON, observed as an
// iteration: one consistent version of the map as a JSON object.
func (m *ReadMostly[K, V]) MarshalJSON() ([]byte, error) {
	cur := m.m.Snapshot()
	return marshalJSON(m.in, rangeOf(cur), len(cur))
}

// UnmarshalJSON is mapguard.ReadMostly.UnmarshalJSON (one Update), counted
// as an Update when it stores.
func (m *ReadMostly[K, V]) UnmarshalJSON(data []byte) error {
	if err := m.m.UnmarshalJSON(data); err != nil {
		return err
	}
	m.in.ops.inc(updateStored)
	return nil
}

package observe

import (
	"context"
	"sync"
)

// SyncMap is a sync.Map with instrumentation, for code that keeps
// sync.Map: the same methods, counted and observed as Map's are.
// sync.Map has no size, so the mapguard_entries gauge is counted with a
// Range at scrape time (O(entries) per scrape), and mapguard_capacity and
// mapguard_resizes_total are not exported for it.
type SyncMap struct {
	m  *sync.Map
	in *instrument
	c  *Collector // holds the map's name while the wrapper is reachable
}

// InstrumentSyncMap wraps m, naming it name, as Instrument does (and
// panics as Instrument does for an invalid name or one in use).
func InstrumentSyncMap(m *sync.Map, name string, opts ...Option) *SyncMap {
	sm := &SyncMap{m: m}
	sm.c = newInstrument(name, newConfig(opts), mapCounters, func() (tableStats, bool) {
		n := 0
		m.Range(func(any, any) bool { n++; return true })
		return tableStats{entries: n}, true
	}, nil)
	sm.in = sm.c.in
	return sm
}

// Unwrap returns the sync.Map being instrumented.
func (s *SyncMap) Unwrap() *sync.Map { return s.m }

// Collector returns the map's Prometheus collector.
func (s *SyncMap) Collector() *Collector { return s.c }

// Load is sync.Map.Load, counted as a hit or a miss.
func (s *SyncMap) Load(key any) (value any, ok bool) {
	value, ok = s.m.Load(key)
	s.in.count(ok, loadHit, loadMiss)
	return value, ok
}

// Store is sync.Map.Store.
func (s *SyncMap) Store(key, value any) {
	s.m.Store(key, value)
	s.in.ops.inc(storeStored)
}

// LoadOrStore is sync.Map.LoadOrStore.
func (s *SyncMap) LoadOrStore(key, value any) (actual any, loaded bool) {
	actual, loaded = s.m.LoadOrStore(key, value)
	s.in.count(loaded, loadOrStoreHit, loadOrStoreStored)
	return actual, loaded
}

// Swap is sync.Map.Swap.
func (s *SyncMap) Swap(key, value any) (previous any, loaded bool) {
	previous, loaded = s.m.Swap(key, value)
	s.in.ops.inc(swapStored)
	return previous, loaded
}

// LoadAndDelete is sync.Map.LoadAndDelete.
func (s *SyncMap) LoadAndDelete(key any) (value any, loaded bool) {
	value, loaded = s.m.LoadAndDelete(key)
	s.in.count(loaded, loadAndDeleteDeleted, loadAndDeleteMiss)
	return value, loaded
}

// Delete is sync.Map.Delete, counted as a deletion or a miss.
func (s *SyncMap) Delete(key any) {
	_, loaded := s.m.LoadAndDelete(key)
	s.in.count(loaded, deleteDeleted, deleteMiss)
}

// CompareAndSwap is sync.Map.CompareAndSwap.
func (s *SyncMap) CompareAndSwap(key, old, new any) (swapped bool) {
	swapped = s.m.CompareAndSwap(key, old, new)
	s.in.count(swapped, casStored, casMiss)
	return swapped
}

// CompareAndDelete is sync.Map.CompareAndDelete.
func (s *SyncMap) CompareAndDelete(key, old any) (deleted bool) {
	deleted = s.m.CompareAndDelete(key, old)
	s.in.count(deleted, cadDeleted, cadMiss)
	return deleted
}

// RangeContext is Range with a context, as Map.RangeContext.
func (s *SyncMap) RangeContext(ctx context.Context, f func(key, value any) bool) {
	observeRange(ctx, s.in, s.m.Range, f)
}

// Range is sync.Map.Range, observed as an iteration.
func (s *SyncMap) Range(f func(key, value any) bool) { s.RangeContext(context.Background(), f) }

// Clear is sync.Map.Clear.
func (s *SyncMap) Clear() { s.m.Clear() }

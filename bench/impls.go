// Package bench is the workload engine behind `mapguard bench` and the
// side-by-side benchmarks: implementation adapters, key generators and
// operation mixes, so that a number from the command and a number from
// `go test -bench` mean the same thing.
package bench

import (
	"sync"

	cmap "github.com/orcaman/concurrent-map/v2"
	"github.com/puzpuzpuz/xsync/v4"

	"github.com/mapguard/mapguard"
)

// Map is the subset of operations every compared implementation offers,
// with int values. Every implementation is called through this interface,
// so each pays the same dynamic-dispatch cost.
type Map[K comparable] interface {
	Load(key K) (int, bool)
	Store(key K, value int)
	LoadOrStore(key K, value int) (int, bool)
	Delete(key K)
	// Range calls f for each entry until f returns false.
	Range(f func(key K, value int) bool)
}

// Impl is one map implementation under comparison.
type Impl struct {
	// Name is the short name used in benchmark names (impl=Name).
	Name string
	// Strings and Ints make an empty map with string or int keys.
	Strings func() Map[string]
	Ints    func() Map[int]
}

// Impls returns every implementation, sync.Map first: it is the baseline
// that ratios are reported against.
func Impls() []Impl {
	return []Impl{
		{
			Name:    "syncmap",
			Strings: func() Map[string] { return &syncMap[string]{} },
			Ints:    func() Map[int] { return &syncMap[int]{} },
		},
		{
			Name:    "xsync",
			Strings: func() Map[string] { return xsyncMap[string]{xsync.NewMap[string, int]()} },
			Ints:    func() Map[int] { return xsyncMap[int]{xsync.NewMap[int, int]()} },
		},
		{
			Name:    "rwmutex",
			Strings: func() Map[string] { return &rwMap[string]{m: map[string]int{}} },
			Ints:    func() Map[int] { return &rwMap[int]{m: map[int]int{}} },
		},
		{
			Name:    "cmap",
			Strings: func() Map[string] { return shardedMap[string]{cmap.New[int]()} },
			Ints:    func() Map[int] { return shardedMap[int]{cmap.NewWithCustomShardingFunction[int, int](shardInt)} },
		},
		{
			Name:    "mapguard",
			Strings: func() Map[string] { return mapguard.NewMap[string, int]() },
			Ints:    func() Map[int] { return mapguard.NewMap[int, int]() },
		},
		{
			Name:    "snapshotmap",
			Strings: func() Map[string] { return mapguard.NewSnapshotMap[string, int]() },
			Ints:    func() Map[int] { return mapguard.NewSnapshotMap[int, int]() },
		},
	}
}

// ReadMostlyImpl is mapguard.ReadMostly, the copy-on-write map. It is not
// in Impls: each of its writes copies the whole map, so the write-heavy
// mixes would measure map copies. The read benchmarks add it.
func ReadMostlyImpl() Impl {
	return Impl{
		Name:    "readmostly",
		Strings: func() Map[string] { return &readMostly[string]{} },
		Ints:    func() Map[int] { return &readMostly[int]{} },
	}
}

type readMostly[K comparable] struct{ mapguard.ReadMostly[K, int] }

func (r *readMostly[K]) LoadOrStore(key K, value int) (int, bool) {
	var actual int
	loaded := false
	r.Update(func(tx *mapguard.Tx[K, int]) error {
		actual, loaded = tx.Load(key)
		if !loaded {
			tx.Store(key, value)
			actual = value
		}
		return nil
	})
	return actual, loaded
}

func (r *readMostly[K]) fillIndexes(keys []K) {
	r.Update(func(tx *mapguard.Tx[K, int]) error {
		for i, k := range keys {
			tx.Store(k, i)
		}
		return nil
	})
}

// ImplNames returns the names of Impls, in order.
func ImplNames() []string {
	var names []string
	for _, im := range Impls() {
		names = append(names, im.Name)
	}
	return names
}

type syncMap[K comparable] struct{ m sync.Map }

func (s *syncMap[K]) Load(key K) (int, bool) {
	v, ok := s.m.Load(key)
	if !ok {
		return 0, false
	}
	return v.(int), true
}
func (s *syncMap[K]) Store(key K, value int) { s.m.Store(key, value) }
func (s *syncMap[K]) LoadOrStore(key K, value int) (int, bool) {
	v, ok := s.m.LoadOrStore(key, value)
	return v.(int), ok
}
func (s *syncMap[K]) Delete(key K) { s.m.Delete(key) }
func (s *syncMap[K]) Range(f func(K, int) bool) {
	s.m.Range(func(k, v any) bool { return f(k.(K), v.(int)) })
}

type xsyncMap[K comparable] struct{ *xsync.Map[K, int] }

// Range uses xsync's lock-free RangeRelaxed, its fastest iteration, whose
// guarantees are the closest to mapguard's lock-free Range.
func (x xsyncMap[K]) Range(f func(K, int) bool) { x.RangeRelaxed(f) }

type rwMap[K comparable] struct {
	mu sync.RWMutex
	m  map[K]int
}

func (r *rwMap[K]) Load(key K) (int, bool) {
	r.mu.RLock()
	v, ok := r.m[key]
	r.mu.RUnlock()
	return v, ok
}
func (r *rwMap[K]) Store(key K, value int) {
	r.mu.Lock()
	r.m[key] = value
	r.mu.Unlock()
}
func (r *rwMap[K]) LoadOrStore(key K, value int) (int, bool) {
	r.mu.RLock()
	v, ok := r.m[key]
	r.mu.RUnlock()
	if ok {
		return v, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.m[key]; ok {
		return v, true
	}
	r.m[key] = value
	return value, false
}
func (r *rwMap[K]) Delete(key K) {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
}

// Range holds the read lock for the whole pass, as users of a guarded map
// do; writers wait for it.
func (r *rwMap[K]) Range(f func(K, int) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for k, v := range r.m {
		if !f(k, v) {
			return
		}
	}
}

type shardedMap[K comparable] struct{ m cmap.ConcurrentMap[K, int] }

func (s shardedMap[K]) Load(key K) (int, bool) { return s.m.Get(key) }
func (s shardedMap[K]) Store(key K, value int) { s.m.Set(key, value) }
func (s shardedMap[K]) LoadOrStore(key K, value int) (int, bool) {
	if v, ok := s.m.Get(key); ok {
		return v, true
	}
	if s.m.SetIfAbsent(key, value) {
		return value, false
	}
	v, _ := s.m.Get(key)
	return v, true
}
func (s shardedMap[K]) Delete(key K) { s.m.Remove(key) }

// Range uses IterCb, which cannot stop early: f's result is ignored after
// it returns false, but the pass still walks every shard.
func (s shardedMap[K]) Range(f func(K, int) bool) {
	stopped := false
	s.m.IterCb(func(k K, v int) {
		if !stopped && !f(k, v) {
			stopped = true
		}
	})
}

// shardInt spreads int keys over cmap's shards with one multiply, the
// cheapest fair choice (cmap only ships a string hash).
func shardInt(k int) uint32 { return uint32((uint64(k) * 0x9e3779b97f4a7c15) >> 32) }

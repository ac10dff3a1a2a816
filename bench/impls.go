// Package bench is the workload engine behind `mapguard bench` and the
// side-by-side benchmarks: implementation adapters, key generators and
// operation mixes, so that a number from the command and a number from
// `go test -bench` mean the same thing.
package bench

import (
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	cmap "github.com/orcaman/concurrent-map/v2"
	"github.com/puzpuzpuz/xsync/v4"

	"github.com/mapguard/mapguard"
)

// Map is the set of operations every compared implementation offers. Every
// implementation is called through this interface, so each pays the same
// dynamic-dispatch cost. Compute has mapguard's signature, which the
// mapguard maps implement directly; the others get an adapter.
type Map[K comparable, V any] interface {
	Load(key K) (V, bool)
	Store(key K, value V)
	LoadOrStore(key K, value V) (V, bool)
	Delete(key K)
	// Compute atomically replaces key's value with fn's result, as
	// mapguard.Map.Compute does.
	Compute(key K, fn func(old V, loaded bool) (V, mapguard.ComputeOp)) (V, bool)
	// Range calls f for each entry until f returns false.
	Range(f func(key K, value V) bool)
}

// shards is the shard count of the hand-rolled sharded maps: 32, selected
// by hash & 31, the common choice.
const shards = 32

// implNames lists every implementation New knows, sync.Map first: it is the
// default baseline that ratios are reported against.
var implNames = []string{
	"syncmap", "mutex", "rwmutex", "shardedsync", "shardedrw", "xsync", "cmap",
	"mapguard", "snapshotmap", "readmostly",
}

// Names returns the names of every implementation New can make.
func Names() []string { return slices.Clone(implNames) }

// Describe returns a one-line description of the implementation name.
func Describe(name string) string {
	switch name {
	case "syncmap":
		return "sync.Map"
	case "mutex":
		return "builtin map + sync.Mutex"
	case "rwmutex":
		return "builtin map + sync.RWMutex"
	case "shardedsync":
		return "32 sync.Maps selected by hash & 31"
	case "shardedrw":
		return "32 builtin maps + sync.RWMutex, selected by hash & 31"
	case "xsync":
		return "github.com/puzpuzpuz/xsync/v4 Map"
	case "cmap":
		return "github.com/orcaman/concurrent-map/v2"
	case "mapguard":
		return "mapguard.Map"
	case "snapshotmap":
		return "mapguard.SnapshotMap"
	case "readmostly":
		return "mapguard.ReadMostly (copy-on-write: every write copies the map)"
	}
	return ""
}

// New returns an empty map of the implementation name, or an error naming
// the known implementations.
func New[K comparable, V any](name string) (Map[K, V], error) {
	switch name {
	case "syncmap":
		return &syncMap[K, V]{}, nil
	case "mutex":
		return &mutexMap[K, V]{m: map[K]V{}}, nil
	case "rwmutex":
		return &rwMap[K, V]{m: map[K]V{}}, nil
	case "shardedsync":
		return newShardedSync[K, V](), nil
	case "shardedrw":
		return newShardedRW[K, V](), nil
	case "xsync":
		return xsyncMap[K, V]{xsync.NewMap[K, V]()}, nil
	case "cmap":
		return newCmap[K, V](), nil
	case "mapguard":
		return mapguard.NewMap[K, V](), nil
	case "snapshotmap":
		return mapguard.NewSnapshotMap[K, V](), nil
	case "readmostly":
		return &readMostly[K, V]{}, nil
	}
	return nil, fmt.Errorf("bench: unknown implementation %q (known: %v)", name, implNames)
}

func mustNew[K comparable, V any](name string) Map[K, V] {
	m, err := New[K, V](name)
	if err != nil {
		panic(err)
	}
	return m
}

// Impl is one implementation under comparison in the go test benchmarks,
// with int values.
type Impl struct {
	// Name is the short name used in benchmark names (impl=Name).
	Name string
	// Strings and Ints make an empty map with string or int keys.
	Strings func() Map[string, int]
	Ints    func() Map[int, int]
}

func implNamed(name string) Impl {
	return Impl{
		Name:    name,
		Strings: func() Map[string, int] { return mustNew[string, int](name) },
		Ints:    func() Map[int, int] { return mustNew[int, int](name) },
	}
}

// Impls returns the implementations of the go test benchmarks, sync.Map
// first: the published designs, and mapguard's general-purpose maps.
// ReadMostly is not among them: each of its writes copies the whole map,
// so the write-heavy mixes would measure map copies. The read benchmarks
// add it (ReadMostlyImpl); `mapguard bench` can run every implementation.
func Impls() []Impl {
	var out []Impl
	for _, name := range []string{"syncmap", "xsync", "rwmutex", "cmap", "mapguard", "snapshotmap"} {
		out = append(out, implNamed(name))
	}
	return out
}

// ReadMostlyImpl is mapguard.ReadMostly, the copy-on-write map.
func ReadMostlyImpl() Impl { return implNamed("readmostly") }

// ImplNames returns the names of Impls, in order.
func ImplNames() []string {
	var names []string
	for _, im := range Impls() {
		names = append(names, im.Name)
	}
	return names
}

// computeLocked applies fn to the builtin map m, whose lock the caller
// holds.
func computeLocked[K comparable, V any](m map[K]V, key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	old, ok := m[key]
	v, op := fn(old, ok)
	switch op {
	case mapguard.UpdateOp:
		m[key] = v
		return v, true
	case mapguard.DeleteOp:
		delete(m, key)
		var zero V
		return zero, false
	}
	return old, ok
}

// rangeLocked ranges over the builtin map m, whose lock the caller holds.
func rangeLocked[K comparable, V any](m map[K]V, f func(K, V) bool) {
	for k, v := range m {
		if !f(k, v) {
			return
		}
	}
}

type syncMap[K comparable, V any] struct{ m sync.Map }

func (s *syncMap[K, V]) Load(key K) (V, bool) {
	v, ok := s.m.Load(key)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}
func (s *syncMap[K, V]) Store(key K, value V) { s.m.Store(key, value) }
func (s *syncMap[K, V]) LoadOrStore(key K, value V) (V, bool) {
	v, ok := s.m.LoadOrStore(key, value)
	return v.(V), ok
}
func (s *syncMap[K, V]) Delete(key K) { s.m.Delete(key) }
func (s *syncMap[K, V]) Range(f func(K, V) bool) {
	s.m.Range(func(k, v any) bool { return f(k.(K), v.(V)) })
}

// Compute is the compare-and-swap loop sync.Map users write.
func (s *syncMap[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	for {
		old, loaded := s.m.Load(key)
		var ov V
		if loaded {
			ov = old.(V)
		}
		v, op := fn(ov, loaded)
		switch {
		case op == mapguard.UpdateOp && loaded:
			if s.m.CompareAndSwap(key, old, v) {
				return v, true
			}
		case op == mapguard.UpdateOp:
			if _, present := s.m.LoadOrStore(key, v); !present {
				return v, true
			}
		case op == mapguard.DeleteOp && loaded:
			if s.m.CompareAndDelete(key, old) {
				var zero V
				return zero, false
			}
		default:
			return ov, loaded
		}
	}
}

type mutexMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (r *mutexMap[K, V]) Load(key K) (V, bool) {
	r.mu.Lock()
	v, ok := r.m[key]
	r.mu.Unlock()
	return v, ok
}
func (r *mutexMap[K, V]) Store(key K, value V) {
	r.mu.Lock()
	r.m[key] = value
	r.mu.Unlock()
}
func (r *mutexMap[K, V]) LoadOrStore(key K, value V) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.m[key]; ok {
		return v, true
	}
	r.m[key] = value
	return value, false
}
func (r *mutexMap[K, V]) Delete(key K) {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
}
func (r *mutexMap[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return computeLocked(r.m, key, fn)
}

// Range holds the lock for the whole pass, as users of a guarded map do;
// writers wait for it.
func (r *mutexMap[K, V]) Range(f func(K, V) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rangeLocked(r.m, f)
}

type rwMap[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (r *rwMap[K, V]) Load(key K) (V, bool) {
	r.mu.RLock()
	v, ok := r.m[key]
	r.mu.RUnlock()
	return v, ok
}
func (r *rwMap[K, V]) Store(key K, value V) {
	r.mu.Lock()
	r.m[key] = value
	r.mu.Unlock()
}
func (r *rwMap[K, V]) LoadOrStore(key K, value V) (V, bool) {
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
func (r *rwMap[K, V]) Delete(key K) {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
}
func (r *rwMap[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return computeLocked(r.m, key, fn)
}

// Range holds the read lock for the whole pass, as users of a guarded map
// do; writers wait for it.
func (r *rwMap[K, V]) Range(f func(K, V) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rangeLocked(r.m, f)
}

// shardHash picks a shard for a key of any type, as hand-rolled sharded
// maps do with a seeded hash.
type shardHash[K comparable] struct{ seed maphash.Seed }

func (h shardHash[K]) of(k K) uint64 { return maphash.Comparable(h.seed, k) }

type shardedSync[K comparable, V any] struct {
	h      shardHash[K]
	shards [shards]syncMap[K, V]
}

func newShardedSync[K comparable, V any]() *shardedSync[K, V] {
	return &shardedSync[K, V]{h: shardHash[K]{maphash.MakeSeed()}}
}

func (s *shardedSync[K, V]) shard(k K) *syncMap[K, V] { return &s.shards[s.h.of(k)&(shards-1)] }
func (s *shardedSync[K, V]) Load(key K) (V, bool)     { return s.shard(key).Load(key) }
func (s *shardedSync[K, V]) Store(key K, value V)     { s.shard(key).Store(key, value) }
func (s *shardedSync[K, V]) LoadOrStore(key K, value V) (V, bool) {
	return s.shard(key).LoadOrStore(key, value)
}
func (s *shardedSync[K, V]) Delete(key K) { s.shard(key).Delete(key) }
func (s *shardedSync[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	return s.shard(key).Compute(key, fn)
}
func (s *shardedSync[K, V]) Range(f func(K, V) bool) {
	for i := range s.shards {
		stopped := false
		s.shards[i].Range(func(k K, v V) bool {
			if !f(k, v) {
				stopped = true
			}
			return !stopped
		})
		if stopped {
			return
		}
	}
}

type shardedRW[K comparable, V any] struct {
	h      shardHash[K]
	shards [shards]struct {
		rwMap[K, V]
		_ [64]byte // keep each shard's lock on its own cache line
	}
}

func newShardedRW[K comparable, V any]() *shardedRW[K, V] {
	s := &shardedRW[K, V]{h: shardHash[K]{maphash.MakeSeed()}}
	for i := range s.shards {
		s.shards[i].m = map[K]V{}
	}
	return s
}

func (s *shardedRW[K, V]) shard(k K) *rwMap[K, V] { return &s.shards[s.h.of(k)&(shards-1)].rwMap }
func (s *shardedRW[K, V]) Load(key K) (V, bool)   { return s.shard(key).Load(key) }
func (s *shardedRW[K, V]) Store(key K, value V)   { s.shard(key).Store(key, value) }
func (s *shardedRW[K, V]) LoadOrStore(key K, value V) (V, bool) {
	return s.shard(key).LoadOrStore(key, value)
}
func (s *shardedRW[K, V]) Delete(key K) { s.shard(key).Delete(key) }
func (s *shardedRW[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	return s.shard(key).Compute(key, fn)
}

// Range read-locks one shard at a time.
func (s *shardedRW[K, V]) Range(f func(K, V) bool) {
	for i := range s.shards {
		stopped := false
		s.shards[i].Range(func(k K, v V) bool {
			if !f(k, v) {
				stopped = true
			}
			return !stopped
		})
		if stopped {
			return
		}
	}
}

type xsyncMap[K comparable, V any] struct{ *xsync.Map[K, V] }

// Range uses xsync's lock-free RangeRelaxed, its fastest iteration, whose
// guarantees are the closest to mapguard's lock-free Range.
func (x xsyncMap[K, V]) Range(f func(K, V) bool) { x.RangeRelaxed(f) }

func (x xsyncMap[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	return x.Map.Compute(key, func(old V, loaded bool) (V, xsync.ComputeOp) {
		v, op := fn(old, loaded)
		switch op {
		case mapguard.UpdateOp:
			return v, xsync.UpdateOp
		case mapguard.DeleteOp:
			return v, xsync.DeleteOp
		}
		return v, xsync.CancelOp
	})
}

type shardedMap[K comparable, V any] struct{ m cmap.ConcurrentMap[K, V] }

// newCmap makes an orcaman map; it ships a string hash only, so other key
// types are sharded with a seeded maphash.
func newCmap[K comparable, V any]() shardedMap[K, V] {
	if _, ok := any(*new(K)).(string); ok {
		return shardedMap[K, V]{cmap.NewWithCustomShardingFunction[K, V](func(k K) uint32 {
			return fnv32(any(k).(string))
		})}
	}
	h := shardHash[K]{maphash.MakeSeed()}
	return shardedMap[K, V]{cmap.NewWithCustomShardingFunction[K, V](func(k K) uint32 { return uint32(h.of(k)) })}
}

// fnv32 is cmap's own string hash (FNV-1), used for string keys as cmap.New
// does.
func fnv32(key string) uint32 {
	hash := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		hash *= 16777619
		hash ^= uint32(key[i])
	}
	return hash
}

func (s shardedMap[K, V]) Load(key K) (V, bool) { return s.m.Get(key) }
func (s shardedMap[K, V]) Store(key K, value V) { s.m.Set(key, value) }
func (s shardedMap[K, V]) LoadOrStore(key K, value V) (V, bool) {
	if v, ok := s.m.Get(key); ok {
		return v, true
	}
	if s.m.SetIfAbsent(key, value) {
		return value, false
	}
	v, _ := s.m.Get(key)
	return v, true
}
func (s shardedMap[K, V]) Delete(key K) { s.m.Remove(key) }

// Compute uses cmap's Upsert, which runs fn under the shard lock. cmap has
// no atomic compute-and-delete, so the adapter supports updates only (the
// only kind of Compute the workloads run) and panics on any other result.
func (s shardedMap[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	v := s.m.Upsert(key, *new(V), func(exist bool, old, _ V) V {
		v, op := fn(old, exist)
		if op != mapguard.UpdateOp {
			panic("bench: the cmap adapter's Compute supports UpdateOp only")
		}
		return v
	})
	return v, true
}

// Range uses IterCb, which cannot stop early: f's result is ignored after
// it returns false, but the pass still walks every shard.
func (s shardedMap[K, V]) Range(f func(K, V) bool) {
	stopped := false
	s.m.IterCb(func(k K, v V) {
		if !stopped && !f(k, v) {
			stopped = true
		}
	})
}

type readMostly[K comparable, V any] struct{ mapguard.ReadMostly[K, V] }

func (r *readMostly[K, V]) LoadOrStore(key K, value V) (V, bool) {
	var actual V
	loaded := false
	r.Update(func(tx *mapguard.Tx[K, V]) error {
		actual, loaded = tx.Load(key)
		if !loaded {
			tx.Store(key, value)
			actual = value
		}
		return nil
	})
	return actual, loaded
}

func (r *readMostly[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	var (
		res V
		ok  bool
	)
	r.Update(func(tx *mapguard.Tx[K, V]) error {
		old, loaded := tx.Load(key)
		v, op := fn(old, loaded)
		switch op {
		case mapguard.UpdateOp:
			tx.Store(key, v)
			res, ok = v, true
		case mapguard.DeleteOp:
			tx.Delete(key)
		default:
			res, ok = old, loaded
		}
		return nil
	})
	return res, ok
}

// errStopped aborts a batchStore's transaction.
var errStopped = errors.New("bench: batch store stopped")

// batchStore stores every key with values from value(i) in one copy; it
// stores nothing and returns false if stop says so first.
func (r *readMostly[K, V]) batchStore(keys []K, value func(i int) V, stop func() bool) bool {
	return r.Update(func(tx *mapguard.Tx[K, V]) error {
		for i, k := range keys {
			if i%cancelEvery == 0 && stop() {
				return errStopped
			}
			tx.Store(k, value(i))
		}
		return nil
	}) == nil
}

package mapguard_test

import (
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mapguard/mapguard"
)

// testMap is the API that Map and SnapshotMap share. The conformance,
// fuzz, stress and linearizability suites run over it, so both types pass
// the same tests.
type testMap[K comparable, V any] interface {
	Load(key K) (V, bool)
	Store(key K, value V)
	LoadOrStore(key K, value V) (V, bool)
	LoadAndStore(key K, value V) (V, bool)
	Swap(key K, value V) (V, bool)
	LoadAndDelete(key K) (V, bool)
	Delete(key K)
	CompareAndSwap(key K, old, new V) bool
	CompareAndDelete(key K, old V) bool
	Compute(key K, fn func(old V, loaded bool) (V, mapguard.ComputeOp)) (V, bool)
	LoadOrCompute(key K, fn func() (V, bool)) (V, bool)
	DeleteFunc(del func(key K, value V) bool) int
	Range(f func(key K, value V) bool)
	All() iter.Seq2[K, V]
	Keys() iter.Seq[K]
	Values() iter.Seq[V]
	Size() int
	Clear()
	Stats() mapguard.Stats
	MarshalJSON() ([]byte, error)
	UnmarshalJSON(data []byte) error
}

var (
	_ testMap[int, int] = (*mapguard.Map[int, int])(nil)
	_ testMap[int, int] = (*mapguard.SnapshotMap[int, int])(nil)
)

// constructor makes one kind of map under test.
type constructor[K comparable, V any] struct {
	name     string
	make     func() testMap[K, V]
	growOnly bool
	// pins is set when the map keeps deletions alive for Views, so its
	// table does not shrink when everything is deleted.
	pins bool
	// collides is set when every key hashes alike: one long chain.
	collides bool
	// presized is set when the table starts with room for thousands of
	// entries and never shrinks below it, so a test's churn may run
	// without a single resize.
	presized bool
}

// constructors lists every way to make a Map or a SnapshotMap: each
// conformance test runs over all of them.
func constructors[K comparable, V any]() []constructor[K, V] {
	cs := []constructor[K, V]{
		{name: "NewMap", make: func() testMap[K, V] { return mapguard.NewMap[K, V]() }},
		{name: "zero", make: func() testMap[K, V] { return new(mapguard.Map[K, V]) }},
		{name: "WithPresize", make: func() testMap[K, V] { return mapguard.NewMap[K, V](mapguard.WithPresize(3000)) }, presized: true},
		{name: "WithGrowOnly", make: func() testMap[K, V] { return mapguard.NewMap[K, V](mapguard.WithGrowOnly()) }, growOnly: true},
		{name: "colliding", make: func() testMap[K, V] { return mapguard.NewCollidingMap[K, V]() }, collides: true},
		{name: "SnapshotMap", make: func() testMap[K, V] { return mapguard.NewSnapshotMap[K, V]() }},
		{name: "SnapshotMap-zero", make: func() testMap[K, V] { return new(mapguard.SnapshotMap[K, V]) }},
		{name: "SnapshotMap-colliding", make: func() testMap[K, V] { return mapguard.NewCollidingSnapshotMap[K, V]() }, collides: true},
		{name: "SnapshotMap-views", make: func() testMap[K, V] { return newViewTaker[K, V](mapguard.NewSnapshotMap[K, V]()) }, pins: true},
		{name: "observed", make: func() testMap[K, V] { return newObserved(mapguard.NewMap[K, V]()) }},
		{name: "observed-colliding", make: func() testMap[K, V] { return newObserved(mapguard.NewCollidingMap[K, V]()) }, collides: true},
	}
	if !mapguard.InlineEligible[K, V]() {
		return cs
	}
	// Where K and V hold no pointers, the Map constructors above store
	// entries inline; these store entry pointers, so both representations
	// pass every test on the same types.
	return append(cs, []constructor[K, V]{
		{name: "entries", make: func() testMap[K, V] { return mapguard.NewMap[K, V](mapguard.WithEntries()) }},
		{name: "entries-WithPresize", make: func() testMap[K, V] {
			return mapguard.NewMap[K, V](mapguard.WithEntries(), mapguard.WithPresize(3000))
		}, presized: true},
		{name: "entries-WithGrowOnly", make: func() testMap[K, V] {
			return mapguard.NewMap[K, V](mapguard.WithEntries(), mapguard.WithGrowOnly())
		}, growOnly: true},
		{name: "entries-colliding", make: func() testMap[K, V] {
			return mapguard.NewCollidingMap[K, V](mapguard.WithEntries())
		}, collides: true},
		{name: "entries-observed", make: func() testMap[K, V] { return newObserved(mapguard.NewMap[K, V](mapguard.WithEntries())) }},
	}...)
}

// observed is a Map whose Loads and Stores are observed (Observe) in
// turns of 16 Loads: all observed, half observed (a new salt each turn),
// none, as the observe package switches counting, so that both paths of
// Load and Store run, and switch, under every test.
type observed[K comparable, V any] struct {
	*mapguard.Map[K, V]
	loads, seen atomic.Int64
}

func newObserved[K comparable, V any](m *mapguard.Map[K, V]) *observed[K, V] {
	return &observed[K, V]{Map: m}
}

func (o *observed[K, V]) Load(key K) (V, bool) {
	switch n := o.loads.Add(1); n % 48 {
	case 0:
		o.Observe(func(mapguard.Op, bool, uint64) { o.seen.Add(1) }, 0, 0)
	case 16:
		o.Observe(func(mapguard.Op, bool, uint64) { o.seen.Add(1) }, 1, uint64(n))
	case 32:
		o.Observe(nil, 0, 0)
	}
	return o.Map.Load(key)
}

// viewTaker is a SnapshotMap that takes a View every 32 writes and keeps
// the last two alive, so that its writes keep older versions and
// deletions for Views, and releasing Views sweeps them.
type viewTaker[K comparable, V any] struct {
	*mapguard.SnapshotMap[K, V]
	writes atomic.Int64
	mu     sync.Mutex
	views  []*mapguard.View[K, V]
}

func newViewTaker[K comparable, V any](s *mapguard.SnapshotMap[K, V]) *viewTaker[K, V] {
	return &viewTaker[K, V]{SnapshotMap: s}
}

func (w *viewTaker[K, V]) tick() {
	if w.writes.Add(1)%32 != 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.views = append(w.views, w.Snapshot())
	if len(w.views) > 2 {
		w.views[0].Release()
		w.views = w.views[1:]
	}
}

func (w *viewTaker[K, V]) Store(key K, value V) { w.SnapshotMap.Store(key, value); w.tick() }
func (w *viewTaker[K, V]) Delete(key K)         { w.SnapshotMap.Delete(key); w.tick() }
func (w *viewTaker[K, V]) Swap(key K, value V) (V, bool) {
	defer w.tick()
	return w.SnapshotMap.Swap(key, value)
}
func (w *viewTaker[K, V]) LoadAndDelete(key K) (V, bool) {
	defer w.tick()
	return w.SnapshotMap.LoadAndDelete(key)
}

// keyKind is a key type under test with a way to make distinct keys.
type keyKind[K comparable] struct {
	name string
	key  func(i int) K
	n    int // distinct keys key can make
}

func intKeys() keyKind[int] {
	return keyKind[int]{"int", func(i int) int { return i*7919 - 5000 }, 4000}
}
func stringKeys() keyKind[string] {
	return keyKind[string]{"string", func(i int) string { return "key-" + strconv.Itoa(i) }, 4000}
}

type point struct{ x, y int32 }

func structKeys() keyKind[point] {
	return keyKind[point]{"struct", func(i int) point { return point{int32(i), int32(-i)} }, 4000}
}

func uint8Keys() keyKind[uint8] {
	return keyKind[uint8]{"uint8", func(i int) uint8 { return uint8(i) }, 256}
}

// conformance runs test over every key kind and constructor.
func conformance(t *testing.T, test func(t *testing.T, size int, ops mapOps)) {
	run := func(name string, size int, ops mapOps) {
		t.Run(name, func(t *testing.T) { test(t, size, ops) })
	}
	for _, c := range constructors[int, int]() {
		run("int/"+c.name, 2000, newOps(intKeys(), c))
	}
	for _, c := range constructors[string, int]() {
		run("string/"+c.name, 2000, newOps(stringKeys(), c))
	}
	for _, c := range constructors[point, int]() {
		run("struct/"+c.name, 500, newOps(structKeys(), c))
	}
	for _, c := range constructors[uint8, int]() {
		run("uint8/"+c.name, 127, newOps(uint8Keys(), c))
	}
}

// mapOps erases the key type so one test body serves every key kind: keys
// are named by index.
type mapOps struct {
	growOnly      bool
	pins          bool
	load          func(i int) (int, bool)
	store         func(i, v int)
	loadOrStore   func(i, v int) (int, bool)
	loadAndStore  func(i, v int) (int, bool)
	swap          func(i, v int) (int, bool)
	loadAndDelete func(i int) (int, bool)
	delete        func(i int)
	cas           func(i, old, new int) bool
	cad           func(i, old int) bool
	compute       func(i int, fn func(int, bool) (int, mapguard.ComputeOp)) (int, bool)
	loadOrCompute func(i int, fn func() (int, bool)) (int, bool)
	contents      func() map[int]int // via Range
	all           func() map[int]int // via All
	keys          func() []int
	values        func() []int
	size          func() int
	clear         func()
	stats         func() mapguard.Stats
	deleteFunc    func(func(i, v int) bool) int
	json          func() ([]byte, error)
	unjson        func([]byte) error
}

func newOps[K comparable](kk keyKind[K], c constructor[K, int]) mapOps {
	m := c.make()
	index := map[K]int{}
	key := func(i int) K {
		k := kk.key(i)
		index[k] = i
		return k
	}
	// Register the keys up front: the index map is read from Range
	// callbacks, so it must not be written concurrently with them.
	for i := range kk.n {
		key(i)
	}
	idx := func(k K) int {
		i, ok := index[k]
		if !ok {
			panic(fmt.Sprintf("unknown key %v", k))
		}
		return i
	}
	collect := func(seq func(func(K, int) bool)) map[int]int {
		out := map[int]int{}
		for k, v := range seq {
			i := idx(k)
			if _, dup := out[i]; dup {
				panic(fmt.Sprintf("key %v visited twice", k))
			}
			out[i] = v
		}
		return out
	}
	return mapOps{
		growOnly:      c.growOnly,
		pins:          c.pins,
		load:          func(i int) (int, bool) { return m.Load(key(i)) },
		store:         func(i, v int) { m.Store(key(i), v) },
		loadOrStore:   func(i, v int) (int, bool) { return m.LoadOrStore(key(i), v) },
		loadAndStore:  func(i, v int) (int, bool) { return m.LoadAndStore(key(i), v) },
		swap:          func(i, v int) (int, bool) { return m.Swap(key(i), v) },
		loadAndDelete: func(i int) (int, bool) { return m.LoadAndDelete(key(i)) },
		delete:        func(i int) { m.Delete(key(i)) },
		cas:           func(i, old, new int) bool { return m.CompareAndSwap(key(i), old, new) },
		cad:           func(i, old int) bool { return m.CompareAndDelete(key(i), old) },
		compute: func(i int, fn func(int, bool) (int, mapguard.ComputeOp)) (int, bool) {
			return m.Compute(key(i), fn)
		},
		loadOrCompute: func(i int, fn func() (int, bool)) (int, bool) { return m.LoadOrCompute(key(i), fn) },
		contents:      func() map[int]int { return collect(m.Range) },
		all:           func() map[int]int { return collect(m.All()) },
		keys: func() []int {
			var out []int
			for k := range m.Keys() {
				out = append(out, idx(k))
			}
			return out
		},
		values: func() []int { return slices.Collect(m.Values()) },
		size:   m.Size,
		clear:  m.Clear,
		stats:  m.Stats,
		deleteFunc: func(del func(i, v int) bool) int {
			return m.DeleteFunc(func(k K, v int) bool { return del(idx(k), v) })
		},
		json:   m.MarshalJSON,
		unjson: m.UnmarshalJSON,
	}
}

func wantLoad(t *testing.T, ops mapOps, i, want int, wantOK bool) {
	t.Helper()
	if got, ok := ops.load(i); got != want || ok != wantOK {
		t.Fatalf("Load(%d) = %d, %v; want %d, %v", i, got, ok, want, wantOK)
	}
}

func wantPair(t *testing.T, what string, got int, gotOK bool, want int, wantOK bool) {
	t.Helper()
	if got != want || gotOK != wantOK {
		t.Fatalf("%s = %d, %v; want %d, %v", what, got, gotOK, want, wantOK)
	}
}

func wantSize(t *testing.T, ops mapOps, want int) {
	t.Helper()
	if got := ops.size(); got != want {
		t.Fatalf("Size() = %d; want %d", got, want)
	}
}

func TestEmpty(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		wantLoad(t, ops, 1, 0, false)
		wantSize(t, ops, 0)
		if c := ops.contents(); len(c) != 0 {
			t.Fatalf("Range on empty map visited %v", c)
		}
		v, ok := ops.loadAndDelete(1)
		wantPair(t, "LoadAndDelete(1)", v, ok, 0, false)
		ops.delete(1)
		if ops.cas(1, 0, 1) {
			t.Fatal("CompareAndSwap on a missing key swapped")
		}
		if ops.cad(1, 0) {
			t.Fatal("CompareAndDelete on a missing key deleted")
		}
		ops.clear()
		wantSize(t, ops, 0)
	})
}

func TestStoreLoad(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		for i := range size {
			ops.store(i, i*10)
		}
		wantSize(t, ops, size)
		for i := range size {
			wantLoad(t, ops, i, i*10, true)
		}
		wantLoad(t, ops, size, 0, false)
		for i := range size {
			ops.store(i, -i)
		}
		wantSize(t, ops, size)
		for i := range size {
			wantLoad(t, ops, i, -i, true)
		}
	})
}

func TestLoadOrStoreAndSwap(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		v, loaded := ops.loadOrStore(1, 10)
		wantPair(t, "LoadOrStore(1, 10)", v, loaded, 10, false)
		v, loaded = ops.loadOrStore(1, 20)
		wantPair(t, "LoadOrStore(1, 20)", v, loaded, 10, true)
		v, loaded = ops.swap(1, 30)
		wantPair(t, "Swap(1, 30)", v, loaded, 10, true)
		v, loaded = ops.swap(2, 40)
		wantPair(t, "Swap(2, 40)", v, loaded, 0, false)
		v, loaded = ops.loadAndStore(2, 50)
		wantPair(t, "LoadAndStore(2, 50)", v, loaded, 40, true)
		// On an absent key LoadAndStore returns the stored value, as xsync's
		// does (xsync v4.5.0 TestMapLoadAndStore_NonNilValue); Swap returns
		// the zero value.
		v, loaded = ops.loadAndStore(3, 60)
		wantPair(t, "LoadAndStore(3, 60)", v, loaded, 60, false)
		wantLoad(t, ops, 1, 30, true)
		wantLoad(t, ops, 2, 50, true)
		wantLoad(t, ops, 3, 60, true)
		wantSize(t, ops, 3)
	})
}

func TestDelete(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		for i := range size {
			ops.store(i, i)
		}
		for i := 0; i < size; i += 2 {
			v, ok := ops.loadAndDelete(i)
			wantPair(t, fmt.Sprintf("LoadAndDelete(%d)", i), v, ok, i, true)
		}
		for i := 1; i < size; i += 4 {
			ops.delete(i)
		}
		want := 0
		for i := range size {
			switch {
			case i%2 == 0, i%4 == 1:
				wantLoad(t, ops, i, 0, false)
			default:
				wantLoad(t, ops, i, i, true)
				want++
			}
		}
		wantSize(t, ops, want)
		v, ok := ops.loadAndDelete(0)
		wantPair(t, "LoadAndDelete of a deleted key", v, ok, 0, false)
	})
}

func TestCompareAndSwapDelete(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		ops.store(1, 10)
		if ops.cas(1, 11, 12) {
			t.Fatal("CompareAndSwap(1, 11, 12) swapped a key holding 10")
		}
		if !ops.cas(1, 10, 12) {
			t.Fatal("CompareAndSwap(1, 10, 12) did not swap a key holding 10")
		}
		wantLoad(t, ops, 1, 12, true)
		if ops.cad(1, 10) {
			t.Fatal("CompareAndDelete(1, 10) deleted a key holding 12")
		}
		if !ops.cad(1, 12) {
			t.Fatal("CompareAndDelete(1, 12) did not delete a key holding 12")
		}
		wantLoad(t, ops, 1, 0, false)
		wantSize(t, ops, 0)
	})
}

func TestCompute(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		calls := 0
		fn := func(op mapguard.ComputeOp, nv int) func(int, bool) (int, mapguard.ComputeOp) {
			return func(old int, loaded bool) (int, mapguard.ComputeOp) {
				calls++
				return nv, op
			}
		}
		v, ok := ops.compute(1, fn(mapguard.CancelOp, 5))
		wantPair(t, "Compute(absent, CancelOp)", v, ok, 0, false)
		wantLoad(t, ops, 1, 0, false)
		v, ok = ops.compute(1, fn(mapguard.DeleteOp, 5))
		wantPair(t, "Compute(absent, DeleteOp)", v, ok, 0, false)
		v, ok = ops.compute(1, fn(mapguard.UpdateOp, 5))
		wantPair(t, "Compute(absent, UpdateOp)", v, ok, 5, true)
		wantLoad(t, ops, 1, 5, true)
		v, ok = ops.compute(1, func(old int, loaded bool) (int, mapguard.ComputeOp) {
			calls++
			if old != 5 || !loaded {
				t.Errorf("Compute fn got %d, %v; want 5, true", old, loaded)
			}
			return old + 1, mapguard.UpdateOp
		})
		wantPair(t, "Compute(present, UpdateOp)", v, ok, 6, true)
		v, ok = ops.compute(1, fn(mapguard.CancelOp, 99))
		wantPair(t, "Compute(present, CancelOp)", v, ok, 6, true)
		wantLoad(t, ops, 1, 6, true)
		wantSize(t, ops, 1)
		v, ok = ops.compute(1, fn(mapguard.DeleteOp, 99))
		wantPair(t, "Compute(present, DeleteOp)", v, ok, 0, false)
		wantLoad(t, ops, 1, 0, false)
		wantSize(t, ops, 0)
		if calls != 6 {
			t.Fatalf("fn ran %d times over 6 Compute calls; want 6", calls)
		}

		v, ok = ops.loadOrCompute(2, func() (int, bool) { return 7, true })
		wantPair(t, "LoadOrCompute(absent, cancel)", v, ok, 0, false)
		wantLoad(t, ops, 2, 0, false)
		v, ok = ops.loadOrCompute(2, func() (int, bool) { return 8, false })
		wantPair(t, "LoadOrCompute(absent)", v, ok, 8, false)
		v, ok = ops.loadOrCompute(2, func() (int, bool) {
			t.Error("LoadOrCompute called fn for a present key")
			return 9, false
		})
		wantPair(t, "LoadOrCompute(present)", v, ok, 8, true)
		wantSize(t, ops, 1)
	})
}

func TestIteration(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		want := map[int]int{}
		for i := range size {
			ops.store(i, i+1)
			want[i] = i + 1
		}
		for name, got := range map[string]map[int]int{"Range": ops.contents(), "All": ops.all()} {
			if len(got) != len(want) {
				t.Fatalf("%s visited %d keys; want %d", name, len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%s saw %d => %d; want %d", name, k, got[k], v)
				}
			}
		}
		keys := ops.keys()
		slices.Sort(keys)
		for i, k := range keys {
			if k != i {
				t.Fatalf("Keys()[%d] = %d; want %d", i, k, i)
			}
		}
		values := ops.values()
		slices.Sort(values)
		for i, v := range values {
			if v != i+1 {
				t.Fatalf("Values()[%d] = %d; want %d", i, v, i+1)
			}
		}
	})
}

func TestRangeStopsEarly(t *testing.T) {
	m := mapguard.NewMap[int, int]()
	for i := range 100 {
		m.Store(i, i)
	}
	n := 0
	m.Range(func(int, int) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("Range called f %d times after f returned false on call 10", n)
	}
	n = 0
	for range m.Keys() {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("Keys yielded %d times after break on 3", n)
	}
}

// TestRangeCallbackUsesMap pins that the Range callback may call every
// method of the map it iterates, nested Range included, without deadlock.
func TestRangeCallbackUsesMap(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		const n = 50 // keys n..3n-1 must fit every key kind, uint8 included
		for i := range n {
			ops.store(i, i)
		}
		visited := 0
		for i := range ops.contents() {
			if i >= n {
				t.Fatalf("visited key %d, stored during the iteration by the callback", i)
			}
			visited++
			ops.store(i+n, i)
			ops.delete(i)
			ops.compute(i+2*n, func(int, bool) (int, mapguard.ComputeOp) { return 1, mapguard.UpdateOp })
			ops.cas(i+n, i, i+1)
			_ = ops.contents()
		}
		if visited != n {
			t.Fatalf("visited %d; want %d", visited, n)
		}
		wantSize(t, ops, 2*n)
	})
}

func TestClear(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		for i := range size {
			ops.store(i, i)
		}
		ops.clear()
		wantSize(t, ops, 0)
		for i := range size {
			wantLoad(t, ops, i, 0, false)
		}
		if c := ops.contents(); len(c) != 0 {
			t.Fatalf("Range after Clear visited %d keys", len(c))
		}
		ops.store(1, 1)
		wantLoad(t, ops, 1, 1, true)
		wantSize(t, ops, 1)
		if s := ops.stats(); s.Clears == 0 {
			t.Fatalf("Stats().Clears = 0 after Clear")
		}
	})
}

// TestGrowAndShrink checks that the table grows with its entries and, unless
// the map is grow-only, shrinks back to its floor after mass deletion.
func TestGrowAndShrink(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		for i := range size {
			ops.store(i, i)
		}
		grown := ops.stats()
		if grown.Buckets <= grown.MinBuckets && grown.Grows == 0 && grown.Capacity < size {
			t.Fatalf("after %d stores: %+v; want a grown table", size, grown)
		}
		for i := range size {
			ops.delete(i)
		}
		wantSize(t, ops, 0)
		s := ops.stats()
		if ops.pins {
			return // Views still need the deleted entries
		}
		if ops.growOnly {
			if s.Buckets != grown.Buckets || s.Shrinks != 0 {
				t.Fatalf("grow-only map shrank: before %+v, after %+v", grown, s)
			}
			return
		}
		if s.Buckets != s.MinBuckets {
			t.Fatalf("after deleting everything: %d buckets; want the minimum %d (%+v)", s.Buckets, s.MinBuckets, s)
		}
		if grown.Buckets > s.MinBuckets && s.Shrinks == 0 {
			t.Fatalf("table went from %d to %d buckets with no shrink counted", grown.Buckets, s.Buckets)
		}
		for i := range size {
			wantLoad(t, ops, i, 0, false)
		}
	})
}

func TestDeleteFunc(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		for i := range size {
			ops.store(i, i)
		}
		n := ops.deleteFunc(func(i, v int) bool { return v%3 == 0 })
		want := (size + 2) / 3
		if n != want {
			t.Fatalf("DeleteFunc deleted %d; want %d", n, want)
		}
		wantSize(t, ops, size-want)
		for i := range size {
			_, ok := ops.load(i)
			if ok == (i%3 == 0) {
				t.Fatalf("key %d present=%v after DeleteFunc", i, ok)
			}
		}
	})
}

func TestDeleteFuncKeepsNewerValue(t *testing.T) {
	m := mapguard.NewMap[string, int]()
	m.Store("a", 1)
	n := m.DeleteFunc(func(k string, v int) bool {
		m.Store("a", 2) // a newer value arrives after del looked at 1
		return true
	})
	if n != 0 {
		t.Fatalf("DeleteFunc deleted %d; want 0", n)
	}
	if v, ok := m.Load("a"); v != 2 || !ok {
		t.Fatalf(`Load("a") = %d, %v; want 2, true`, v, ok)
	}
}

func TestJSON(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		for i := range 50 {
			ops.store(i, i*i)
		}
		data, err := ops.json()
		if strings.HasPrefix(t.Name(), "TestJSON/struct") {
			if err == nil || !strings.Contains(err.Error(), "mapguard:") {
				t.Fatalf("MarshalJSON with struct keys: err = %v; want a mapguard error", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		ops.clear()
		ops.store(1000, 1)
		if err := ops.unjson(data); err != nil {
			t.Fatal(err)
		}
		wantSize(t, ops, 51)
		for i := range 50 {
			wantLoad(t, ops, i, i*i, true)
		}
		wantLoad(t, ops, 1000, 1, true)
		if err := ops.unjson([]byte(`{"1": "not a number"`)); err == nil || !strings.Contains(err.Error(), "mapguard:") {
			t.Fatalf("UnmarshalJSON(malformed) err = %v; want a mapguard error", err)
		}
		wantSize(t, ops, 51)
	})
}

func TestJSONKeys(t *testing.T) {
	m := mapguard.NewMap[string, []int]()
	m.Store("b", []int{2})
	m.Store("a", []int{1})
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), `{"a":[1],"b":[2]}`; got != want {
		t.Fatalf("json.Marshal = %s; want %s", got, want)
	}
	var back mapguard.Map[string, []int]
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Load("b"); len(v) != 1 || v[0] != 2 {
		t.Fatalf(`Load("b") after round trip = %v`, v)
	}
	bad := mapguard.NewMap[int, int]()
	bad.Store(1, 1)
	if err := bad.UnmarshalJSON([]byte(`{"x": 1}`)); err == nil {
		t.Fatal("UnmarshalJSON of a non-integer key into int keys: no error")
	}
	if v, ok := bad.Load(1); v != 1 || !ok || bad.Size() != 1 {
		t.Fatalf("failed UnmarshalJSON changed the map: Load(1) = %d, %v; Size %d", v, ok, bad.Size())
	}
}

// TestXsyncIssue208ComputePanicKeepsMapUsable pins the bug of xsync issue
// 208: a panic in a Compute callback left the bucket lock held, so the next
// writer of any key in that bucket deadlocked.
func TestXsyncIssue208ComputePanicKeepsMapUsable(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		ops.store(1, 10)
		mustPanic(t, "Compute", func() {
			ops.compute(1, func(int, bool) (int, mapguard.ComputeOp) { panic("boom") })
		})
		mustPanic(t, "Compute on an absent key", func() {
			ops.compute(2, func(int, bool) (int, mapguard.ComputeOp) { panic("boom") })
		})
		mustPanic(t, "LoadOrCompute", func() {
			ops.loadOrCompute(3, func() (int, bool) { panic("boom") })
		})
		wantLoad(t, ops, 1, 10, true)
		wantLoad(t, ops, 2, 0, false)
		wantLoad(t, ops, 3, 0, false)
		wantSize(t, ops, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Every key shares the bucket under the colliding hash; under
			// the others these still hit the locked bucket of keys 1..3.
			for i := range 3 * 1000 {
				ops.store(i%3+1, i)
			}
			ops.compute(1, func(old int, _ bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp })
		}()
		<-done
		wantLoad(t, ops, 1, 2998, true)
		wantSize(t, ops, 3)
	})
}

func mustPanic(t *testing.T, what string, f func()) (recovered any) {
	t.Helper()
	defer func() {
		recovered = recover()
		if recovered == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
	return nil
}

// TestCompareAndSwapIncomparablePanics pins the misuse panic of both map
// types: it names the package, the map type the user called (a
// SnapshotMap's panic names SnapshotMap, not the Map inside it), the
// method and the value type.
func TestCompareAndSwapIncomparablePanics(t *testing.T) {
	for typeName, m := range map[string]testMap[string, []int]{
		"Map":         mapguard.NewMap[string, []int](),
		"SnapshotMap": mapguard.NewSnapshotMap[string, []int](),
	} {
		m.Store("a", []int{1})
		for name, f := range map[string]func(){
			"CompareAndSwap":   func() { m.CompareAndSwap("a", nil, nil) },
			"CompareAndDelete": func() { m.CompareAndDelete("a", nil) },
		} {
			msg := fmt.Sprint(catchPanic(f))
			if !strings.Contains(msg, "mapguard: "+typeName+"."+name+" called on a "+typeName) || !strings.Contains(msg, "[]int") {
				t.Errorf("%s.%s on []int values panicked with %q; want a mapguard message naming the map type and the value type", typeName, name, msg)
			}
		}
	}
	// An interface value type is comparable, but a dynamic value may not
	// be: the panic must still leave the map usable.
	ma := mapguard.NewMap[int, any]()
	ma.Store(1, []int{1})
	if catchPanic(func() { ma.CompareAndSwap(1, []int{1}, 2) }) == nil {
		t.Fatal("CompareAndSwap of incomparable dynamic values did not panic")
	}
	ma.Store(1, 5)
	if !ma.CompareAndSwap(1, 5, 6) {
		t.Fatal("map unusable after a panicking comparison")
	}
}

func catchPanic(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

func TestWithPresizeNegativePanics(t *testing.T) {
	msg := fmt.Sprint(catchPanic(func() { mapguard.WithPresize(-1) }))
	if !strings.Contains(msg, "mapguard: WithPresize(-1)") {
		t.Fatalf("WithPresize(-1) panicked with %q; want a mapguard message", msg)
	}
	m := mapguard.NewMap[int, int](mapguard.WithPresize(100000))
	if s := m.Stats(); s.Capacity < 100000 || s.Buckets != s.MinBuckets {
		t.Fatalf("WithPresize(100000): %+v; want capacity >= 100000 from the start", s)
	}
	// The default is 8 buckets either way: of entries, 30 entries before
	// the first grow; inline, of 8 slots, 48.
	if s := mapguard.NewMap[string, int](mapguard.WithPresize(0)).Stats(); s.Buckets != 8 || s.Capacity != 30 {
		t.Fatalf("WithPresize(0), entries: %+v; want the default 8 buckets", s)
	}
	if s := mapguard.NewMap[int, int](mapguard.WithPresize(0)).Stats(); s.Buckets != 8 || s.Capacity != 48 {
		t.Fatalf("WithPresize(0), inline: %+v; want the default 8 buckets", s)
	}
}

func TestLoadDoesNotAllocate(t *testing.T) {
	ms := mapguard.NewMap[string, int]()
	mi := mapguard.NewMap[int, int]()
	mp := mapguard.NewMap[point, int]()
	for i := range 1000 {
		ms.Store(strconv.Itoa(i), i)
		mi.Store(i, i)
		mp.Store(point{int32(i), 0}, i)
	}
	key := "500"
	for name, f := range map[string]func(){
		"string": func() { ms.Load(key); ms.Load("missing") },
		"int":    func() { mi.Load(500); mi.Load(-1) },
		"struct": func() { mp.Load(point{500, 0}); mp.Load(point{-1, 0}) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("Load with %s keys allocates %v times; want 0", name, n)
		}
	}
}

// TestRangeDoesNotAllocate: a walk keeps a chain's entries on its stack
// (up to four buckets' worth), so a Range over maps without longer chains
// allocates nothing: it allocated two or six times per call before, a
// large part of a small map's Range.
func TestRangeDoesNotAllocate(t *testing.T) {
	ms := mapguard.NewMap[string, int]()
	mi := mapguard.NewMap[int, int]()
	mp := mapguard.NewMap[point, int]()
	for i := range 1000 {
		ms.Store(strconv.Itoa(i), i)
		mi.Store(i, i)
		mp.Store(point{int32(i), 0}, i)
	}
	for name, f := range map[string]func(){
		"string": func() { ms.Range(func(string, int) bool { return true }) },
		"int":    func() { mi.Range(func(int, int) bool { return true }) },
		"struct": func() { mp.Range(func(point, int) bool { return true }) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("Range over %s keys allocates %v times; want 0", name, n)
		}
	}
}

// TestRangeKeyMovedWithinBucket: Range's callback deletes the key it was
// shown and stores it again in a slot of the same bucket that the walk
// has not yielded yet (one that was occupied when the walk reached the
// bucket): the key must not be shown twice. Under the colliding hash the
// keys 1, 2 and 3 fill slots 0, 1 and 2 of one bucket, and the walk
// yields slot 0 first; deleting 1 and 3 and storing 4 and then 1 puts 4
// in slot 0 and 1 in slot 2. A walk that yields each slot as it reads it,
// without checking the keys it has shown, fails this.
func TestRangeKeyMovedWithinBucket(t *testing.T) {
	for _, c := range []struct {
		name string
		m    *mapguard.Map[int, int]
	}{
		{"entries", mapguard.NewCollidingMap[int, int](mapguard.WithEntries())},
		{"inline", mapguard.NewCollidingMap[int, int]()},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			for k := 1; k <= 3; k++ {
				m.Store(k, k)
			}
			seen := map[int]int{}
			first := true
			m.Range(func(k, v int) bool {
				seen[k]++
				if first {
					first = false
					if k != 1 {
						t.Fatalf("the walk showed %d first; the test expects slot 0, key 1", k)
					}
					m.Delete(1)
					m.Delete(3)
					m.Store(4, 4)
					m.Store(1, 1)
				}
				return true
			})
			for k, n := range seen {
				if n > 1 {
					t.Errorf("Range showed key %d %d times", k, n)
				}
			}
			if seen[2] != 1 {
				t.Errorf("Range showed key 2, present and unchanged throughout, %d times; want 1", seen[2])
			}
		})
	}
}

func TestBucketLayout(t *testing.T) {
	if mapguard.BucketSize != 64 {
		t.Fatalf("bucket is %d bytes; want 64, one cache line", mapguard.BucketSize)
	}
	if mapguard.StripeSize != 64 {
		t.Fatalf("size stripe is %d bytes; want 64, one cache line", mapguard.StripeSize)
	}
}

func TestHashSeededPerMap(t *testing.T) {
	a, b := mapguard.NewMap[string, int](), mapguard.NewMap[string, int]()
	ai, bi := mapguard.NewMap[int, int](), mapguard.NewMap[int, int]()
	same, samei := 0, 0
	for i := range 64 {
		if mapguard.HashOf(a, strconv.Itoa(i)) == mapguard.HashOf(b, strconv.Itoa(i)) {
			same++
		}
		if mapguard.HashOf(ai, i) == mapguard.HashOf(bi, i) {
			samei++
		}
	}
	if same > 1 || samei > 1 {
		t.Fatalf("two maps hash %d string and %d int keys of 64 alike; want per-map seeds", same, samei)
	}
}

// TestStdlibOnly enforces that the root package imports only the standard
// library.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "github.com/mapguard/mapguard" {
		t.Fatalf("mapguard depends on non-standard packages: %v", deps)
	}

	// The module graph of a program that imports only the maps: its own
	// module and this one, nothing else (a requirement of this module,
	// even one only its tests use, would be listed, and could raise the
	// program's minimum versions).
	root, err := os.Getwd() // the package's directory: the module's root
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/mapsonly\n\ngo 1.26.0\n\nrequire github.com/mapguard/mapguard v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/mapguard/mapguard => " + root + "\n"
	main := "package main\n\nimport \"github.com/mapguard/mapguard\"\n\nfunc main() {\n\tvar m mapguard.Map[string, int]\n\tm.Store(\"a\", 1)\n}\n"
	for name, data := range map[string]string{"go.mod": gomod, "main.go": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gocmd := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// Outside any workspace, and with nothing to download: the graph
		// must be complete without the network.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in a program that imports only the maps: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	gocmd("build", "-o", filepath.Join(dir, "mapsonly"), ".")
	var mods []string
	for _, line := range strings.Split(strings.TrimSpace(gocmd("list", "-m", "all")), "\n") {
		mods = append(mods, strings.Fields(line)[0])
	}
	if !slices.Equal(mods, []string{"example.com/mapsonly", "github.com/mapguard/mapguard"}) {
		t.Fatalf("the module graph of a program that imports only the maps: %v; want that program and github.com/mapguard/mapguard alone", mods)
	}
}

func TestConcurrentZeroValueInit(t *testing.T) {
	var m mapguard.Map[int, int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				m.Store(g*100+i, i)
			}
		})
	}
	wg.Wait()
	if m.Size() != 800 {
		t.Fatalf("Size() = %d; want 800", m.Size())
	}
}

func TestDedupKeepsFirstOfEachKey(t *testing.T) {
	small := []int{3, 1, 3, 2, 1}
	if got := mapguard.DedupKeys(small); !slices.Equal(got, []int{3, 1, 2}) {
		t.Fatalf("DedupKeys(%v) = %v; want [3 1 2]", small, got)
	}
	var big, want []int
	for i := range 40 {
		big = append(big, i%25)
		if i < 25 {
			want = append(want, i)
		}
	}
	if got := mapguard.DedupKeys(big); !slices.Equal(got, want) {
		t.Fatalf("DedupKeys(40 keys, 25 distinct) = %v; want %v", got, want)
	}
}

// TestShrinkReturnsMemory checks that mass deletion gives the table's
// memory back to the heap, not just that a counter says it shrank.
func TestShrinkReturnsMemory(t *testing.T) {
	const n = 200_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	m := mapguard.NewMap[int, int]()
	base := heap()
	for i := range n {
		m.Store(i, i)
	}
	full := heap()
	for i := range n {
		m.Delete(i)
	}
	empty := heap()
	runtime.KeepAlive(m)
	grown := int64(full) - int64(base)
	left := int64(empty) - int64(base)
	if grown < n*16 {
		t.Fatalf("filling %d entries grew the heap by only %d bytes; the measurement is broken", n, grown)
	}
	if left > grown/20 {
		t.Fatalf("after deleting all %d entries the map still holds %d of the %d bytes it grew by", n, left, grown)
	}
}

// TestComputeRunsFnOnceAcrossGrowth pins a bug found in review: an insert
// by Compute or LoadOrCompute that met a full chain in a table due to grow
// ran fn, then grew the table and retried, running fn a second time.
func TestComputeRunsFnOnceAcrossGrowth(t *testing.T) {
	conformance(t, func(t *testing.T, size int, ops mapOps) {
		calls := 0
		for i := range size {
			ops.compute(i, func(int, bool) (int, mapguard.ComputeOp) {
				calls++
				return i, mapguard.UpdateOp
			})
			if calls != 2*i+1 {
				t.Fatalf("Compute of new key %d ran fn %d times in all; want %d", i, calls, 2*i+1)
			}
			ops.loadOrCompute(i+size, func() (int, bool) {
				calls++
				return i, false
			})
			if calls != 2*i+2 {
				t.Fatalf("LoadOrCompute of new key %d ran fn %d times in all; want %d", i+size, calls, 2*i+2)
			}
		}
	})
}

func TestStats(t *testing.T) {
	for _, tc := range []struct {
		name           string
		opts           []mapguard.Option
		inline         bool
		slots          int // per root bucket
		overflowBucket int // buckets chained by 100 colliding keys
	}{
		// 100 entries in one chain of 5-slot buckets: 19 overflow buckets.
		{"entries", []mapguard.Option{mapguard.WithEntries()}, false, 5, 19},
		// One 8-slot root bucket, then (100-8)/4 4-slot overflow buckets.
		{"inline", nil, true, 8, 23},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mapguard.NewCollidingMap[int, int](tc.opts...)
			for i := range 100 {
				m.Store(i, i)
			}
			s := m.Stats()
			if s.Entries != 100 || s.OverflowBuckets != tc.overflowBucket || s.Inline != tc.inline {
				t.Fatalf("colliding map with 100 entries: %+v; want 100 entries, %d overflow buckets, Inline %v", s, tc.overflowBucket, tc.inline)
			}
			if want := float64(100) / float64(s.Buckets*tc.slots); s.LoadFactor != want {
				t.Fatalf("LoadFactor = %v; want %v", s.LoadFactor, want)
			}
			if s.Capacity != s.Buckets*tc.slots*3/4 || s.SizeStripes < 1 || s.Resizing || s.LockedReads != 0 {
				t.Fatalf("inconsistent stats: %+v", s)
			}
		})
	}
	var zero mapguard.Map[string, int]
	if s := zero.Stats(); s.Entries != 0 || s.Buckets != 0 || s.MinBuckets != 8 || s.Inline {
		t.Fatalf("zero Map stats: %+v", s)
	}
	var zeroInt mapguard.Map[int, int]
	zeroInt.Store(1, 1)
	if s := zeroInt.Stats(); s.Entries != 1 || !s.Inline {
		t.Fatalf("zero Map[int, int] after a Store: %+v; want 1 entry, inline", s)
	}
	if s := mapguard.NewMap[string, int]().Stats(); s.Inline {
		t.Fatalf("Map[string, int] reports Inline: %+v", s)
	}
}

func TestObserve(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *mapguard.Map[int, int]
	}{{"default", mapguard.NewMap[int, int]()}, {"colliding", mapguard.NewCollidingMap[int, int]()}} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			for i := range 100 {
				m.Store(i, i)
			}
			m.Load(1)          // not observed: no observer yet
			var seen [2][2]int // [op][hit]
			count := func(op mapguard.Op, hit bool, weight uint64) {
				if weight != 1 {
					t.Fatalf("observer of every operation got weight %d; want 1", weight)
				}
				h := 0
				if hit {
					h = 1
				}
				seen[op][h]++
			}
			m.Observe(count, 0, 12345)
			for i := range 150 {
				if v, ok := m.Load(i); ok != (i < 100) || (ok && v != i) {
					t.Fatalf("observed Load(%d) = %d, %v", i, v, ok)
				}
			}
			for i := 90; i < 120; i++ {
				m.Store(i, i) // 10 replace, 20 add
			}
			// Only Load and Store report.
			m.LoadOrStore(7, 0)
			m.LoadAndDelete(8)
			m.Swap(9, 9)
			m.Range(func(int, int) bool { return true })
			want := [2][2]int{{50, 100}, {20, 10}}
			if seen != want {
				t.Fatalf("observer of every operation saw [op][hit] %v; want %v", seen, want)
			}
			m.Observe(nil, 0, 0)
			m.Load(1)
			m.Load(-1)
			m.Store(1, 1)
			if seen != want {
				t.Fatalf("after Observe(nil, 0, 0): %v; want no change from %v", seen, want)
			}

			// A panicking observer reaches the caller and leaves the map as
			// the operation left it.
			m.Observe(func(mapguard.Op, bool, uint64) { panic("observer") }, 0, 0)
			for _, op := range []func(){func() { m.Load(1) }, func() { m.Store(200, 200) }} {
				func() {
					defer func() {
						if r := recover(); r != "observer" {
							t.Fatalf("recovered %v; want the observer's panic", r)
						}
					}()
					op()
				}()
			}
			m.Observe(nil, 0, 0)
			if v, ok := m.Load(200); !ok || v != 200 || m.Size() != 120 {
				t.Fatalf("after a panicking observer: Load(200) = %d, %v, Size %d; want 200, true, 120", v, ok, m.Size())
			}
		})
	}
}

// TestObserveSample checks that with bits b and a salt drawn anew for
// each pass, about one Load in 2^b is observed, with weight 2^b, that a
// fixed salt observes the same keys every time, and that bits above 31
// panic.
func TestObserveSample(t *testing.T) {
	const keys, passes, bits = 1000, 64, 3
	m := mapguard.NewMap[int, int]()
	for i := range keys {
		m.Store(i, i)
	}
	seen := 0
	for range passes {
		m.Observe(func(_ mapguard.Op, _ bool, weight uint64) {
			seen++
			if weight != 1<<bits {
				t.Fatalf("weight %d; want %d", weight, 1<<bits)
			}
		}, bits, rand.Uint64())
		for i := range keys {
			m.Load(i)
		}
	}
	want := float64(keys*passes) / (1 << bits)
	if math.Abs(float64(seen)-want) > 0.1*want {
		t.Errorf("observed %d of %d Loads with bits %d; want about %.0f", seen, keys*passes, bits, want)
	}

	var first, again []int
	for _, into := range []*[]int{&first, &again} {
		var k int
		m.Observe(func(mapguard.Op, bool, uint64) { *into = append(*into, k) }, bits, 42)
		for k = range keys {
			m.Load(k)
		}
	}
	if !slices.Equal(first, again) || len(first) == 0 {
		t.Errorf("one salt observed keys %v, then %v; want the same nonempty set", first, again)
	}

	// The zero Map has no table (and no hasher) until its first write: an
	// observer of every Load still sees its misses.
	var zero mapguard.Map[int, int]
	misses := 0
	zero.Observe(func(op mapguard.Op, hit bool, weight uint64) {
		if op == mapguard.OpLoad && !hit && weight == 1 {
			misses++
		}
	}, 0, 0)
	zero.Load(1)
	if misses != 1 {
		t.Errorf("an observer of every Load saw %d misses on the zero Map; want 1", misses)
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "bits 32") {
			t.Errorf("Observe with bits 32: recovered %v; want a panic naming the bits", r)
		}
	}()
	m.Observe(func(mapguard.Op, bool, uint64) {}, 32, 0)
}

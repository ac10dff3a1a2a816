package mapguard

import (
	"iter"
	"runtime"
	"sync/atomic"
)

// View is an immutable, point-in-time consistent view of a [SnapshotMap],
// made by [SnapshotMap.Snapshot]. It is safe for concurrent use.
//
// A View equals the map's state at one instant: iterating it sees every
// key that was present then, once, with the value it had then, however
// the map changes meanwhile. Reads never block and never block writers.
//
// The zero value is an empty View: it holds no entries, reads from it
// find nothing and Release does nothing. Views with contents come only
// from Snapshot. A View must not be copied: share the *View that Snapshot
// returns.
//
// Cost: Load costs a Map Load plus a walk down the key's versions written
// since the View was taken, usually none or one. Iteration costs
// O(entries of the map). Len costs one iteration the first time.
//
// A View keeps alive the versions it needs. Release gives them back early;
// without it they are given back once the View is unreachable. Using a
// View after Release panics, and so does a read that Release overlaps
// (Release must not race with the View's use). Do not call Release from a
// Compute or LoadOrCompute function of the same map: it takes bucket locks.
type View[K comparable, V any] struct {
	h *viewHandle[K, V]
	// n is Len plus one, or 0 until Len has counted.
	n atomic.Int64
}

// viewHandle is what a View's cleanup needs: everything but the View, which
// must be unreachable from it for the cleanup to run.
type viewHandle[K comparable, V any] struct {
	s        *SnapshotMap[K, V]
	at       uint64 // the View's time
	released atomic.Bool
}

// release releases the View once (SnapshotMap.releaseView); later calls
// do nothing.
func (h *viewHandle[K, V]) release(async bool) {
	if h.released.CompareAndSwap(false, true) {
		h.s.releaseView(h.at, async)
	}
}

// handle returns the View's handle, panicking if the View was released.
func (v *View[K, V]) handle() *viewHandle[K, V] {
	h := v.h
	if h.released.Load() {
		panic("mapguard: View used after Release")
	}
	return h
}

// Load returns the value key had when the View was taken, and whether it
// was present.
func (v *View[K, V]) Load(key K) (value V, ok bool) {
	if v.h == nil {
		return value, false // the zero View is empty
	}
	h := v.handle()
	if head, found := h.s.m.Load(key); found {
		if x := h.s.visible(head, h.at); x != nil {
			value, ok = x.value, true
		}
	}
	v.handle() // a Release during the read may have dropped what it read
	// The cleanup must not release the versions read above until they
	// have been read.
	runtime.KeepAlive(v)
	return value, ok
}

// Range calls f for each key and value of the View until f returns false.
// Unlike SnapshotMap.Range it is a snapshot: it visits exactly the entries
// present when the View was taken, each once, with the value it had then.
func (v *View[K, V]) Range(f func(key K, value V) bool) {
	if v.h == nil {
		return // the zero View is empty
	}
	h := v.handle()
	h.s.m.walk(func(key K, head *version[V]) bool {
		if x := h.s.visible(head, h.at); x != nil {
			v.handle() // as in Load
			return f(key, x.value)
		}
		return true
	}, nil)
	runtime.KeepAlive(v)
}

// All returns an iterator over the View's keys and values, as Range.
func (v *View[K, V]) All() iter.Seq2[K, V] { return v.Range }

// Keys returns an iterator over the View's keys.
func (v *View[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		v.Range(func(k K, _ V) bool { return yield(k) })
	}
}

// Values returns an iterator over the View's values.
func (v *View[K, V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) {
		v.Range(func(_ K, val V) bool { return yield(val) })
	}
}

// Len returns the number of entries in the View. The first call counts
// them (O(entries)); later calls return the count.
func (v *View[K, V]) Len() int {
	if n := v.n.Load(); n != 0 {
		return int(n - 1)
	}
	n := 0
	v.Range(func(K, V) bool { n++; return true })
	v.n.Store(int64(n) + 1)
	return n
}

// MarshalJSON encodes the View as a JSON object, as encoding/json encodes a
// map[K]V: keys must be strings, integers or encoding.TextMarshalers, and
// come out sorted. Unlike SnapshotMap.MarshalJSON, the object is one
// consistent state of the map.
func (v *View[K, V]) MarshalJSON() ([]byte, error) {
	plain := map[K]V{}
	for k, val := range v.All() {
		plain[k] = val
	}
	return encodeJSON("View", plain)
}

// Release gives back the versions the View kept alive. It is optional: a
// View that becomes unreachable is released by the garbage collector. It
// costs O(entries of the map) if writes happened while the View was alive,
// O(live Views) otherwise. Calling Release twice is harmless; using the
// View after Release panics.
func (v *View[K, V]) Release() {
	if v.h == nil {
		return // the zero View holds nothing
	}
	v.h.release(false)
}

package mapguard

import (
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// SnapshotMap is a concurrent map with the whole API of [Map] plus
// [SnapshotMap.Snapshot]: an O(1) point-in-time consistent [View] of the
// map, taken while writers keep running.
//
// The zero value is an empty map ready to use. A SnapshotMap must not be
// copied after first use (go vet reports copies).
//
// Memory model: as for [Map], with the same read and write operations: a
// write synchronizes before any read that observes its effect, and a
// View's Load and iteration are read operations too.
//
// Design: multiversioning. Each key holds a chain of immutable versions,
// newest first, each stamped with the logical time at which it took
// effect. Snapshot registers the current time and advances the clock; a
// View reads, for each key, the newest version stamped at or before its
// time. Versions that no live View can reach are dropped as writers pass,
// so with no View alive each key holds one version, and with Views alive
// the extra memory is proportional to the entries written since the oldest
// one was taken. It is given back when the Views are released, explicitly
// or once they are unreachable. See the README's design notes for why this
// is a type of its own rather than a feature of Map.
//
// Cost: Load, Store and the other single-key operations cost what Map's do
// plus one indirection; a write still allocates once (the map's entry and
// the version share one allocation, four words larger than Map's entry) and
// stamps its version with one compare-and-swap after storing it, which
// lets any reader finish the stamp for a writer that is preempted. Writers of one
// key serialize on its bucket lock, as in Map; no operation takes a
// map-wide lock except Snapshot and View.Release, which serialize with
// each other only. Size is O(GOMAXPROCS).
//
// Iteration (Range, All, Keys, Values) of the map itself has Map's
// guarantees and is not a snapshot. Iteration of a View is.
type SnapshotMap[K comparable, V any] struct {
	_ noCopy

	// m maps each key to the newest version of its value. A key whose
	// newest version is a deletion stays in m while a View may need an
	// older version.
	m Map[K, *version[V]]

	// clock is the logical time. A version takes effect at clock+1 as read
	// when it is stamped; a View taken at time e sees versions stamped at
	// or before e. Only Snapshot advances it, with mu held.
	clock atomic.Uint64
	// live holds the times of the live Views, ascending; nil when there is
	// none. It is replaced, never modified, with mu held.
	live atomic.Pointer[[]uint64]
	// mu serializes Snapshot and View release.
	mu sync.Mutex

	// The fields above are read by every write; the counters below are
	// written by some. Padding keeps them off the lines of m's table
	// pointer and the clock, which every operation reads.
	_ [cacheLine]byte
	// count is the number of keys with a value (deletions kept for Views
	// are not counted), striped like Map's size counter and changed only
	// under the key's bucket lock when a key gains or loses its value.
	// The table's size less a count of kept deletions would save this
	// counter, but the two change at different instants, so a sweep would
	// make Size show states that never existed (TestSizeExactWhileSweeping;
	// tried again for issue 18, and it fails that test).
	count [maxStripes]stripe
	// gen counts View releases. A writer that decided what to keep while
	// a View was being released settles its key again (resettle), so that
	// a release never misses versions kept on its behalf.
	gen atomic.Uint64
	_   [cacheLine - 8]byte
	// kept is a lock-free stack of the keys whose newest version has an
	// older one kept for a View (or is a deletion kept for one): the keys
	// a sweep must visit when a View is released. A key is pushed when its
	// chain stops being a single value, so the stack is proportional to the
	// entries changed while Views are alive, not to the map.
	kept atomic.Pointer[keptKey[K]]
	// sweepMu serializes sweeps.
	sweepMu sync.Mutex
	clears  atomic.Uint64
}

// version is one value of a key, or its deletion, immutable but for its
// stamp and its link to the previous version.
type version[V any] struct {
	value V
	// at is the logical time the version took effect, or 0 while it is
	// pending: stored in the map but not yet stamped. Whoever meets a
	// pending version stamps it (see stamp); the first stamp wins.
	at atomic.Uint64
	// prev is the version this one replaced, kept while a View may need
	// it; nil otherwise. Every version below the newest is stamped.
	prev atomic.Pointer[version[V]]
	// listed records that the key is on the map's kept stack. A new
	// version inherits it from the one it replaces.
	listed  atomic.Bool
	deleted bool
}

// ventry is a map entry and the version it points to, allocated together:
// one allocation per write, and Load's hop from entry to version stays in
// one object.
type ventry[K comparable, V any] struct {
	e entry[K, *version[V]]
	v version[V]
}

func newVentry[K comparable, V any](key K, value V, deleted bool) *ventry[K, V] {
	ve := &ventry[K, V]{}
	ve.e.key = key
	ve.e.value = &ve.v
	ve.v.value = value
	ve.v.deleted = deleted
	return ve
}

// keptKey is one element of SnapshotMap.kept.
type keptKey[K comparable] struct {
	key  K
	next *keptKey[K]
}

// pushKept puts key on the kept stack.
func (s *SnapshotMap[K, V]) pushKept(key K) {
	n := &keptKey[K]{key: key}
	for {
		n.next = s.kept.Load()
		if s.kept.CompareAndSwap(n.next, n) {
			return
		}
	}
}

// NewSnapshotMap returns an empty map configured by opts, which are Map's
// options.
func NewSnapshotMap[K comparable, V any](opts ...Option) *SnapshotMap[K, V] {
	s := &SnapshotMap[K, V]{}
	s.m.cfg = newConfig(opts)
	s.m.init()
	return s
}

// stamp returns the time at which x took effect, stamping it first if it
// is pending. The stamp is the clock as read after x was stored, so a
// Snapshot that advanced the clock before the stamp is decided does not
// see x, and one that advanced it after does. Deciding it with one
// compare-and-swap that anyone may perform makes every reader agree
// without waiting for the writer.
func (s *SnapshotMap[K, V]) stamp(x *version[V]) uint64 {
	if at := x.at.Load(); at != 0 {
		return at
	}
	x.at.CompareAndSwap(0, s.clock.Load()+1)
	return x.at.Load()
}

// visible returns the version of the chain at head that a View taken at
// time e sees, or nil if the key was absent then.
func (s *SnapshotMap[K, V]) visible(head *version[V], e uint64) *version[V] {
	for x := head; x != nil; x = x.prev.Load() {
		if s.stamp(x) <= e {
			if x.deleted {
				return nil
			}
			return x
		}
	}
	return nil
}

// current returns the value of the chain at head now.
func (s *SnapshotMap[K, V]) current(head *version[V]) (value V, ok bool) {
	s.stamp(head)
	if head.deleted {
		return value, false
	}
	return head.value, true
}

// liveTimes returns the times of the live Views, ascending.
func (s *SnapshotMap[K, V]) liveTimes() []uint64 {
	if p := s.live.Load(); p != nil {
		return *p
	}
	return nil
}

// trim drops the versions below x, which is stamped, that no live View
// needs: a View at time e needs the newest version stamped at or before e.
// Views taken later stop at x or above, so a stale list of live Views can
// only make trim keep too much. Concurrent trims of one chain are safe:
// each only unlinks versions that no View needs, and a version stays
// unneeded once it is.
func (s *SnapshotMap[K, V]) trim(x *version[V]) {
	live := s.liveTimes()
	xat := x.at.Load()
	for {
		y := x.prev.Load()
		if y == nil {
			return
		}
		if len(live) == 0 || live[0] >= xat {
			x.prev.Store(nil) // every View stops at x
			return
		}
		yat := y.at.Load()
		// Does some View stop at y, that is, have a time in [yat, xat)?
		if i, _ := slices.BinarySearch(live, yat); i < len(live) && live[i] < xat {
			x, xat = y, yat
			continue
		}
		x.prev.Store(y.prev.Load())
	}
}

// addCount adds delta to the stripe of the entry count for hash h.
func (s *SnapshotMap[K, V]) addCount(h uint64, delta int64) {
	s.count[(h>>7)&(maxStripes-1)].n.Add(delta)
}

// resettle settles key's newest version again under its bucket lock, with
// the current list of live Views: it drops what no View needs, removes a
// deletion nobody needs, and lists the key if it still keeps history. The
// sweep uses it, and so do writers whose settling overlapped a release.
func (s *SnapshotMap[K, V]) resettle(key K) {
	s.m.Compute(key, func(head *version[V], loaded bool) (*version[V], ComputeOp) {
		if !loaded {
			return head, CancelOp
		}
		s.stamp(head)
		s.trim(head)
		switch {
		case head.prev.Load() != nil:
			// Listed again: a duplicate on the stack costs one visit.
			head.listed.Store(true)
			s.pushKept(key)
		case head.deleted:
			return nil, DeleteOp
		default:
			head.listed.Store(false)
		}
		return head, CancelOp
	})
}

// slotRef is where a key's entry is, or where it can go, in a locked chain.
type slotRef[K comparable, V any] struct {
	t      *table[K, *version[V]]
	root   *bucket[K, *version[V]]
	tag    uint8
	fb     *bucket[K, *version[V]] // the key's bucket and slot, if found
	fs     int
	eb     *bucket[K, *version[V]] // the first empty slot, if any
	es     int
	last   *bucket[K, *version[V]]
	cur    *version[V] // the key's newest version, stamped; nil if absent
	growth bool        // an insert needs the table to grow first
}

// lock locks the chain of key, whose hash is h, and finds the key in it.
func (s *SnapshotMap[K, V]) lock(key K, h uint64) slotRef[K, V] {
	var r slotRef[K, V]
	r.t, r.root = s.m.lockChain(h)
	r.tag = tagOf(h)
	var e *entry[K, *version[V]]
	e, r.fb, r.fs, _, r.eb, r.es, r.last = searchLocked(r.root, r.tag, key)
	if e != nil {
		r.cur = e.value
	}
	if r.cur != nil {
		s.stamp(r.cur) // stamps grow along the chain
	} else {
		r.growth = r.eb == nil && r.t.mustGrow()
	}
	return r
}

// apply makes ve the newest version of the key at r, whose chain is locked,
// and unlocks it. The writer stamps ve itself before unlocking, so with no
// View alive the key is left with one version, and a deletion nobody needs
// is removed at once. Nothing in it can panic.
func (s *SnapshotMap[K, V]) apply(key K, h uint64, r *slotRef[K, V], ve *ventry[K, V], gen uint64) {
	nv, old := &ve.v, r.cur
	var delta int64
	if old != nil {
		nv.prev.Store(old)
		nv.listed.Store(old.listed.Load())
		r.fb.slotAt(r.fs).Store(&ve.e)
		if old.deleted {
			s.addCount(h, 1)
		} else if nv.deleted {
			s.addCount(h, -1)
		}
	} else {
		r.t.insertLocked(r.eb, r.es, r.last, r.tag, &ve.e)
		delta = 1
		s.addCount(h, 1)
		if r.eb == nil { // it went into a new overflow bucket
			r.fb, r.fs = r.last.next.Load(), 0
		} else {
			r.fb, r.fs = r.eb, r.es
		}
	}
	s.stamp(nv)
	s.trim(nv)
	shrink := false
	switch {
	case nv.prev.Load() != nil:
		if !nv.listed.Load() {
			nv.listed.Store(true)
			s.pushKept(key)
		}
	case nv.deleted:
		// No View needs the old value: remove the key.
		meta := clearSlot(r.fb, r.fs, r.fb.meta.Load())
		delta--
		shrink = meta == 0 && !s.m.cfg.growOnly
	}
	r.root.mu.Unlock()
	if delta != 0 {
		r.t.addSize(delta)
	}
	if shrink {
		s.m.maybeShrink(r.t)
	}
	if s.gen.Load() != gen {
		s.resettle(key)
	}
}

// put makes ve, whose key hashes to h, the key's newest version, or for a
// deletion (ve.v.deleted) does so only if the key has a value, and returns
// the version it replaced (nil if the key was absent). It is the write
// path of Store, Swap and the deletions, specialised as Map.swap and
// Map.delete are: one critical section, no callback, and ve allocated
// before the lock is taken.
func (s *SnapshotMap[K, V]) put(key K, h uint64, ve *ventry[K, V]) (old *version[V]) {
	gen := s.gen.Load()
	for {
		r := s.lock(key, h)
		if ve.v.deleted && (r.cur == nil || r.cur.deleted) {
			r.root.mu.Unlock() // nothing to delete
			return r.cur
		}
		if r.growth {
			r.root.mu.Unlock()
			s.m.startResize(r.t, resizeGrow)
			continue
		}
		s.apply(key, h, &r, ve, gen)
		return r.cur
	}
}

// update runs decide on the key's newest version (nil if absent, possibly
// a deletion) with the key's chain locked, and stores what it decides: its
// value (UpdateOp) or a deletion (DeleteOp, if the key has a value). It
// returns the version decide saw and the one stored, nil if none. decide
// runs once: whether an insert must grow the table is settled first. If
// decide panics, the lock is released and nothing is written.
func (s *SnapshotMap[K, V]) update(key K, decide func(cur *version[V]) (V, ComputeOp)) (cur, nv *version[V]) {
	_, h := s.m.find(key, false)
	gen := s.gen.Load()
	for {
		r := s.lock(key, h)
		if r.growth {
			r.root.mu.Unlock()
			s.m.startResize(r.t, resizeGrow)
			continue
		}
		v, op := decideLocked(&r.root.mu, decide, r.cur)
		var ve *ventry[K, V]
		switch {
		case op == UpdateOp:
			ve = newVentry(key, v, false)
		case op == DeleteOp && r.cur != nil && !r.cur.deleted:
			ve = newVentry(key, v, true)
		default:
			r.root.mu.Unlock()
			return r.cur, nil
		}
		s.apply(key, h, &r, ve, gen)
		return r.cur, &ve.v
	}
}

// decideLocked calls decide with mu held and, if decide panics, unlocks mu
// as the panic passes.
func decideLocked[V any](mu *sync.Mutex, decide func(*version[V]) (V, ComputeOp), cur *version[V]) (v V, op ComputeOp) {
	done := false
	defer func() {
		if !done {
			mu.Unlock()
		}
	}()
	v, op = decide(cur)
	done = true
	return v, op
}

// present returns the value of cur, a version from write, if it is one.
func present[V any](cur *version[V]) (value V, ok bool) {
	if cur == nil || cur.deleted {
		return value, false
	}
	return cur.value, true
}

// Load returns the value stored for key, or the zero value if there is none.
// The ok result reports whether a value was found. It takes no lock and
// does not allocate.
func (s *SnapshotMap[K, V]) Load(key K) (value V, ok bool) {
	head, found := s.m.Load(key)
	if !found {
		return value, false
	}
	return s.current(head)
}

// Store sets the value for key.
func (s *SnapshotMap[K, V]) Store(key K, value V) {
	_, h := s.m.find(key, false)
	s.put(key, h, newVentry(key, value, false))
}

// LoadOrStore returns the existing value for key if present. Otherwise it
// stores value and returns it. The loaded result is true if the value was
// loaded, false if stored.
func (s *SnapshotMap[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if v, ok := s.Load(key); ok {
		return v, true
	}
	cur, _ := s.update(key, func(cur *version[V]) (V, ComputeOp) {
		if _, ok := present(cur); ok {
			return value, CancelOp
		}
		return value, UpdateOp
	})
	if v, ok := present(cur); ok {
		return v, true
	}
	return value, false
}

// LoadAndStore stores value for key and returns the value the key held
// before, if it was present, or value itself, if it was not; loaded
// reports which, as [Map.LoadAndStore].
func (s *SnapshotMap[K, V]) LoadAndStore(key K, value V) (actual V, loaded bool) {
	if prev, loaded := s.Swap(key, value); loaded {
		return prev, true
	}
	return value, false
}

// Swap stores value for key and returns the previous value, if any. The
// loaded result reports whether the key was present.
func (s *SnapshotMap[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	_, h := s.m.find(key, false)
	return present(s.put(key, h, newVentry(key, value, false)))
}

// LoadAndDelete deletes the value for key, returning the previous value if
// any. The loaded result reports whether the key was present.
func (s *SnapshotMap[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	e, h := s.m.find(key, true)
	// Stamp before reading: a pending deletion seen as done would let
	// this call return before the deletion takes effect, and a View taken
	// after it could still show the key.
	if e == nil || s.stamp(e.value) == 0 || e.value.deleted {
		return value, false
	}
	return present(s.put(key, h, newVentry(key, value, true)))
}

// Delete deletes the value for key.
func (s *SnapshotMap[K, V]) Delete(key K) {
	s.LoadAndDelete(key)
}

// CompareAndSwap stores new for key if the key is present and its value is
// equal to old. The swapped result reports whether it stored. It panics if
// V is not comparable, as sync.Map does.
func (s *SnapshotMap[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	checkComparable[V]("SnapshotMap", "CompareAndSwap")
	if v, ok := s.Load(key); !ok || !valuesEqual(v, old) {
		return false
	}
	_, nv := s.update(key, func(cur *version[V]) (V, ComputeOp) {
		if v, ok := present(cur); ok && valuesEqual(v, old) {
			return new, UpdateOp
		}
		return new, CancelOp
	})
	return nv != nil
}

// CompareAndDelete deletes the entry for key if its value is equal to old.
// The deleted result reports whether it deleted. It panics if V is not
// comparable, as sync.Map does.
func (s *SnapshotMap[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	checkComparable[V]("SnapshotMap", "CompareAndDelete")
	if v, ok := s.Load(key); !ok || !valuesEqual(v, old) {
		return false
	}
	_, nv := s.update(key, func(cur *version[V]) (v V, _ ComputeOp) {
		if v, ok := present(cur); ok && valuesEqual(v, old) {
			return v, DeleteOp
		}
		return v, CancelOp
	})
	return nv != nil
}

// LoadOrCompute returns the existing value for key if present. Otherwise it
// calls fn and, unless fn reports cancel, stores and returns the value fn
// returned. The loaded result is true if the value was loaded. fn runs as
// in Map.LoadOrCompute: at most once, with the key's bucket locked; it must
// not use the same map, and if it panics the map is left as it was.
func (s *SnapshotMap[K, V]) LoadOrCompute(key K, fn func() (value V, cancel bool)) (actual V, loaded bool) {
	if v, ok := s.Load(key); ok {
		return v, true
	}
	cur, nv := s.update(key, func(cur *version[V]) (v V, _ ComputeOp) {
		if _, ok := present(cur); ok {
			return v, CancelOp
		}
		v, cancel := fn()
		if cancel {
			return v, CancelOp
		}
		return v, UpdateOp
	})
	if v, ok := present(cur); ok {
		return v, true
	}
	if nv != nil {
		return nv.value, false
	}
	return actual, false
}

// Compute calls fn with the current value for key and applies fn's
// ComputeOp, as Map.Compute does, and returns the value present for key
// afterwards and whether one is present. fn runs exactly once, with the
// key's bucket locked; it must not use the same map, and if it panics the
// map is left as it was.
func (s *SnapshotMap[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	cur, nv := s.update(key, func(cur *version[V]) (V, ComputeOp) {
		return fn(present(cur))
	})
	if nv != nil {
		return present(nv)
	}
	return present(cur)
}

// DeleteFunc deletes every entry for which del returns true and returns the
// number it deleted, with Map.DeleteFunc's guarantees: an entry is deleted
// only if the key still holds the very value del was shown.
func (s *SnapshotMap[K, V]) DeleteFunc(del func(key K, value V) bool) int {
	n := 0
	s.m.walk(func(key K, head *version[V]) bool {
		v, ok := s.current(head)
		if ok && del(key, v) {
			_, nv := s.update(key, func(cur *version[V]) (v V, _ ComputeOp) {
				if cur == head {
					return v, DeleteOp
				}
				return v, CancelOp
			})
			if nv != nil {
				n++
			}
		}
		return true
	}, nil)
	return n
}

// Range calls f for each key and value in the map, until f returns false,
// with Map.Range's guarantees: it is not a snapshot. Use Snapshot for one.
func (s *SnapshotMap[K, V]) Range(f func(key K, value V) bool) {
	s.m.walk(func(key K, head *version[V]) bool {
		if v, ok := s.current(head); ok {
			return f(key, v)
		}
		return true
	}, nil)
}

// All returns an iterator over the map's keys and values with the
// guarantees of Range.
func (s *SnapshotMap[K, V]) All() iter.Seq2[K, V] { return s.Range }

// Keys returns an iterator over the map's keys with the guarantees of Range.
func (s *SnapshotMap[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		s.Range(func(k K, _ V) bool { return yield(k) })
	}
}

// Values returns an iterator over the map's values with the guarantees of
// Range.
func (s *SnapshotMap[K, V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) {
		s.Range(func(_ K, v V) bool { return yield(v) })
	}
}

// Size returns the number of entries. It costs O(GOMAXPROCS); with writes
// in flight it may count some of them and not others.
func (s *SnapshotMap[K, V]) Size() int {
	var n int64
	for i := range s.count {
		n += s.count[i].n.Load()
	}
	return int(max(n, 0))
}

// Clear deletes every entry. Unlike Map.Clear it deletes them one by one,
// so that Views keep the values they saw: it is not atomic across keys,
// and a View taken during a Clear sees some entries deleted and others
// not. For each key it is a Delete at some instant of the call: a write
// that completes before Clear starts is cleared, and a write that
// survives it took effect after the key's delete. The table shrinks as
// entries go, unless a View still needs them or the map was made
// WithGrowOnly.
func (s *SnapshotMap[K, V]) Clear() {
	// Each visited key is deleted whatever it holds by then, not only if
	// it still holds what the walk saw (DeleteFunc's rule): a value set
	// between the two by a write that began before the Clear, such as a
	// CompareAndSwap from the value the walk saw, would otherwise survive
	// a Clear that must have deleted it (TestLinearizableWithClear).
	s.m.walk(func(key K, head *version[V]) bool {
		if _, ok := s.current(head); ok {
			s.Delete(key)
		}
		return true
	}, nil)
	s.clears.Add(1)
}

// Stats returns a description of the map's table, as Map.Stats does.
// Entries leaves deletions kept for Views out; LoadFactor and Capacity
// count them, since they occupy slots. Clears counts calls to Clear.
func (s *SnapshotMap[K, V]) Stats() Stats {
	st := s.m.Stats()
	st.Entries = s.Size()
	st.Clears = s.clears.Load()
	return st
}

// MarshalJSON encodes the current contents as a JSON object, as
// Map.MarshalJSON does. For a consistent encoding, marshal a View.
func (s *SnapshotMap[K, V]) MarshalJSON() ([]byte, error) {
	plain := make(map[K]V, s.Size())
	for k, v := range s.All() {
		plain[k] = v
	}
	return encodeJSON("SnapshotMap", plain)
}

// UnmarshalJSON decodes a JSON object and stores its entries in the map,
// keeping entries whose keys are not in the object. On error the map is
// left unchanged.
func (s *SnapshotMap[K, V]) UnmarshalJSON(data []byte) error {
	plain, err := decodeJSON[K, V]("SnapshotMap", data)
	if err != nil {
		return err
	}
	for k, v := range plain {
		s.Store(k, v)
	}
	return nil
}

// Snapshot returns a View of the map as it is now: the View's contents are
// the map's state at one instant between the call and its return, and
// never change. Snapshot costs O(1) in the map's size (it copies the list
// of live Views, usually short) and blocks no reader or writer.
//
// While the View is alive, writers keep the versions it needs. Release
// gives them back; a View that becomes unreachable is released by the
// garbage collector.
func (s *SnapshotMap[K, V]) Snapshot() *View[K, V] {
	s.mu.Lock()
	e := s.clock.Load() + 1
	live := append(slices.Clone(s.liveTimes()), e)
	// Register the View before advancing the clock: a writer that stamps
	// after the advance, and so is not seen by the View, must also find it
	// in live and keep the version the View needs.
	s.live.Store(&live)
	s.clock.Add(1)
	s.mu.Unlock()

	h := &viewHandle[K, V]{s: s, at: e}
	v := &View[K, V]{h: h}
	runtime.AddCleanup(v, func(h *viewHandle[K, V]) { h.release(true) }, h)
	return v
}

// releaseView unregisters the View taken at time e and gives back the
// versions only it needed. The garbage collector's cleanup calls it with
// async set, so that the O(entries) sweep runs outside the cleanup
// goroutine. Snapshot registers a View; this is the whole of its release.
func (s *SnapshotMap[K, V]) releaseView(e uint64, async bool) {
	s.unregister(e)
	if !s.hasKept() {
		return
	}
	if async {
		go s.sweep()
	} else {
		s.sweep()
	}
}

// unregister removes the View taken at time e from the live list.
//
// It publishes the new list before advancing gen, and the caller checks the
// kept stack after: so a writer that trimmed with the old list either sees
// gen move and settles again, or pushed its key before the check.
func (s *SnapshotMap[K, V]) unregister(e uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.liveTimes()
	i, found := slices.BinarySearch(old, e)
	if !found {
		return
	}
	if len(old) == 1 {
		s.live.Store(nil)
	} else {
		live := slices.Delete(slices.Clone(old), i, i+1)
		s.live.Store(&live)
	}
	s.gen.Add(1)
}

// sweep visits the keys on the kept stack and drops the versions no live
// View needs, and the keys whose only remaining version is a deletion; a
// key still holding versions for a View goes back on the stack. Its cost is
// proportional to the entries changed while Views were alive.
func (s *SnapshotMap[K, V]) sweep() {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	for n := s.kept.Swap(nil); n != nil; n = n.next {
		s.resettle(n.key)
	}
}

// hasKept reports whether some key holds versions kept for a View.
func (s *SnapshotMap[K, V]) hasKept() bool { return s.kept.Load() != nil }

package inline

import (
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"unsafe"
)

// ErrPointers is the error New wraps when the key or value type holds
// pointers, which must stay in memory the GC scans.
var ErrPointers = errors.New("type holds pointers")

// Map is a concurrent hash map from K to V for pointer-free K and V, which
// it stores inline in pointer-free memory; see the package comment.
//
// A Map is made by New; it must not be copied after first use.
//
// Memory model: as in the root package's Map, a write operation
// synchronizes before any read operation that observes its effect, where
// Store, Swap, LoadAndStore, Delete, LoadAndDelete and Clear are writes;
// LoadOrStore, LoadOrCompute, CompareAndSwap, CompareAndDelete and Compute
// are writes when they change the map; and every operation is a read, as
// is Range for each entry it visits, and Len.
//
// Cost: Load takes no lock, writes nothing and allocates nothing; it takes
// the chain's lock after a few tries if writers keep invalidating its read
// of the key's chain. Every write locks one chain and allocates nothing,
// except an overflow segment now and then and the table on a resize. Len
// is O(1). A deletion that empties a bucket of a table at most 1/16 full
// shrinks it; Clear replaces the table by the smallest.
//
// Range takes no lock unless writers keep invalidating it, and never blocks
// writers otherwise; it visits each key at most once, and exactly once
// every key present for the whole call. It is not a snapshot.
type Map[K comparable, V any] struct {
	_ noCopy

	table    atomic.Pointer[table]
	resizing atomic.Pointer[resize] // the grow in progress, or nil

	// Set by New and never changed.
	kw, vw  int
	retries int // optimistic reads before a reader locks

	// lockedReads counts Loads and Range chain copies that gave up on
	// optimistic reads and locked: the figure a Stats would report.
	lockedReads atomic.Uint64

	// resizes counts the tables replaced by a grow, shrink or clear: the
	// figure a Stats would report.
	resizes atomic.Uint64
}

// New returns an empty Map, or an error wrapping ErrPointers if K or V
// holds pointers (strings, pointers, slices, maps, interfaces, channels,
// functions, or arrays and structs holding one of them).
func New[K comparable, V any]() (*Map[K, V], error) {
	return newMap[K, V](false)
}

func newMap[K comparable, V any](collide bool) (*Map[K, V], error) {
	for _, x := range []struct {
		what string
		t    reflect.Type
	}{{"key", reflect.TypeFor[K]()}, {"value", reflect.TypeFor[V]()}} {
		if !pointerFree(x.t) {
			return nil, fmt.Errorf("inline: %s type %v: %w", x.what, x.t, ErrPointers)
		}
	}
	m := &Map[K, V]{
		kw:      wordsOf[K](),
		vw:      wordsOf[V](),
		retries: defaultReadRetries,
	}
	m.table.Store(newTable(defaultMinBuckets, m.kw, m.vw, newHasher[K](collide)))
	return m, nil
}

// pointerFree reports whether a value of type t holds no pointers.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return t.Len() == 0 || pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// wordsOf returns the size of T in 8-byte words, rounded up.
func wordsOf[T any]() int {
	var v T
	return int((unsafe.Sizeof(v) + 7) / 8)
}

// cell holds a T with room after it, so that reading or writing T's words
// (its size rounded up to 8 bytes) stays inside one object.
type cell[T any] struct {
	v T
	_ uint64
}

// load returns the T in the n words at p, each read atomically. A read
// racing a writer may return a torn T; callers use it only once the chain's
// sequence counter has validated the read.
func load[T any](p unsafe.Pointer, n int) T {
	var c cell[T]
	for i := range n {
		*word(unsafe.Pointer(&c), i) = atomic.LoadUint64(word(p, i))
	}
	return c.v
}

// store writes v into the n words at p, each atomically.
func store[T any](p unsafe.Pointer, v T, n int) {
	c := cell[T]{v: v}
	for i := range n {
		atomic.StoreUint64(word(p, i), *word(unsafe.Pointer(&c), i))
	}
}

// probe looks key up in the chain that starts at root, whose word 0 read
// w0, with atomic loads only. Its result is meaningful only if the chain's
// sequence counter shows no write overlapped it, or the caller holds the
// chain's lock. It returns the bucket and slot holding key, or nil.
func (m *Map[K, V]) probe(t *table, root unsafe.Pointer, w0 uint64, tag uint8, key K) (unsafe.Pointer, int) {
	b := root
	for {
		for w := matchTag(atomic.LoadUint64(word(b, 1)), tag); w != 0; w &= w - 1 {
			s := slotOf(w)
			if load[K](t.keyAt(b, s), t.kw) == key {
				return b, s
			}
		}
		n := w0 >> 32
		if n == 0 {
			return nil, 0
		}
		b = t.overflow(n)
		w0 = atomic.LoadUint64(word(b, 0))
	}
}

// Load returns the value stored for key, or the zero value if there is none.
// The ok result reports whether a value was found.
func (m *Map[K, V]) Load(key K) (value V, ok bool) {
	t := m.table.Load()
	h := hashKey(&t.hasher, key)
	idx := t.indexOf(h)
	root := t.root(idx)
	tag := tagOf(h)
	seq := word(root, 0)
	for range m.retries {
		w0 := atomic.LoadUint64(seq)
		if w0&1 != 0 {
			continue // a write is open
		}
		b, s := m.probe(t, root, w0, tag, key)
		if b != nil {
			value = load[V](t.valueAt(b, s), t.vw)
		}
		if uint32(atomic.LoadUint64(seq)) == uint32(w0) {
			return value, b != nil
		}
		value = *new(V)
	}
	// Writers keep winning: read under the chain's lock, which excludes
	// them. A frozen table's lock is still free to take.
	m.lockedReads.Add(1)
	mu := t.lockOf(idx)
	mu.Lock()
	b, s := m.probe(t, root, atomic.LoadUint64(seq), tag, key)
	if b != nil {
		value = load[V](t.valueAt(b, s), t.vw)
	}
	mu.Unlock()
	return value, b != nil
}

// lockChain locks the chain for hash h in the current table, helping any
// grow in progress first, and returns the table, the chain's index and the
// lock. Holding the lock with no grow running means the write lands in the
// current table: a grow installs m.resizing before copying, and copies each
// chain under its lock.
func (m *Map[K, V]) lockChain(h uint64) (t *table, idx uint64) {
	for {
		t = m.table.Load()
		idx = t.indexOf(h)
		mu := t.lockOf(idx)
		mu.Lock()
		if m.resizing.Load() == nil && m.table.Load() == t {
			return t, idx
		}
		mu.Unlock()
		if r := m.resizing.Load(); r != nil {
			m.help(r)
		}
	}
}

// write stores value for key; if onlyIfAbsent is set and key is present, it
// leaves it. It returns the value key held before and whether it held one.
// It is mutate specialised for the commonest writes: no request, no
// decision, no deferred unlock (nothing between Lock and Unlock calls user
// code; a key that cannot be hashed already panicked).
func (m *Map[K, V]) write(key K, value V, onlyIfAbsent bool) (prev V, loaded bool) {
	h := hashKey(&m.table.Load().hasher, key)
	tag := tagOf(h)
	for {
		t, idx := m.lockChain(h)
		root := t.root(idx)
		// Under the lock no one else writes the chain: its words are
		// read with atomic loads only because readers load them too.
		var (
			eb   unsafe.Pointer // first empty slot, if any
			es   int
			last = root
		)
		b := root
		for b != nil {
			meta := atomic.LoadUint64(word(b, 1))
			for w := matchTag(meta, tag); w != 0; w &= w - 1 {
				s := slotOf(w)
				if load[K](t.keyAt(b, s), t.kw) == key {
					prev = load[V](t.valueAt(b, s), t.vw)
					if !onlyIfAbsent {
						overwrite(t, root, t.valueAt(b, s), value)
					}
					t.lockOf(idx).Unlock()
					return prev, true
				}
			}
			if eb == nil {
				if w := emptyIn(b, root, meta); w != 0 {
					eb, es = b, slotOf(w)
				}
			}
			last = b
			b = t.next(b)
		}
		if eb == nil && t.mustGrow() {
			t.lockOf(idx).Unlock()
			m.startResize(t, resizeGrow)
			continue
		}
		insertLocked(t, root, eb, es, last, tag, key, value)
		t.lockOf(idx).Unlock()
		t.addSize(idx, 1)
		return prev, false
	}
}

// overwrite stores v at p, the value of a present key of the chain at
// root. It must be called with the chain's lock held.
func overwrite[V any](t *table, root, p unsafe.Pointer, v V) {
	if t.vw <= 1 {
		// One word is stored atomically: a reader sees the old value or
		// the new, each the key's value at some instant of its read, so
		// the write needs no sequence bump (saving two fenced stores on
		// amd64). The key's words and tag do not change.
		store(p, v, t.vw)
		return
	}
	bumpSeq(root)
	store(p, v, t.vw)
	bumpSeq(root)
}

// insertLocked puts key and value into slot es of bucket eb of the chain at
// root, or, if eb is nil, into a new overflow bucket linked after last. It
// must be called with the chain's lock held.
func insertLocked[K comparable, V any](t *table, root, eb unsafe.Pointer, es int, last unsafe.Pointer, tag uint8, key K, value V) {
	if eb != nil {
		bumpSeq(root)
		store(t.keyAt(eb, es), key, t.kw)
		store(t.valueAt(eb, es), value, t.vw)
		w := word(eb, 1)
		atomic.StoreUint64(w, setTag(atomic.LoadUint64(w), es, tag))
		bumpSeq(root)
		return
	}
	// The new bucket is filled before it is linked; the link is the one
	// store readers can see, still inside a write.
	link, nb := t.newOverflow()
	store(t.keyAt(nb, 0), key, t.kw)
	store(t.valueAt(nb, 0), value, t.vw)
	atomic.StoreUint64(word(nb, 1), uint64(tag))
	bumpSeq(root)
	setNext(last, link)
	bumpSeq(root)
}

// ComputeOp tells Compute what to do with the value its function returned.
// It mirrors the root package's ComputeOp.
type ComputeOp int

const (
	// CancelOp leaves the map as it was: an absent key stays absent and a
	// present key keeps its value. It is the zero ComputeOp.
	CancelOp ComputeOp = iota
	// UpdateOp stores the returned value, creating the entry if needed.
	UpdateOp
	// DeleteOp deletes the entry if present.
	DeleteOp
)

// op is what mutate does with the key it is given.
type op uint8

const (
	opCompareSwap   op = iota // set only if present and equal to old
	opCompareDelete           // delete only if present and equal to old
	opDelete                  // delete if present, report the old value
	opCompute                 // ask compute
	opLoadOrCompute           // if absent, ask create
)

// request carries an operation and its arguments into mutate.
type request[V any] struct {
	op      op
	value   V
	old     V
	compute func(old V, loaded bool) (V, ComputeOp)
	create  func() (V, bool)
}

// mayInsert reports whether the operation can create an absent key.
func (r *request[V]) mayInsert() bool {
	return r.op == opCompute || r.op == opLoadOrCompute
}

// outcome is what the locked part of mutate reports to its caller.
type outcome uint8

const (
	outDone   outcome = iota
	outGrow           // the chain is full and the table is over maxLoad
	outShrink         // a deletion emptied a bucket: maybe shrink
)

// mutate applies req to key and returns the operation's two results, whose
// meaning depends on req.op (see each caller).
func (m *Map[K, V]) mutate(key K, req *request[V]) (V, bool) {
	h := hashKey(&m.table.Load().hasher, key)
	for {
		t, idx := m.lockChain(h)
		v, ok, delta, out := m.mutateLocked(t, idx, h, key, req)
		if delta != 0 {
			t.addSize(idx, delta)
		}
		switch out {
		case outShrink:
			m.maybeShrink(t)
			return v, ok
		case outGrow:
			m.startResize(t, resizeGrow)
		default:
			return v, ok
		}
	}
}

// mutateLocked does the part of mutate that runs with chain idx of t
// locked, and releases the lock. The deferred unlock keeps the lock from
// leaking when a user callback or a value comparison panics; nothing is
// written, and the sequence counter is not touched, before those return, so
// a panic leaves the chain as it was and its counter even.
func (m *Map[K, V]) mutateLocked(t *table, idx, h uint64, key K, req *request[V]) (res V, ok bool, delta int64, out outcome) {
	defer t.lockOf(idx).Unlock()
	root := t.root(idx)
	tag := tagOf(h)
	var (
		fb        unsafe.Pointer // bucket, slot and meta word holding key
		fs        int
		foundMeta uint64
		eb        unsafe.Pointer // first empty slot, if any
		es        int
		last      = root
	)
search:
	for b := root; b != nil; b = t.next(b) {
		meta := atomic.LoadUint64(word(b, 1))
		for w := matchTag(meta, tag); w != 0; w &= w - 1 {
			s := slotOf(w)
			if load[K](t.keyAt(b, s), t.kw) == key {
				fb, fs, foundMeta = b, s, meta
				break search
			}
		}
		if eb == nil {
			if w := emptyIn(b, root, meta); w != 0 {
				eb, es = b, slotOf(w)
			}
		}
		last = b
	}

	// An insertion that needs a new overflow bucket in a table over its
	// load grows the table and retries. Decide that before calling any
	// user function, so that it runs once however often we retry.
	if fb == nil && eb == nil && req.mayInsert() && t.mustGrow() {
		return res, false, 0, outGrow
	}

	// Decide. Nothing is written until the decision is made.
	var (
		newValue V
		set      bool // store newValue
		del      bool // delete the key's slot
	)
	if fb != nil {
		old := load[V](t.valueAt(fb, fs), t.vw)
		res, ok = old, true
		switch req.op {
		case opLoadOrCompute:
		case opCompareSwap:
			if ok = valuesEqual(old, req.old); ok {
				newValue, set = req.value, true
			}
		case opCompareDelete:
			ok = valuesEqual(old, req.old)
			del = ok
		case opDelete:
			del = true
		case opCompute:
			nv, cop := req.compute(old, true)
			switch cop {
			case UpdateOp:
				newValue, set = nv, true
				res = nv
			case DeleteOp:
				del, ok = true, false
				res = *new(V)
			}
		}
	} else {
		switch req.op {
		case opLoadOrCompute:
			nv, cancel := req.create()
			if !cancel {
				newValue, set = nv, true
				res = nv
			}
		case opCompute:
			nv, cop := req.compute(res, false)
			if cop == UpdateOp {
				newValue, set = nv, true
				res, ok = nv, true
			}
		}
	}

	switch {
	case del:
		// Clearing the tag is the delete; the slot's words stay until an
		// insert reuses them, inside its own write.
		meta := setTag(foundMeta, fs, 0)
		bumpSeq(root)
		atomic.StoreUint64(word(fb, 1), meta)
		bumpSeq(root)
		if meta == 0 {
			out = outShrink
		}
		return res, ok, -1, out
	case set && fb != nil:
		overwrite(t, root, t.valueAt(fb, fs), newValue)
	case set:
		insertLocked(t, root, eb, es, last, tag, key, newValue)
		return res, ok, 1, outDone
	}
	return res, ok, 0, outDone
}

// valuesEqual compares two values with ==. Every pointer-free type is
// comparable, so this never panics; floats compare as ==, so a NaN is equal
// to nothing, as in the root package.
func valuesEqual[V any](a, b V) bool {
	return any(a) == any(b)
}

// Store sets the value for key.
func (m *Map[K, V]) Store(key K, value V) {
	m.write(key, value, false)
}

// LoadOrStore returns the existing value for key if present. Otherwise it
// stores value and returns it. The loaded result is true if the value was
// loaded, false if stored. A present key is found without taking a lock.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if v, ok := m.Load(key); ok {
		return v, true
	}
	if prev, loaded := m.write(key, value, true); loaded {
		return prev, true
	}
	return value, false
}

// Delete deletes the value for key. An absent key is detected without
// taking a lock.
func (m *Map[K, V]) Delete(key K) {
	m.LoadAndDelete(key)
}

// LoadAndDelete deletes the value for key, returning the previous value if
// any. The loaded result reports whether the key was present. An absent key
// is detected without taking a lock.
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	if _, ok := m.Load(key); !ok {
		return value, false
	}
	return m.mutate(key, &request[V]{op: opDelete})
}

// Swap stores value for key and returns the previous value, if any. The
// loaded result reports whether the key was present.
func (m *Map[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	return m.write(key, value, false)
}

// LoadAndStore stores value for key and returns the value the key held
// before, if it was present, or value itself, if it was not; loaded reports
// which. It differs from Swap only when the key was absent, where Swap
// returns the zero value.
func (m *Map[K, V]) LoadAndStore(key K, value V) (actual V, loaded bool) {
	if prev, loaded := m.write(key, value, false); loaded {
		return prev, true
	}
	return value, false
}

// CompareAndSwap stores new for key if the key is present and its value is
// equal to old (==: a NaN is equal to nothing). The swapped result reports
// whether it stored. A key absent or holding another value is detected
// without taking a lock.
func (m *Map[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	if v, ok := m.Load(key); !ok || !valuesEqual(v, old) {
		return false
	}
	_, swapped = m.mutate(key, &request[V]{op: opCompareSwap, value: new, old: old})
	return swapped
}

// CompareAndDelete deletes the entry for key if its value is equal to old
// (==). The deleted result reports whether it deleted.
func (m *Map[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	if v, ok := m.Load(key); !ok || !valuesEqual(v, old) {
		return false
	}
	_, deleted = m.mutate(key, &request[V]{op: opCompareDelete, old: old})
	return deleted
}

// LoadOrCompute returns the existing value for key if present. Otherwise it
// calls fn and, unless fn reports cancel, stores and returns the value fn
// returned. The loaded result is true if the value was loaded. A present
// key is found without taking a lock.
//
// fn runs at most once per call, with the key's chain locked, so it runs
// atomically with respect to every other writer of key. It must not use the
// same map. If fn panics, the panic propagates to the caller and the map is
// left as it was, its lock released. If fn cancels, LoadOrCompute returns
// the zero value and false.
func (m *Map[K, V]) LoadOrCompute(key K, fn func() (value V, cancel bool)) (actual V, loaded bool) {
	if v, ok := m.Load(key); ok {
		return v, true
	}
	return m.mutate(key, &request[V]{op: opLoadOrCompute, create: fn})
}

// Compute calls fn with the current value for key (and whether it is
// present) and, as fn's ComputeOp says, stores fn's new value (UpdateOp),
// deletes the entry (DeleteOp) or leaves the map as it was (CancelOp). It
// returns the value present for key afterwards, and whether one is present;
// absent, the value is the zero value.
//
// fn runs exactly once per call, with the key's chain locked and before any
// word of it is written, so it runs atomically with respect to every other
// writer of key. It must not use the same map. If fn panics, the panic
// propagates to the caller and the map is left as it was, its lock released.
func (m *Map[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	return m.mutate(key, &request[V]{op: opCompute, compute: fn})
}

// Clear deletes every entry. Writes concurrent with Clear land either before
// it (and are cleared) or after it. The table returns to its initial size
// and its overflow buckets are dropped.
func (m *Map[K, V]) Clear() {
	for !m.startResize(m.table.Load(), resizeClear) {
	}
}

// Len returns the number of entries. It sums a striped counter, so it costs
// O(1) (at most 32 loads). With writes in flight it may count some of them
// and not others.
func (m *Map[K, V]) Len() int {
	return m.table.Load().size()
}

// Range calls f for each key and value in the map, until f returns false.
// f may use the map. Range visits each key at most once, and exactly once
// every key present for the whole call; a key stored or deleted during the
// call may or may not be visited, and a visited value may be any value the
// key held during the call.
//
// Range walks the table current when it starts; a table replaced by a grow
// is never written again. Each chain is copied under one validation of its
// sequence counter (or, after a few lost tries, under its lock), and f is
// called from the copy with no lock held.
func (m *Map[K, V]) Range(f func(key K, value V) bool) {
	t := m.table.Load()
	var buf []uint64 // one chain's slots: key and value words
	for i := range uint64(t.nbuckets()) {
		root := t.root(i)
		seq := word(root, 0)
		copied := false
		for range m.retries {
			w0 := atomic.LoadUint64(seq)
			if w0&1 != 0 {
				continue
			}
			buf = t.copyChain(buf[:0], root, w0)
			if uint32(atomic.LoadUint64(seq)) == uint32(w0) {
				copied = true
				break
			}
		}
		if !copied {
			m.lockedReads.Add(1)
			mu := t.lockOf(i)
			mu.Lock()
			buf = t.copyChain(buf[:0], root, atomic.LoadUint64(seq))
			mu.Unlock()
		}
		for j := 0; j < len(buf); j += t.sw {
			var (
				k K
				v V
			)
			if t.kw > 0 {
				k = load[K](unsafe.Pointer(&buf[j]), t.kw)
			}
			if t.vw > 0 {
				v = load[V](unsafe.Pointer(&buf[j+t.kw]), t.vw)
			}
			if !f(k, v) {
				return
			}
		}
	}
}

// copyChain appends the key and value words of every occupied slot of the
// chain at root, whose word 0 read w0, to buf.
func (t *table) copyChain(buf []uint64, root unsafe.Pointer, w0 uint64) []uint64 {
	b := root
	for {
		for w := atomic.LoadUint64(word(b, 1)) & occupiedBits; w != 0; w &= w - 1 {
			p := t.keyAt(b, slotOf(w))
			for k := range t.sw {
				buf = append(buf, atomic.LoadUint64(word(p, k)))
			}
		}
		n := w0 >> 32
		if n == 0 {
			return buf
		}
		b = t.overflow(n)
		w0 = atomic.LoadUint64(word(b, 0))
	}
}

// maybeShrink starts a shrink if t is at most shrinkLoad full.
func (m *Map[K, V]) maybeShrink(t *table) {
	if t.nbuckets() <= defaultMinBuckets ||
		float64(t.size()) > float64(t.nbuckets())*slotsPerBucket*shrinkLoad {
		return
	}
	m.startResize(t, resizeShrink)
}

// startResize replaces t by a larger, smaller or empty table, or helps the
// resize already running. It reports whether it replaced t itself.
func (m *Map[K, V]) startResize(t *table, kind resizeKind) bool {
	if r := m.resizing.Load(); r != nil {
		m.help(r)
		return false
	}
	n := defaultMinBuckets // resizeClear
	switch kind {
	case resizeGrow:
		n = 2 * t.nbuckets()
	case resizeShrink:
		n = max(defaultMinBuckets, bucketsFor(t.size(), targetLoad))
		if n >= t.nbuckets() {
			return false
		}
	}
	base := min(t.nbuckets(), n)
	if kind == resizeClear {
		base = t.nbuckets()
	}
	chunks := int64((base + transferChunk - 1) / transferChunk)
	r := &resize{
		from:   t,
		to:     newTable(n, t.kw, t.vw, t.hasher),
		kind:   kind,
		chunks: chunks,
		done:   make(chan struct{}),
	}
	r.next.Store(chunks) // closed until checked below
	r.left.Store(chunks)
	if !m.resizing.CompareAndSwap(nil, r) {
		if r := m.resizing.Load(); r != nil {
			m.help(r)
		}
		return false
	}
	if m.table.Load() != t {
		// Another resize finished between our decision and our claim.
		m.resizing.Store(nil)
		close(r.done)
		return false
	}
	r.next.Store(0)
	m.help(r)
	return true
}

// help copies chunks of r until none is left to claim, then waits for r to
// be published.
func (m *Map[K, V]) help(r *resize) {
	for {
		c := r.next.Add(1) - 1
		if c >= r.chunks {
			break
		}
		if n := m.copyChunk(r, c); n != 0 {
			r.to.addSize(uint64(c), n)
		}
		if r.left.Add(-1) == 0 {
			m.table.Store(r.to)
			m.resizes.Add(1)
			m.resizing.Store(nil)
			close(r.done)
			return
		}
	}
	<-r.done
}

// copyChunk copies chunk c of r.from into r.to and returns the number of
// entries it copied. A chunk is a range of chain indices in the smaller of
// the two tables; every source chain whose entries land in those
// destination chains belongs to the chunk (source chain i lands in
// destination chain i&r.to.mask), so no two helpers write one destination
// chain. Each source chain is copied under its lock, so a writer that
// locked it before the resize began finishes first, and none writes it
// after. A clear copies nothing but still locks every source chain once.
func (m *Map[K, V]) copyChunk(r *resize, c int64) int64 {
	from, to := r.from, r.to
	base := uint64(min(from.nbuckets(), to.nbuckets()))
	if r.kind == resizeClear {
		base = uint64(from.nbuckets())
	}
	start := uint64(c) * transferChunk
	end := min(start+transferChunk, base)
	var copied int64
	for i := start; i < end; i++ {
		for src := i; src < uint64(from.nbuckets()); src += base {
			mu := from.lockOf(src)
			mu.Lock()
			if r.kind != resizeClear {
				for b := from.root(src); b != nil; b = from.next(b) {
					for w := atomic.LoadUint64(word(b, 1)) & occupiedBits; w != 0; w &= w - 1 {
						p := from.keyAt(b, slotOf(w))
						to.insertUnlocked(p, hashKey(&to.hasher, load[K](p, from.kw)))
						copied++
					}
				}
			}
			mu.Unlock()
		}
	}
	return copied
}

// noCopy may be embedded in structs that must not be copied after first
// use; go vet's copylocks check reports copies.
type noCopy struct{}

// Lock is a no-op used by go vet's copylocks check.
func (*noCopy) Lock() {}

// Unlock is a no-op used by go vet's copylocks check.
func (*noCopy) Unlock() {}

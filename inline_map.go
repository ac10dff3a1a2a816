package mapguard

import (
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The inline representation: when neither K nor V holds pointers and a key
// and value fit in inlMaxWords words, a Map stores them in its table's
// []uint64 words (inline.go) instead of in entry objects. The GC never
// scans that memory and a write allocates nothing.
//
// # Seqlock protocol
//
// A writer locks the chain's stripe, then for each change: increments the
// root bucket's counter (odd), stores the words with atomic stores,
// increments it again (even). A reader loads the counter, skips the try if
// it is odd, loads the tags, keys and value with atomic loads, reloads the
// counter and keeps the result only if it is unchanged; Go's atomics are
// sequentially consistent, so no other fence is needed. Keys are compared
// with == on K (never word by word: floats and struct padding), and a
// value read during a try is only returned once validated. After
// inlReadRetries failed tries a reader takes the chain's lock and reads
// under it, so readers progress behind a stream of writers of one chain.
//
// Compute, LoadOrCompute and the compare operations decide under the
// chain's lock before the counter goes odd: the callback or comparison
// runs first, then the words are written inside one odd-even pair, and the
// unlock is deferred. A panicking callback thus leaves the chain
// unchanged, its counter even and its lock free.
//
// Iteration copies a whole chain under one validation (or its lock), then
// yields from the copy with no lock held: each key is in one chain, so it
// is visited at most once, and a key present throughout is in that copy.
// It walks the table current when it starts; a resize freezes that table
// (every chain is copied under its lock, and no writer touches it after),
// so the walk finishes on a consistent, frozen table.

// inlineEligible reports whether a Map[K, V] stores its keys and values
// inline: neither holds pointers, and together they take at most
// inlMaxWords words.
func inlineEligible[K comparable, V any]() bool {
	return pointerFree(reflect.TypeFor[K]()) && pointerFree(reflect.TypeFor[V]()) &&
		inlWords[K]()+inlWords[V]() <= inlMaxWords
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

// inlWords returns the size of T in 8-byte words, rounded up. Each
// instantiation has a fixed size, so the compiler folds it to a constant
// and the loops below to straight-line code.
func inlWords[T any]() int {
	var v T
	return int((unsafe.Sizeof(v) + 7) / 8)
}

// cell holds a T with room after it, so that reading or writing T's words
// (its size rounded up to 8 bytes) stays inside one object.
type cell[T any] struct {
	v T
	_ uint64
}

// loadWords returns the T in the words at p, each read atomically. A read
// racing a writer may return a torn T; callers use it only once the
// chain's sequence counter has validated the read, or under its lock.
func loadWords[T any](p unsafe.Pointer) T {
	var c cell[T]
	switch n := inlWords[T](); n {
	case 0:
	case 1:
		*(*uint64)(unsafe.Pointer(&c)) = atomic.LoadUint64((*uint64)(p))
	default:
		for i := range n {
			*word(unsafe.Pointer(&c), i) = atomic.LoadUint64(word(p, i))
		}
	}
	return c.v
}

// storeWords writes v into the words at p, each atomically.
func storeWords[T any](p unsafe.Pointer, v T) {
	c := cell[T]{v: v}
	switch n := inlWords[T](); n {
	case 0:
	case 1:
		atomic.StoreUint64((*uint64)(p), *(*uint64)(unsafe.Pointer(&c)))
	default:
		for i := range n {
			atomic.StoreUint64(word(p, i), *word(unsafe.Pointer(&c), i))
		}
	}
}

// inl returns the map's inline table, or nil if the map stores entry
// pointers. On a map not yet used it decides the representation, once:
// inline if K and V allow it, else the entry table, which it installs.
func (m *Map[K, V]) inl() *inlTable {
	if it := m.itab.Load(); it != nil {
		return it
	}
	if m.table.Load() != nil {
		return nil
	}
	if m.cfg.entries || !inlineEligible[K, V]() {
		m.initSlow()
		return nil
	}
	h := newHasher[K]()
	if m.collide {
		h.kind = hashCollide
	}
	m.itab.CompareAndSwap(nil, newInlTable(m.cfg.inlMinBuckets(), inlWords[K](), inlWords[V](), h))
	return m.itab.Load()
}

// inlHash hashes key for the inline table it, with the commonest kind
// written out as Load's is.
func inlHash[K comparable](it *inlTable, key K) uint64 {
	if it.hasher.kind == hash64 {
		return mixInt(it.hasher.intSeed, *(*uint64)(unsafe.Pointer(&key)))
	}
	return hashKey(&it.hasher, key)
}

// inlProbe looks key up in the chain that starts at root, whose word 0 read
// w0, with atomic loads only. Its result is meaningful only if the chain's
// sequence counter shows no write overlapped it, or the caller holds the
// chain's lock. It returns the bucket and slot holding key, or nil.
func inlProbe[K comparable](t *inlTable, root unsafe.Pointer, w0 uint64, tag uint8, key K) (unsafe.Pointer, int) {
	b := root
	for {
		for w := inlMatchTag(atomic.LoadUint64(word(b, 1)), tag); w != 0; w &= w - 1 {
			s := slotOf(w)
			if loadWords[K](t.keyAt(b, s)) == key {
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

// loadSlow is Load on a map with no entry table: an inline map, or one not
// used yet. It is inlLookup written out with the table geometry taken from
// K and V, which the compiler folds to constants: Load is the hottest
// path, and the calls and multiplications cost as much as a cache miss.
func (m *Map[K, V]) loadSlow(key K) (value V, ok bool) {
	t := m.itab.Load()
	if t == nil {
		if w := m.sample.Load(); w != 0 && sampled(0, w) {
			m.observe(w, OpLoad, false) // no table, no hasher: the sample takes h = 0
		}
		return value, false
	}
	var h uint64
	if t.hasher.kind == hash64 {
		h = mixInt(t.hasher.intSeed, *(*uint64)(unsafe.Pointer(&key)))
	} else {
		h = hashKey(&t.hasher, key)
	}
	kw, sw := inlWords[K](), inlSlotWords[K, V]()
	idx := t.indexOf(h)
	root := unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.words)), uintptr(idx)*uintptr(inlHdrWords+inlSlots*sw)*8)
	tag := tagOf(h)
	for range inlReadRetries {
		w0 := atomic.LoadUint64((*uint64)(root))
		if w0&1 != 0 {
			continue // a write is open
		}
		b, link := root, w0>>32
	probe:
		for {
			for w := inlMatchTag(atomic.LoadUint64(word(b, 1)), tag); w != 0; w &= w - 1 {
				p := unsafe.Add(b, uintptr(inlHdrWords+slotOf(w)*sw)*8)
				if loadWords[K](p) == key {
					value, ok = loadWords[V](unsafe.Add(p, uintptr(kw)*8)), true
					break probe
				}
			}
			if link == 0 {
				break
			}
			b = t.overflow(link)
			link = atomic.LoadUint64((*uint64)(b)) >> 32
		}
		if uint32(atomic.LoadUint64((*uint64)(root))) == uint32(w0) {
			if w := m.sample.Load(); w != 0 && sampled(h, w) {
				m.observe(w, OpLoad, ok)
			}
			return value, ok
		}
		value, ok = *new(V), false
	}
	value, ok = m.inlLookup(t, h, key)
	if w := m.sample.Load(); w != 0 && sampled(h, w) {
		m.observe(w, OpLoad, ok)
	}
	return value, ok
}

// inlSlotWords returns the words of one slot of Map[K, V]'s inline table:
// a key's and a value's, or 1 if both are empty (so that the slots of a
// chain copy stay apart in Range). It is a constant in each instantiation;
// newInlTable computes the same from kw and vw.
func inlSlotWords[K comparable, V any]() int {
	return max(inlWords[K]()+inlWords[V](), 1)
}

// inlLookup returns the value of key, whose hash is h, in the inline table
// t, reading optimistically with no lock; after inlReadRetries reads that
// writers invalidated, it reads under the chain's lock, which excludes
// them. A frozen table's locks are still free to take.
func (m *Map[K, V]) inlLookup(t *inlTable, h uint64, key K) (value V, ok bool) {
	idx := t.indexOf(h)
	root := t.root(idx)
	tag := tagOf(h)
	seq := word(root, 0)
	for range inlReadRetries {
		w0 := atomic.LoadUint64(seq)
		if w0&1 != 0 {
			continue // a write is open
		}
		b, s := inlProbe(t, root, w0, tag, key)
		if b != nil {
			value = loadWords[V](t.valueAt(b, s))
		}
		if uint32(atomic.LoadUint64(seq)) == uint32(w0) {
			return value, b != nil
		}
		value = *new(V)
	}
	m.lockedReads.Add(1)
	mu := t.lockOf(idx)
	mu.Lock()
	b, s := inlProbe(t, root, atomic.LoadUint64(seq), tag, key)
	if b != nil {
		value = loadWords[V](t.valueAt(b, s))
	}
	mu.Unlock()
	return value, b != nil
}

// inlLockChain locks the chain for hash h in the current inline table,
// helping any resize in progress first, and returns the table and the
// chain's index. Holding the lock with no resize running means the write
// lands in the current table: a resize installs m.iresizing before
// copying, and copies each chain under its lock.
func (m *Map[K, V]) inlLockChain(h uint64) (t *inlTable, idx uint64) {
	for {
		t = m.itab.Load()
		idx = t.indexOf(h)
		mu := t.lockOf(idx)
		mu.Lock()
		if m.iresizing.Load() == nil && m.itab.Load() == t {
			return t, idx
		}
		mu.Unlock()
		if r := m.iresizing.Load(); r != nil {
			m.inlHelp(r)
		}
	}
}

// inlWrite stores value for key, whose hash is h; if onlyIfAbsent is set
// and key is present, it leaves it. It returns the value key held before
// and whether it held one. It is inlMutate specialised for the commonest
// writes: no request, no decision, no deferred unlock (nothing between Lock
// and Unlock calls user code; a key that cannot be hashed already
// panicked).
func (m *Map[K, V]) inlWrite(key K, h uint64, value V, onlyIfAbsent bool) (prev V, loaded bool) {
	tag := tagOf(h)
	for {
		t, idx := m.inlLockChain(h)
		root := t.root(idx)
		// Under the lock no one else writes the chain: its words are
		// read with atomic loads only because readers load them too.
		var (
			eb   unsafe.Pointer // first empty slot, if any
			es   int
			last = root
		)
		for b := root; b != nil; b = t.next(b) {
			meta := atomic.LoadUint64(word(b, 1))
			for w := inlMatchTag(meta, tag); w != 0; w &= w - 1 {
				s := slotOf(w)
				if loadWords[K](t.keyAt(b, s)) == key {
					prev = loadWords[V](t.valueAt(b, s))
					if !onlyIfAbsent {
						inlOverwrite(root, t.valueAt(b, s), value)
					}
					t.lockOf(idx).Unlock()
					return prev, true
				}
			}
			if eb == nil {
				if w := inlEmptyIn(b, root, meta); w != 0 {
					eb, es = b, slotOf(w)
				}
			}
			last = b
		}
		if eb == nil && t.mustGrow() {
			t.lockOf(idx).Unlock()
			m.inlStartResize(t, resizeGrow)
			continue
		}
		if eb != nil {
			inlInsertLocked(t, root, eb, es, last, tag, key, value)
		} else {
			inlInsertOverflow(t, t.lockOf(idx), root, last, tag, key, value)
		}
		t.lockOf(idx).Unlock()
		t.addSize(1)
		return prev, false
	}
}

// inlLoadAndDelete is LoadAndDelete on the inline table it: an absent key
// is detected without taking a lock.
func (m *Map[K, V]) inlLoadAndDelete(it *inlTable, key K) (value V, loaded bool) {
	h := inlHash(it, key)
	if _, ok := m.inlLookup(it, h, key); !ok {
		return value, false
	}
	return m.inlDelete(key, h)
}

// inlDelete deletes key, whose hash is h, and returns its value and
// whether it was present. Like inlWrite it is inlMutate specialised, with
// no deferred unlock because nothing between Lock and Unlock can panic.
func (m *Map[K, V]) inlDelete(key K, h uint64) (prev V, loaded bool) {
	t, idx := m.inlLockChain(h)
	root := t.root(idx)
	tag := tagOf(h)
	for b := root; b != nil; b = t.next(b) {
		meta := atomic.LoadUint64(word(b, 1))
		for w := inlMatchTag(meta, tag); w != 0; w &= w - 1 {
			s := slotOf(w)
			if loadWords[K](t.keyAt(b, s)) == key {
				prev = loadWords[V](t.valueAt(b, s))
				meta = setTag(meta, s, 0)
				inlClearTag(b, meta)
				t.lockOf(idx).Unlock()
				t.addSize(-1)
				if meta == 0 && !m.cfg.growOnly {
					m.inlMaybeShrink(t)
				}
				return prev, true
			}
		}
	}
	t.lockOf(idx).Unlock()
	return prev, false
}

// inlClearTag deletes a key of bucket b by storing b's tag word meta, in
// which the key's tag is cleared. It must be called with the chain's lock
// held. The delete needs no sequence bump: it leaves the slot's words as
// they are, so a reader that matched the tag before the store and reads
// the key and value after it reads the deleted pair whole, a read that
// overlapped the delete and may take effect before it. The words change
// only when an insert reuses the slot, and inserts bump the counter, so a
// reader still on the old tag then fails its validation. One fenced store
// instead of three (on amd64 each is an XCHG).
func inlClearTag(b unsafe.Pointer, meta uint64) {
	atomic.StoreUint64(word(b, 1), meta)
}

// inlOverwrite stores v at p, the value of a present key of the chain at
// root. It must be called with the chain's lock held.
func inlOverwrite[V any](root, p unsafe.Pointer, v V) {
	if inlWords[V]() <= 1 {
		// One word is stored atomically: a reader sees the old value or
		// the new, each the key's value at some instant of its read, so
		// the write needs no sequence bump (saving two fenced stores on
		// amd64). The key's words and tag do not change.
		storeWords(p, v)
		return
	}
	inlBumpSeq(root)
	storeWords(p, v)
	inlBumpSeq(root)
}

// inlInsertLocked puts key and value into slot es of bucket eb of the chain
// at root, or, if eb is nil, into a new overflow bucket linked after last.
// It must be called with the chain's lock held.
func inlInsertLocked[K comparable, V any](t *inlTable, root, eb unsafe.Pointer, es int, last unsafe.Pointer, tag uint8, key K, value V) {
	if eb != nil {
		inlBumpSeq(root)
		storeWords(t.keyAt(eb, es), key)
		storeWords(t.valueAt(eb, es), value)
		w := word(eb, 1)
		atomic.StoreUint64(w, setTag(atomic.LoadUint64(w), es, tag))
		inlBumpSeq(root)
		return
	}
	// The new bucket is filled before it is linked; the link is the one
	// store readers can see, still inside a write.
	link, nb := t.newOverflow()
	storeWords(t.keyAt(nb, 0), key)
	storeWords(t.valueAt(nb, 0), value)
	atomic.StoreUint64(word(nb, 1), uint64(tag))
	inlBumpSeq(root)
	inlSetNext(last, link)
	inlBumpSeq(root)
}

// inlInsertOverflow is inlInsertLocked into a new overflow bucket for a
// caller without a deferred unlock: making the bucket can panic (2^32
// overflow buckets in one table, or a segment too large for an int on a
// 32-bit machine), and then it releases the chain's lock mu, so a caller
// that recovers finds the map usable. Nothing is written before that point.
func inlInsertOverflow[K comparable, V any](t *inlTable, mu *sync.Mutex, root, last unsafe.Pointer, tag uint8, key K, value V) {
	done := false
	defer func() {
		if !done {
			mu.Unlock()
		}
	}()
	inlInsertLocked(t, root, nil, 0, last, tag, key, value)
	done = true
}

// inlRequest carries an operation and its arguments into inlMutate.
type inlRequest[V any] struct {
	op      op
	value   V
	old     V
	compute func(old V, loaded bool) (V, ComputeOp)
	create  func() (V, bool)
	// raw, for opDeleteEntry, is the value's words as an iteration saw
	// them: the key is deleted only if its value's words are unchanged.
	raw *[inlMaxWords]uint64
}

// mayInsert reports whether the operation can create an absent key.
func (r *inlRequest[V]) mayInsert() bool {
	return r.op == opCompute || r.op == opLoadOrCompute
}

// inlMutate applies req to key, whose hash is h, and returns the
// operation's two results, whose meaning depends on req.op (see each
// caller).
func (m *Map[K, V]) inlMutate(key K, h uint64, req *inlRequest[V]) (V, bool) {
	for {
		t, idx := m.inlLockChain(h)
		v, ok, delta, out := m.inlMutateLocked(t, idx, h, key, req)
		if delta != 0 {
			t.addSize(delta)
		}
		switch out {
		case outShrink:
			m.inlMaybeShrink(t)
			return v, ok
		case outGrow:
			m.inlStartResize(t, resizeGrow)
		default:
			return v, ok
		}
	}
}

// inlMutateLocked does the part of inlMutate that runs with chain idx of t
// locked, and releases the lock. The deferred unlock keeps the lock from
// leaking when a user callback or a value comparison panics; nothing is
// written, and the sequence counter is not touched, before those return,
// so a panic leaves the chain as it was and its counter even.
func (m *Map[K, V]) inlMutateLocked(t *inlTable, idx, h uint64, key K, req *inlRequest[V]) (res V, ok bool, delta int64, out outcome) {
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
		for w := inlMatchTag(meta, tag); w != 0; w &= w - 1 {
			s := slotOf(w)
			if loadWords[K](t.keyAt(b, s)) == key {
				fb, fs, foundMeta = b, s, meta
				break search
			}
		}
		if eb == nil {
			if w := inlEmptyIn(b, root, meta); w != 0 {
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
	var old V
	same := false
	if fb != nil {
		old = loadWords[V](t.valueAt(fb, fs))
		if req.op == opDeleteEntry {
			same = true
			p := t.valueAt(fb, fs)
			for i := range inlWords[V]() {
				if atomic.LoadUint64(word(p, i)) != req.raw[i] {
					same = false
					break
				}
			}
		}
	}
	res, ok, newValue, set, del := decide(req.op, fb != nil, old, req.value, req.old, req.compute, req.create, same)

	switch {
	case del:
		meta := setTag(foundMeta, fs, 0)
		inlClearTag(fb, meta)
		if meta == 0 && !m.cfg.growOnly {
			out = outShrink
		}
		return res, ok, -1, out
	case set && fb != nil:
		inlOverwrite(root, t.valueAt(fb, fs), newValue)
	case set:
		inlInsertLocked(t, root, eb, es, last, tag, key, newValue)
		return res, ok, 1, outDone
	}
	return res, ok, 0, outDone
}

// inlRange calls f for each key and value of the inline table current at
// the start, until f returns false; if raw is set, it is filled with each
// value's words before f is called (for DeleteFunc). Each chain is copied
// under one validation of its sequence counter (or, after a few lost
// tries, under its lock), and f is called from the copy with no lock held.
func (m *Map[K, V]) inlRange(f func(K, V) bool, raw *[inlMaxWords]uint64) {
	t := m.itab.Load()
	if t == nil {
		return
	}
	kw, vw := inlWords[K](), inlWords[V]()
	// buf holds one chain's slots, key and value words: on the stack for
	// a chain of up to 64 words (four full buckets of one-word keys and
	// values), so that a walk of a map without longer chains allocates
	// nothing.
	var stack [64]uint64
	buf := stack[:0]
	for i := range uint64(t.nbuckets()) {
		root := t.root(i)
		seq := word(root, 0)
		copied := false
		for range inlReadRetries {
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
			// buf is this goroutine's copy: plain reads, which also need
			// no 8-byte alignment (a 386 stack gives 4).
			if kw > 0 {
				k = *(*K)(unsafe.Pointer(&buf[j]))
			}
			if vw > 0 {
				v = *(*V)(unsafe.Pointer(&buf[j+kw]))
			}
			if raw != nil {
				copy(raw[:], buf[j+kw:j+kw+vw])
			}
			if !f(k, v) {
				return
			}
		}
	}
}

// copyChain appends the key and value words of every occupied slot of the
// chain at root, whose word 0 read w0, to buf.
func (t *inlTable) copyChain(buf []uint64, root unsafe.Pointer, w0 uint64) []uint64 {
	sw := t.sw
	b := root
	for {
		for w := atomic.LoadUint64(word(b, 1)) & inlOccupied; w != 0; w &= w - 1 {
			// t.keyAt(b, slotOf(w)) with t.sw read once, as inlLookup
			// computes it: a call to keyAt here made
			// BenchmarkRangeParallel (1,000 int keys) 8% slower.
			p := unsafe.Add(b, uintptr(inlHdrWords+slotOf(w)*sw)*8)
			if sw == 2 { // a one-word key and a one-word value, the commonest
				buf = append(buf, atomic.LoadUint64((*uint64)(p)), atomic.LoadUint64(word(p, 1)))
				continue
			}
			for k := range sw {
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

// inlDeleteFunc is DeleteFunc on the inline table: an entry is deleted only
// if its value's words are still those del was shown.
func (m *Map[K, V]) inlDeleteFunc(del func(key K, value V) bool) int {
	n := 0
	var raw [inlMaxWords]uint64
	m.inlRange(func(k K, v V) bool {
		if del(k, v) {
			shown := raw // inlRange refills raw before the next call
			if _, ok := m.inlMutate(k, inlHash(m.itab.Load(), k), &inlRequest[V]{op: opDeleteEntry, raw: &shown}); ok {
				n++
			}
		}
		return true
	}, &raw)
	return n
}

// inlMaybeShrink starts a shrink if t is at most shrinkLoad full.
func (m *Map[K, V]) inlMaybeShrink(t *inlTable) {
	if t.nbuckets() <= m.cfg.inlMinBuckets() ||
		float64(t.size()) > float64(t.nbuckets())*inlSlots*shrinkLoad {
		return
	}
	m.inlStartResize(t, resizeShrink)
}

// inlStartResize replaces t by a larger, smaller or empty table, or helps
// the resize already running. It reports whether it replaced t itself.
func (m *Map[K, V]) inlStartResize(t *inlTable, kind resizeKind) bool {
	if r := m.iresizing.Load(); r != nil {
		m.inlHelp(r)
		return false
	}
	var n int
	switch kind {
	case resizeGrow:
		n = 2 * t.nbuckets()
	case resizeShrink:
		n = max(m.cfg.inlMinBuckets(), inlBucketsFor(t.size(), targetLoad))
		if n >= t.nbuckets() {
			return false
		}
	case resizeClear:
		n = m.cfg.inlMinBuckets()
		if m.cfg.growOnly {
			n = t.nbuckets()
		}
	}
	base := min(t.nbuckets(), n)
	if kind == resizeClear {
		base = t.nbuckets()
	}
	return claimResize(&m.itab, &m.iresizing, newResize(t, newInlTable(n, t.kw, t.vw, t.hasher), kind, base), m.inlHelp)
}

// inlHelp copies chunks of r until none is left to claim, then waits for r
// to be published.
func (m *Map[K, V]) inlHelp(r *resize[inlTable]) {
	runResize(r, &m.itab, &m.iresizing, func(c int64) {
		if n := inlCopyChunk[K](r, c); n != 0 {
			r.to.addSize(n)
		}
	}, m.countResize)
}

// inlCopyChunk copies chunk c of r.from into r.to and returns the number
// of entries it copied. A chunk is a range of chain indices in the smaller
// of the two tables; every source chain whose entries land in those
// destination chains belongs to the chunk (source chain i lands in
// destination chain i&r.to.mask), so no two helpers write one destination
// chain. Each source chain is copied under its lock, so a writer that
// locked it before the resize began finishes first, and none writes it
// after. A clear copies nothing but still locks every source chain once.
func inlCopyChunk[K comparable](r *resize[inlTable], c int64) int64 {
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
					for w := atomic.LoadUint64(word(b, 1)) & inlOccupied; w != 0; w &= w - 1 {
						p := from.keyAt(b, slotOf(w))
						to.insertUnlocked(p, hashKey(&to.hasher, loadWords[K](p)))
						copied++
					}
				}
			}
			mu.Unlock()
		}
	}
	return copied
}

// inlStats fills the table fields of s from the inline table t.
func (t *inlTable) stats(s *Stats) {
	s.Inline = true
	s.Entries = t.size()
	s.Buckets = t.nbuckets()
	t.ovfMu.Lock()
	s.OverflowBuckets = int(t.novf)
	t.ovfMu.Unlock()
	s.Capacity = int(float64(s.Buckets) * inlSlots * maxLoad)
	s.LoadFactor = float64(s.Entries) / float64(s.Buckets*inlSlots)
	s.SizeStripes = len(t.stripes)
}

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
// Memory model: a write operation (Store, Delete, LoadOrStore when it
// stores) synchronizes before any read operation (Load, LoadOrStore,
// Range for each entry it visits, Len) that observes its effect.
//
// Cost: Load takes no lock, writes nothing and allocates nothing unless
// writers keep invalidating its read of the key's chain, in which case it
// takes the chain's lock after a few tries. Store, Delete and LoadOrStore
// lock one chain and allocate nothing, except an overflow segment now and
// then and the table on a grow. Len is O(1).
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
					switch {
					case onlyIfAbsent:
					case t.vw <= 1:
						// One word is stored atomically: a reader sees
						// the old value or the new, each the key's value
						// at some instant of its read, so the write
						// needs no sequence bump (saving two fenced
						// stores on amd64). The key's words and tag do
						// not change.
						store(t.valueAt(b, s), value, t.vw)
					default:
						bumpSeq(root)
						store(t.valueAt(b, s), value, t.vw)
						bumpSeq(root)
					}
					t.lockOf(idx).Unlock()
					return prev, true
				}
			}
			if eb == nil {
				if w := emptySlots(meta); w != 0 {
					eb, es = b, slotOf(w)
				}
			}
			last = b
			b = t.next(b)
		}
		if eb == nil && t.mustGrow() {
			t.lockOf(idx).Unlock()
			m.grow(t)
			continue
		}
		if eb != nil {
			bumpSeq(root)
			store(t.keyAt(eb, es), key, t.kw)
			store(t.valueAt(eb, es), value, t.vw)
			w := word(eb, 1)
			atomic.StoreUint64(w, setTag(atomic.LoadUint64(w), es, tag))
			bumpSeq(root)
		} else {
			// The new bucket is filled before it is linked; the link is
			// the one store readers can see, still inside a write.
			link, nb := t.newOverflow()
			store(t.keyAt(nb, 0), key, t.kw)
			store(t.valueAt(nb, 0), value, t.vw)
			atomic.StoreUint64(word(nb, 1), uint64(tag))
			bumpSeq(root)
			setNext(last, link)
			bumpSeq(root)
		}
		t.lockOf(idx).Unlock()
		t.addSize(idx, 1)
		return prev, false
	}
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
	if _, ok := m.Load(key); !ok {
		return
	}
	h := hashKey(&m.table.Load().hasher, key)
	tag := tagOf(h)
	t, idx := m.lockChain(h)
	defer t.lockOf(idx).Unlock()
	root := t.root(idx)
	for b := root; b != nil; b = t.next(b) {
		meta := atomic.LoadUint64(word(b, 1))
		for w := matchTag(meta, tag); w != 0; w &= w - 1 {
			s := slotOf(w)
			if load[K](t.keyAt(b, s), t.kw) == key {
				// Clearing the tag is the delete; the slot's words stay
				// until an insert reuses them, inside its own write.
				bumpSeq(root)
				atomic.StoreUint64(word(b, 1), setTag(meta, s, 0))
				bumpSeq(root)
				t.addSize(idx, -1)
				return
			}
		}
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

// grow replaces t by a table twice its size, or helps the grow already
// running.
func (m *Map[K, V]) grow(t *table) {
	if r := m.resizing.Load(); r != nil {
		m.help(r)
		return
	}
	n := t.nbuckets()
	chunks := int64((n + transferChunk - 1) / transferChunk)
	r := &resize{
		from:   t,
		to:     newTable(2*n, t.kw, t.vw, t.hasher),
		chunks: chunks,
		done:   make(chan struct{}),
	}
	r.next.Store(chunks) // closed until checked below
	r.left.Store(chunks)
	if !m.resizing.CompareAndSwap(nil, r) {
		if r := m.resizing.Load(); r != nil {
			m.help(r)
		}
		return
	}
	if m.table.Load() != t {
		// Another grow finished between our decision and our claim.
		m.resizing.Store(nil)
		close(r.done)
		return
	}
	r.next.Store(0)
	m.help(r)
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
			m.resizing.Store(nil)
			close(r.done)
			return
		}
	}
	<-r.done
}

// copyChunk copies the chains of chunk c of r.from into r.to and returns the
// number of entries copied. Source chain i lands in destination chains i
// and i+len(from), which no other chunk writes. Each source chain is copied
// under its lock, so a writer that locked it before the grow began finishes
// first, and none writes it after.
func (m *Map[K, V]) copyChunk(r *resize, c int64) int64 {
	from, to := r.from, r.to
	start := uint64(c) * transferChunk
	end := min(start+transferChunk, uint64(from.nbuckets()))
	var copied int64
	for i := start; i < end; i++ {
		mu := from.lockOf(i)
		mu.Lock()
		for b := from.root(i); b != nil; b = from.next(b) {
			for w := atomic.LoadUint64(word(b, 1)) & occupiedBits; w != 0; w &= w - 1 {
				p := from.keyAt(b, slotOf(w))
				to.insertUnlocked(p, hashKey(&to.hasher, load[K](p, from.kw)))
				copied++
			}
		}
		mu.Unlock()
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

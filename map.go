package mapguard

import (
	"fmt"
	"hash/maphash"
	"iter"
	"reflect"
	"sync/atomic"
	"unsafe"
)

// Map is a concurrent hash map from K to V, like a Go map[K]V that is safe
// for concurrent use by multiple goroutines without additional locking.
// Its methods carry sync.Map's names and results, plus xsync-style
// extensions (Compute, LoadOrCompute, Size, All, Clear).
//
// The zero value is an empty map ready to use. A Map must not be copied
// after first use (go vet reports copies).
//
// Memory model: in the terminology of the Go memory model, Map arranges
// that a write operation "synchronizes before" any read operation that
// observes the effect of the write, as sync.Map does, where:
//   - Load, LoadOrStore, LoadAndStore, Swap, LoadAndDelete, CompareAndSwap,
//     CompareAndDelete, LoadOrCompute, Compute and DeleteFunc are read
//     operations, and so are Range, All, Keys, Values and MarshalJSON for
//     each entry they visit, and Size;
//   - Store, LoadAndStore, Swap, Delete and LoadAndDelete are write
//     operations, and so are Clear and UnmarshalJSON;
//   - LoadOrStore is a write operation when it returns loaded set to
//     false; LoadOrCompute when it stores (loaded false and its function
//     did not cancel); CompareAndSwap when it returns swapped set to true; CompareAndDelete when it returns deleted set to true; Compute
//     when its function returns UpdateOp, or DeleteOp on a present key;
//     DeleteFunc for each entry it deletes.
//
// Representation: when neither K nor V holds pointers (integers, floats,
// bools, and arrays and structs of them) and a key and value together fit
// in 64 bytes, the map stores them inline in its table, in memory that the
// GC never scans, and a write allocates nothing. Otherwise each key and
// value live in an immutable entry object that the table points to. The
// choice is made once per map, on first use; [Map.Stats] reports it. The
// API and guarantees below hold for both.
//
// Cost: Load takes no lock and allocates nothing; it hashes the key and
// reads one bucket (rarely more: chains are short), and with entry
// objects follows one pointer. Inline, it reads the bucket's words under
// a sequence counter and retries if a writer changed the bucket meanwhile;
// after four such retries it reads under the bucket's lock (counted in
// Stats.LockedReads), so that readers of a key written without pause
// still progress. Writes lock only the key's bucket; with entry objects
// each allocates one entry. Size is O(GOMAXPROCS). Growing and shrinking
// copy the table in chunks that all writers arriving during the resize
// share; readers and iterators are never blocked by it.
//
// Iteration (Range, All, Keys, Values) calls its function with no lock
// held, so writers never wait for it. It visits each key at most once, and
// visits exactly once every key that is present and unchanged for the
// whole iteration. It is not a snapshot: a key stored or deleted during
// the iteration may or may not be visited, and a visited value may be any
// value the key held during the iteration. Inline, it copies each bucket
// chain under its sequence counter, and like Load takes the chain's lock
// for that copy (a few loads) after four retries.
type Map[K comparable, V any] struct {
	_ noCopy

	table    atomic.Pointer[table[K, V]]
	resizing atomic.Pointer[resize[table[K, V]]] // the resize in progress, or nil
	// sample says which Loads and Stores Observe's function sees: 0 for
	// none; else the salt in the high 32 bits and the mask below (the
	// salt is 1 when the mask is 0, so that the word is not 0). It sits
	// next to table: every Load reads both. observer is the function,
	// read by sampled operations only.
	sample   atomic.Uint64
	observer atomic.Pointer[func(op Op, hit bool, weight uint64)]

	// itab is the table of the inline representation (inline_map.go),
	// used instead of table when K and V hold no pointers: at most one of
	// table and itab is ever set, by the first use of the map (inl).
	// iresizing is its resize in progress, and lockedReads counts its
	// reads that gave up on optimistic reads and locked a chain.
	itab        atomic.Pointer[inlTable]
	iresizing   atomic.Pointer[resize[inlTable]]
	lockedReads atomic.Uint64

	// cfg is set by NewMap before the map is shared and never changes.
	cfg     config
	collide bool // test hook: every key hashes alike

	grows, shrinks, clears atomic.Uint64
}

// NewMap returns an empty map configured by opts.
func NewMap[K comparable, V any](opts ...Option) *Map[K, V] {
	m := &Map[K, V]{cfg: newConfig(opts)}
	m.inl()
	return m
}

// init installs the first entry table if there is none and returns the
// current table. Callers have checked that the map does not store its
// entries inline (inl); a SnapshotMap's Map never does.
func (m *Map[K, V]) init() *table[K, V] {
	if t := m.table.Load(); t != nil {
		return t
	}
	return m.initSlow()
}

func (m *Map[K, V]) initSlow() *table[K, V] {
	h := newHasher[K]()
	if m.collide {
		h.kind = hashCollide
	}
	t := newTable[K, V](m.cfg.minBuckets(), h)
	if m.table.CompareAndSwap(nil, t) {
		return t
	}
	return m.table.Load()
}

// Load returns the value stored for key, or the zero value if there is none.
// The ok result reports whether a value was found. Load never allocates.
func (m *Map[K, V]) Load(key K) (value V, ok bool) {
	t := m.table.Load()
	if t == nil {
		return m.loadSlow(key)
	}
	// This is table.hash and a chain probe written out by hand: Load is the
	// hottest path, and the calls cost as much as the probe (about 1 ns of
	// 7 in BenchmarkMicroLoad).
	var h uint64
	switch t.hasher.kind {
	case hash64:
		h = mixInt(t.hasher.intSeed, *(*uint64)(unsafe.Pointer(&key)))
	case hashString:
		h = maphash.String(t.hasher.seed, *(*string)(unsafe.Pointer(&key)))
	default:
		h = hashKey(&t.hasher, key)
	}
	if w := m.sample.Load(); w != 0 && sampled(h, w) {
		// One Load in 2^bits: find's probe (and hash) rather than a third
		// copy of the loop below.
		if e, _ := m.find(key, true); e != nil {
			value, ok = e.value, true
		}
		m.observe(w, OpLoad, ok)
		return value, ok
	}
	tag := tagOf(h)
	for b := t.bucketAt(t.indexOf(h)); b != nil; b = b.next.Load() {
		for w := matchTag(b.meta.Load(), tag); w != 0; w &= w - 1 {
			if e := b.slotAt(slotOf(w)).Load(); e != nil && e.key == key {
				return e.value, true
			}
		}
	}
	return value, false
}

// Op names an operation that Observe reports.
type Op uint8

const (
	// OpLoad is Load; hit reports whether it found its key.
	OpLoad Op = iota
	// OpStore is Store; hit reports whether its key was present (the Store
	// replaced a value rather than adding one).
	OpStore
)

// sampled reports whether the sample word w samples an operation on a key
// whose hash is h.
func sampled(h, w uint64) bool {
	return (uint32(h)^uint32(w>>32))&uint32(w) == 0
}

// observe tells the observer about a sampled operation: which, its hit,
// and how many operations it stands for (2^bits of the sample w).
func (m *Map[K, V]) observe(w uint64, op Op, hit bool) {
	if f := m.observer.Load(); f != nil {
		(*f)(op, hit, uint64(uint32(w))+1)
	}
}

// Observe makes later Loads and Stores call f for a sample of them, with
// the operation, its hit (see Op), and the number of operations each
// stands for, 2^bits. An operation is sampled if its key's hash (the
// map's own, seeded per map) agrees with salt in its low bits bits: one
// key in 2^bits, the same keys for as long as the salt stays, and with
// bits 0 every operation. Each call replaces the observer and the sample
// set before; Observe(nil, 0, 0) removes them. bits above 31 panics. How
// often to change the salt, and how to turn weights into counts, is the
// caller's protocol (the observe package's is in its counting.go).
//
// Only Load and Store report, the two that instrumentation cannot wrap
// cheaply: a wrapper that counts them is a call and a counter write per
// operation, as much as a Load costs. The other methods cost more and can
// be counted by a wrapper. With no observer set, Load and Store pay one
// atomic load; with one, an operation that is not sampled pays that and a
// mask test. f runs on the operation's goroutine, so it must be fast and
// must not use the map; a panic in it propagates to the caller and leaves
// the map as the operation left it.
func (m *Map[K, V]) Observe(f func(op Op, hit bool, weight uint64), bits uint, salt uint64) {
	if bits > 31 {
		panic(fmt.Sprintf("mapguard: Observe: bits %d is above 31", bits))
	}
	if f == nil {
		m.sample.Store(0)
		m.observer.Store(nil)
		return
	}
	mask := uint64(1)<<bits - 1
	if mask == 0 {
		salt = 1 // any salt samples every operation; 1 keeps the word from 0
	}
	m.observer.Store(&f)
	m.sample.Store(uint64(uint32(salt))<<32 | mask)
}

// op is what mutate does with the key it is given.
type op uint8

const (
	opLoadOrStore   op = iota // set only if absent; report the present value
	opCompareSwap             // set only if present and equal to old
	opCompareDelete           // delete only if present and equal to old
	opCompute                 // ask compute
	opLoadOrCompute           // if absent, ask create
	opDeleteEntry             // delete only if the key's entry is still ent (inline: its value's words are still raw)
)

// request carries an operation and its arguments into mutate.
type request[K comparable, V any] struct {
	op      op
	value   V
	old     V
	compute func(old V, loaded bool) (V, ComputeOp)
	create  func() (V, bool)
	ent     *entry[K, V] // opDeleteEntry: the entry to delete
}

// mayInsert reports whether the operation can create an absent key.
func (r *request[K, V]) mayInsert() bool {
	switch r.op {
	case opLoadOrStore, opCompute, opLoadOrCompute:
		return true
	}
	return false
}

// newEntry returns fresh, if set, else a new entry for key and v. fresh
// is {key, value}, allocated before the lock is taken so that the
// allocation does not lengthen the critical section. It is passed beside
// the request, not in it: a request field stored in the table would make
// escape analysis move every request's contents, Compute's function
// included, to the heap.
func newEntry[K comparable, V any](fresh *entry[K, V], key K, v V) *entry[K, V] {
	if fresh != nil {
		return fresh
	}
	return &entry[K, V]{key: key, value: v}
}

// outcome is what the locked part of mutate reports to its caller.
type outcome uint8

const (
	outDone   outcome = iota
	outGrow           // the chain is full and the table is over maxLoad
	outShrink         // a deletion emptied a bucket: maybe shrink
)

// mutate applies req to key, whose hash is h, and returns the operation's
// two results, whose meaning depends on req.op (see each caller).
func (m *Map[K, V]) mutate(key K, h uint64, req *request[K, V], fresh *entry[K, V]) (V, bool) {
	for {
		t, root := m.lockChain(h)
		v, ok, delta, out := m.mutateLocked(t, root, h, key, req, fresh)
		if delta != 0 {
			t.addSize(delta)
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

// mutateLocked does the part of mutate that runs with root.mu held, and
// releases it. The deferred unlock keeps the lock from leaking when a user
// callback or a value comparison panics; nothing is written before those
// return, so a panic leaves the bucket as it was.
func (m *Map[K, V]) mutateLocked(t *table[K, V], root *bucket[K, V], h uint64, key K, req *request[K, V], fresh *entry[K, V]) (res V, ok bool, delta int64, out outcome) {
	defer root.mu.Unlock()
	tag := tagOf(h)
	found, fb, fs, foundMeta, eb, es, last := searchLocked(root, tag, key)

	// An insertion that needs a new overflow bucket in a table over its
	// load grows the table and retries. Decide that before calling any
	// user function, so that fn runs once however often we retry.
	if found == nil && eb == nil && req.mayInsert() && t.mustGrow() {
		return res, false, 0, outGrow
	}

	// Decide. Nothing is written until the decision is made.
	var old V
	if found != nil {
		old = found.value
	}
	res, ok, newValue, set, del := decide(req.op, found != nil, old, req.value, req.old, req.compute, req.create, found != nil && found == req.ent)

	switch {
	case del:
		if clearSlot(fb, fs, foundMeta) == 0 && !m.cfg.growOnly {
			return res, ok, -1, outShrink
		}
		return res, ok, -1, outDone
	case set && found != nil:
		fb.slotAt(fs).Store(newEntry(fresh, key, newValue))
		return res, ok, 0, outDone
	case set:
		t.insertLocked(eb, es, last, tag, newEntry(fresh, key, newValue))
		return res, ok, 1, outDone
	}
	return res, ok, 0, outDone
}

// valuesEqual compares two values of a type that is not statically known to
// be comparable. Callers check comparability first; an interface holding an
// incomparable dynamic value still panics, as == does.
func valuesEqual[V any](a, b V) bool {
	return any(a) == any(b)
}

// decide is the decision of a locked write, shared by both
// representations: given whether the key was found and its value old, it
// returns the operation's results and what to write: set (store newValue)
// or del (delete the key). It runs the user's compute or create function,
// before anything is written, so a panic in it leaves the map unchanged.
// sameEntry reports, for opDeleteEntry, whether the key still holds the
// very value the iteration showed.
func decide[V any](op op, found bool, old, value, cmpOld V, compute func(V, bool) (V, ComputeOp), create func() (V, bool), sameEntry bool) (res V, ok bool, newValue V, set, del bool) {
	if found {
		res, ok = old, true
		switch op {
		case opLoadOrStore, opLoadOrCompute:
		case opCompareSwap:
			if ok = valuesEqual(old, cmpOld); ok {
				newValue, set = value, true
			}
		case opCompareDelete:
			ok = valuesEqual(old, cmpOld)
			del = ok
		case opDeleteEntry:
			ok = sameEntry
			del = ok
		case opCompute:
			nv, cop := compute(old, true)
			switch cop {
			case UpdateOp:
				newValue, set = nv, true
				res = nv
			case DeleteOp:
				del, ok = true, false
				res = *new(V)
			}
		}
		return res, ok, newValue, set, del
	}
	switch op {
	case opLoadOrStore:
		newValue, set = value, true
		res = value
	case opLoadOrCompute:
		nv, cancel := create()
		if !cancel {
			newValue, set = nv, true
			res = nv
		}
	case opCompute:
		nv, cop := compute(res, false)
		if cop == UpdateOp {
			newValue, set = nv, true
			res, ok = nv, true
		}
	}
	return res, ok, newValue, set, del
}

// checkComparable panics with a message naming the package, the map type
// typeName and its method if V cannot be compared with ==.
func checkComparable[V any](typeName, method string) {
	if t := reflect.TypeFor[V](); !t.Comparable() {
		panic(fmt.Sprintf("mapguard: %s.%s called on a %s whose value type %v is not comparable", typeName, method, typeName, t))
	}
}

// maybeShrink starts a shrink if the table is at most shrinkLoad full.
func (m *Map[K, V]) maybeShrink(t *table[K, V]) {
	if len(t.buckets) <= m.cfg.minBuckets() ||
		float64(t.size()) > float64(len(t.buckets))*slotsPerBucket*shrinkLoad {
		return
	}
	m.startResize(t, resizeShrink)
}

// startResize replaces t by a larger, smaller or empty table, or helps the
// resize already running. It reports whether it replaced t itself.
func (m *Map[K, V]) startResize(t *table[K, V], kind resizeKind) bool {
	if r := m.resizing.Load(); r != nil {
		m.help(r)
		return false
	}
	var n int
	switch kind {
	case resizeGrow:
		n = len(t.buckets) * 2
	case resizeShrink:
		n = max(m.cfg.minBuckets(), bucketsFor(t.size(), targetLoad))
		if n >= len(t.buckets) {
			return false
		}
	case resizeClear:
		n = m.cfg.minBuckets()
		if m.cfg.growOnly {
			n = len(t.buckets)
		}
	}
	base := min(len(t.buckets), n)
	if kind == resizeClear {
		base = len(t.buckets)
	}
	return claimResize(&m.table, &m.resizing, newResize(t, newTable[K, V](n, t.hasher), kind, base), m.help)
}

// help copies chunks of r until none is left to claim, then waits for r to
// be published.
func (m *Map[K, V]) help(r *resize[table[K, V]]) {
	runResize(r, &m.table, &m.resizing, func(c int64) {
		if n := copyChunk(r, c); n != 0 {
			r.to.addSize(n)
		}
	}, m.countResize)
}

// countResize counts a published resize of kind in the map's Stats.
func (m *Map[K, V]) countResize(kind resizeKind) {
	switch kind {
	case resizeGrow:
		m.grows.Add(1)
	case resizeShrink:
		m.shrinks.Add(1)
	case resizeClear:
		m.clears.Add(1)
	}
}

// Store sets the value for key.
func (m *Map[K, V]) Store(key K, value V) {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			h := inlHash(it, key)
			_, loaded := m.inlWrite(key, h, value, false)
			if w := m.sample.Load(); w != 0 && sampled(h, w) {
				m.observe(w, OpStore, loaded)
			}
			return
		}
	}
	_, h := m.find(key, false)
	prev := m.swap(key, h, &entry[K, V]{key: key, value: value})
	if w := m.sample.Load(); w != 0 && sampled(h, w) {
		m.observe(w, OpStore, prev != nil)
	}
}

// LoadOrStore returns the existing value for key if present. Otherwise it
// stores value and returns it. The loaded result is true if the value was
// loaded, false if stored. A present key is found without taking a lock.
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if m.table.Load() == nil {
		// With no observer, the lookup is Load's hand-inlined one: a hit
		// then costs what a Load does (6.0 ns against 9.4 through inl,
		// inlHash, inlLookup and inlProbe, in a direct loop). An observer
		// would count it as a Load, so an observed map looks up below; an
		// observer set between the check and the lookup can count one
		// such LoadOrStore as a Load, once, as it attaches.
		looked := false
		if m.sample.Load() == 0 {
			if v, ok := m.loadSlow(key); ok {
				return v, true
			}
			looked = true
		}
		if it := m.inl(); it != nil {
			h := inlHash(it, key)
			if !looked {
				if v, ok := m.inlLookup(it, h, key); ok {
					return v, true
				}
			}
			if prev, loaded := m.inlWrite(key, h, value, true); loaded {
				return prev, true
			}
			return value, false
		}
	}
	e, h := m.find(key, true)
	if e != nil {
		return e.value, true
	}
	return m.mutate(key, h, &request[K, V]{op: opLoadOrStore, value: value}, &entry[K, V]{key: key, value: value})
}

// LoadAndStore stores value for key and returns the value the key held
// before, if it was present, or value itself, if it was not; loaded
// reports which. It behaves as xsync's method of the same name: it differs
// from [Map.Swap] only when the key was absent, where Swap returns the zero
// value.
func (m *Map[K, V]) LoadAndStore(key K, value V) (actual V, loaded bool) {
	if prev, loaded := m.Swap(key, value); loaded {
		return prev, true
	}
	return value, false
}

// Swap stores value for key and returns the previous value, if any. The
// loaded result reports whether the key was present.
func (m *Map[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			return m.inlWrite(key, inlHash(it, key), value, false)
		}
	}
	_, h := m.find(key, false)
	if prev := m.swap(key, h, &entry[K, V]{key: key, value: value}); prev != nil {
		return prev.value, true
	}
	return previous, false
}

// find returns key's hash and, if probe is set, key's entry or nil, found
// without a lock as Load does. It installs the first table if there is
// none. Every table of a map hashes alike, so the hash stays valid across
// resizes and each write hashes its key once. The hash switch and the probe
// are Load's, written out again rather than called: on a small map's write
// path each call costs about 3% (BenchmarkMap/reads=25%/size=1024).
func (m *Map[K, V]) find(key K, probe bool) (e *entry[K, V], h uint64) {
	t := m.table.Load() // m.init, whose call is not inlined
	if t == nil {
		t = m.initSlow()
	}
	switch t.hasher.kind {
	case hash64:
		h = mixInt(t.hasher.intSeed, *(*uint64)(unsafe.Pointer(&key)))
	case hashString:
		h = maphash.String(t.hasher.seed, *(*string)(unsafe.Pointer(&key)))
	default:
		h = hashKey(&t.hasher, key)
	}
	if !probe {
		return nil, h
	}
	tag := tagOf(h)
	for b := t.bucketAt(t.indexOf(h)); b != nil; b = b.next.Load() {
		for w := matchTag(b.meta.Load(), tag); w != 0; w &= w - 1 {
			if e := b.slotAt(slotOf(w)).Load(); e != nil && e.key == key {
				return e, h
			}
		}
	}
	return nil, h
}

// lockChain locks the root bucket of the chain for hash h in the current
// table, helping any resize in progress first, and returns the table and
// the locked root bucket. Holding root.mu with no resize running
// means the write lands in the current table: a resize installs m.resizing
// before copying, and copies each chain under its root's mu.
func (m *Map[K, V]) lockChain(h uint64) (t *table[K, V], root *bucket[K, V]) {
	for {
		t = m.table.Load()
		root = t.bucketAt(t.indexOf(h))
		root.mu.Lock()
		if m.resizing.Load() == nil && m.table.Load() == t {
			return t, root
		}
		root.mu.Unlock()
		if r := m.resizing.Load(); r != nil {
			m.help(r)
		}
	}
}

// searchLocked walks the chain at root, whose lock the caller holds, for
// key, whose tag is tag: it returns the entry found, with its bucket, slot
// and the bucket's meta word; else nil, the first empty slot (eb nil if
// there is none) and the chain's last bucket. Every locked write of Map
// and SnapshotMap searches with it. Several results, not a struct: a
// struct filled through a pointer pays GC write barriers, and one
// returned by value a copy, each about 5 ns a write; these stay in
// registers.
func searchLocked[K comparable, V any](root *bucket[K, V], tag uint8, key K) (found *entry[K, V], fb *bucket[K, V], fs int, meta uint64, eb *bucket[K, V], es int, last *bucket[K, V]) {
	last = root
	for b := root; b != nil; b = b.next.Load() {
		bm := b.meta.Load()
		for w := matchTag(bm, tag); w != 0; w &= w - 1 {
			i := slotOf(w)
			if e := b.slotAt(i).Load(); e != nil && e.key == key {
				return e, b, i, bm, eb, es, last
			}
		}
		if eb == nil {
			if w := emptySlots(bm); w != 0 {
				eb, es = b, slotOf(w)
			}
		}
		last = b
	}
	return nil, nil, 0, 0, eb, es, last
}

// clearSlot deletes the entry in slot i of bucket b, whose meta word is
// meta, with the chain's lock held, and returns b's new meta word (0: b is
// empty). The tag goes first: a reader that still matches the old tag
// finds a nil slot or the old entry, never another key's.
func clearSlot[K comparable, V any](b *bucket[K, V], i int, meta uint64) uint64 {
	meta = setTag(meta, i, 0)
	b.meta.Store(meta)
	b.slotAt(i).Store(nil)
	return meta
}

// swap stores ne for its key, whose hash is h, and returns the entry it replaced, or nil.
// It is mutate specialised for the commonest write: no request, no
// decision, no deferred unlock (nothing between Lock and Unlock can panic:
// a key that cannot be compared already panicked while being hashed).
func (m *Map[K, V]) swap(key K, h uint64, ne *entry[K, V]) *entry[K, V] {
	for {
		t, root := m.lockChain(h)
		tag := tagOf(h)
		e, fb, fs, _, eb, es, last := searchLocked(root, tag, key)
		if e != nil {
			fb.slotAt(fs).Store(ne)
			root.mu.Unlock()
			return e
		}
		if eb == nil && t.mustGrow() {
			root.mu.Unlock()
			m.startResize(t, resizeGrow)
			continue
		}
		t.insertLocked(eb, es, last, tag, ne)
		root.mu.Unlock()
		t.addSize(1)
		return nil
	}
}

// LoadAndDelete deletes the value for key, returning the previous value if
// any. The loaded result reports whether the key was present. An absent key
// is detected without taking a lock.
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			return m.inlLoadAndDelete(it, key)
		}
	}
	e, h := m.find(key, true)
	if e == nil {
		return value, false
	}
	if e := m.delete(key, h); e != nil {
		return e.value, true
	}
	return value, false
}

// delete deletes key, whose hash is h, and returns the entry it removed, or nil. Like swap,
// it is mutate specialised, with no deferred unlock because nothing
// between Lock and Unlock can panic.
func (m *Map[K, V]) delete(key K, h uint64) *entry[K, V] {
	t, root := m.lockChain(h)
	e, fb, fs, meta, _, _, _ := searchLocked(root, tagOf(h), key)
	if e == nil {
		root.mu.Unlock()
		return nil
	}
	meta = clearSlot(fb, fs, meta)
	root.mu.Unlock()
	t.addSize(-1)
	if meta == 0 && !m.cfg.growOnly {
		m.maybeShrink(t)
	}
	return e
}

// Delete deletes the value for key.
func (m *Map[K, V]) Delete(key K) {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			m.inlLoadAndDelete(it, key)
			return
		}
	}
	if e, h := m.find(key, true); e != nil {
		m.delete(key, h)
	}
}

// CompareAndSwap stores new for key if the key is present and its value is
// equal to old. The swapped result reports whether it stored. It panics if V
// is not comparable, as sync.Map does.
func (m *Map[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	checkComparable[V]("Map", "CompareAndSwap")
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			h := inlHash(it, key)
			if v, ok := m.inlLookup(it, h, key); !ok || !valuesEqual(v, old) {
				return false
			}
			_, swapped = m.inlMutate(key, h, &inlRequest[V]{op: opCompareSwap, value: new, old: old})
			return swapped
		}
	}
	e, h := m.find(key, true)
	if e == nil || !valuesEqual(e.value, old) {
		return false
	}
	_, swapped = m.mutate(key, h, &request[K, V]{op: opCompareSwap, value: new, old: old}, &entry[K, V]{key: key, value: new})
	return swapped
}

// CompareAndDelete deletes the entry for key if its value is equal to old.
// The deleted result reports whether it deleted. It panics if V is not
// comparable, as sync.Map does.
func (m *Map[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	checkComparable[V]("Map", "CompareAndDelete")
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			h := inlHash(it, key)
			if v, ok := m.inlLookup(it, h, key); !ok || !valuesEqual(v, old) {
				return false
			}
			_, deleted = m.inlMutate(key, h, &inlRequest[V]{op: opCompareDelete, old: old})
			return deleted
		}
	}
	e, h := m.find(key, true)
	if e == nil || !valuesEqual(e.value, old) {
		return false
	}
	_, deleted = m.mutate(key, h, &request[K, V]{op: opCompareDelete, old: old}, nil)
	return deleted
}

// ComputeOp tells Compute what to do with the value its function returned.
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

// LoadOrCompute returns the existing value for key if present. Otherwise it
// calls fn and, unless fn reports cancel, stores and returns the value fn
// returned. The loaded result is true if the value was loaded.
//
// fn runs at most once per call, with the key's bucket locked, so it runs
// atomically with respect to every other writer of key. It must not use the
// same map. If fn panics, the panic propagates to the caller and the map is
// left as it was, its lock released. If fn cancels, LoadOrCompute returns
// the zero value and false.
func (m *Map[K, V]) LoadOrCompute(key K, fn func() (value V, cancel bool)) (actual V, loaded bool) {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			h := inlHash(it, key)
			if v, ok := m.inlLookup(it, h, key); ok {
				return v, true
			}
			return m.inlMutate(key, h, &inlRequest[V]{op: opLoadOrCompute, create: fn})
		}
	}
	e, h := m.find(key, true)
	if e != nil {
		return e.value, true
	}
	return m.mutate(key, h, &request[K, V]{op: opLoadOrCompute, create: fn}, nil)
}

// Compute calls fn with the current value for key (and whether it is
// present) and, as fn's ComputeOp says, stores fn's new value (UpdateOp),
// deletes the entry (DeleteOp) or leaves the map as it was (CancelOp).
// It returns the value present for key afterwards, and whether one is
// present; absent, the value is the zero value.
//
// fn runs exactly once per call, with the key's bucket locked, so it runs
// atomically with respect to every other writer of key. It must not use the
// same map. If fn panics, the panic propagates to the caller and the map is
// left as it was, its lock released.
func (m *Map[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op ComputeOp)) (actual V, ok bool) {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			return m.inlMutate(key, inlHash(it, key), &inlRequest[V]{op: opCompute, compute: fn})
		}
	}
	_, h := m.find(key, false)
	return m.mutate(key, h, &request[K, V]{op: opCompute, compute: fn}, nil)
}

// DeleteFunc deletes every entry for which del returns true and returns the
// number it deleted. It iterates as Range does, and deletes an entry only if
// the key still holds the very value del was shown, so a value stored
// concurrently after del looked at the old one is never lost. For a map
// that stores its entries inline (see Map), "the very value" means a value
// with the same bytes: a concurrent write of that same value again after
// del looked may be deleted with it. del runs without locks held and may
// use the map.
func (m *Map[K, V]) DeleteFunc(del func(key K, value V) bool) int {
	if m.table.Load() == nil {
		return m.inlDeleteFunc(del)
	}
	n := 0
	m.walk(nil, func(e *entry[K, V]) bool {
		if del(e.key, e.value) {
			_, h := m.find(e.key, false)
			if _, ok := m.mutate(e.key, h, &request[K, V]{op: opDeleteEntry, ent: e}, nil); ok {
				n++
			}
		}
		return true
	})
	return n
}

// Range calls f for each key and value in the map, until f returns false.
// f runs with no lock held: it may call any method of the map, including
// a nested Range, and writers never wait for it (see Map on iteration).
//
// Range visits each key at most once, and exactly once every key that is
// present and unchanged for the whole call. It is not a snapshot: a key
// stored or deleted concurrently may or may not be visited, and the value
// seen for a key may be any value it held during the call.
func (m *Map[K, V]) Range(f func(key K, value V) bool) {
	m.walk(f, nil)
}

// All returns an iterator over the map's keys and values with the
// guarantees of Range.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// Keys returns an iterator over the map's keys with the guarantees of Range.
func (m *Map[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		m.walk(func(k K, _ V) bool { return yield(k) }, nil)
	}
}

// Values returns an iterator over the map's values with the guarantees of
// Range.
func (m *Map[K, V]) Values() iter.Seq[V] {
	return func(yield func(V) bool) {
		m.walk(func(_ K, v V) bool { return yield(v) }, nil)
	}
}

// walk calls f(key, value), or if f is nil fe(entry), for the entries of
// the table current at the start, until the callback returns false. It is
// the one iteration loop behind Range, All, Keys, Values and DeleteFunc;
// calling f directly keeps Range at one indirect call per entry, and the
// per-bucket buffers on the stack, where filling them needs no GC write
// barriers.
//
// A table replaced during the walk is never written again, so the walk
// finishes on a frozen table and still sees every key it held unchanged.
// Within a chain, a key deleted and re-inserted into a later slot during
// the walk could be read twice; so each chain's slots are read twice and,
// only if some slot changed between the reads, duplicates are dropped by
// key. If none changed, every entry read was present at one instant between
// the reads (an entry pointer is stored once and never comes back), so the
// keys are distinct. Slots are chosen by their tag: a key present and
// unchanged has its tag set throughout, and a slot whose tag is clear is
// being filled or emptied, which the guarantees allow to be missed.
func (m *Map[K, V]) walk(f func(K, V) bool, fe func(*entry[K, V]) bool) {
	t := m.table.Load()
	if t == nil {
		if f != nil {
			m.inlRange(f, nil) // an inline map, or one not used yet
		}
		return
	}
	var (
		one   [slotsPerBucket]*entry[K, V] // entries of a one-bucket chain
		where [slotsPerBucket]uint8        // and the slots they came from
		// The entries of a longer chain, and their slots: on the stack
		// for chains of up to four buckets, so that a walk allocates
		// nothing unless a chain is longer.
		longBuf  [4 * slotsPerBucket]*entry[K, V]
		slotsBuf [4 * slotsPerBucket]*atomic.Pointer[entry[K, V]]
		long     = longBuf[:0]
		slots    = slotsBuf[:0]
	)
	for i := range t.buckets {
		root := t.bucketAt(uint64(i))
		var es []*entry[K, V]
		if root.next.Load() == nil {
			// The common case: one bucket, at most 5 entries.
			n := 0
			for w := root.meta.Load() & occupiedBits; w != 0; w &= w - 1 {
				s := slotOf(w)
				if e := root.slotAt(s).Load(); e != nil {
					one[n], where[n] = e, uint8(s)
					n++
				}
			}
			if n == 0 {
				continue
			}
			es = one[:n]
			if n > 1 { // one entry has no duplicate to drop
				for j := range n {
					if root.slotAt(int(where[j])).Load() != one[j] {
						es = dedupByKey(es)
						break
					}
				}
			}
		} else {
			long, slots = long[:0], slots[:0]
			for b := root; b != nil; b = b.next.Load() {
				for w := b.meta.Load() & occupiedBits; w != 0; w &= w - 1 {
					s := b.slotAt(slotOf(w))
					if e := s.Load(); e != nil {
						long = append(long, e)
						slots = append(slots, s)
					}
				}
			}
			es = long
			for j, s := range slots {
				if s.Load() != long[j] {
					es = dedupByKey(es)
					break
				}
			}
		}
		for _, e := range es {
			if f != nil {
				if !f(e.key, e.value) {
					return
				}
			} else if !fe(e) {
				return
			}
		}
	}
}

// dedupByKey drops later entries whose key appeared earlier, in place.
func dedupByKey[K comparable, V any](es []*entry[K, V]) []*entry[K, V] {
	if len(es) > 32 {
		seen := make(map[K]struct{}, len(es))
		out := es[:0]
		for _, e := range es {
			if _, dup := seen[e.key]; !dup {
				seen[e.key] = struct{}{}
				out = append(out, e)
			}
		}
		return out
	}
	out := es[:0]
next:
	for _, e := range es {
		for _, o := range out {
			if o.key == e.key {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// Size returns the number of entries. It sums a striped counter, so it costs
// O(GOMAXPROCS), not O(entries). With writes in flight it may count some of
// them and not others.
func (m *Map[K, V]) Size() int {
	t := m.table.Load()
	if t == nil {
		if it := m.itab.Load(); it != nil {
			return it.size()
		}
		return 0
	}
	return t.size()
}

// Clear deletes every entry. Writes concurrent with Clear land either
// before it (and are cleared) or after it. The table returns to its initial
// size, unless the map was made WithGrowOnly.
func (m *Map[K, V]) Clear() {
	if m.table.Load() == nil {
		if it := m.inl(); it != nil {
			for !m.inlStartResize(m.itab.Load(), resizeClear) {
			}
			return
		}
	}
	for !m.startResize(m.init(), resizeClear) {
	}
}

// MarshalJSON encodes the map as a JSON object, as encoding/json encodes a
// map[K]V: keys must be strings, integers or encoding.TextMarshalers, and
// come out sorted. The map may change while it is encoded; the object holds
// what one Range saw.
func (m *Map[K, V]) MarshalJSON() ([]byte, error) {
	plain := make(map[K]V, m.Size())
	for k, v := range m.All() {
		plain[k] = v
	}
	return encodeJSON("Map", plain)
}

// UnmarshalJSON decodes a JSON object and stores its entries in the map,
// keeping entries whose keys are not in the object, as encoding/json does
// for a map[K]V. On error the map is left unchanged.
func (m *Map[K, V]) UnmarshalJSON(data []byte) error {
	plain, err := decodeJSON[K, V]("Map", data)
	if err != nil {
		return err
	}
	for k, v := range plain {
		m.Store(k, v)
	}
	return nil
}

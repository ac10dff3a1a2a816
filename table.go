package mapguard

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	// slotsPerBucket is 5 because a metadata word, 5 entry pointers, the
	// overflow pointer and a mutex fill one 64-byte cache line on 64-bit
	// machines: a lookup that hits the root bucket touches one line.
	slotsPerBucket = 5

	// cacheLine is the size the bucket and counter layouts are padded to.
	cacheLine = 64

	// maxLoad is the average number of entries per slot above which an
	// insertion that needs a new overflow bucket grows the table instead.
	// 0.75 keeps chains short (most lookups end in the root bucket) while
	// leaving buckets three-quarters full on average.
	maxLoad = 0.75

	// shrinkLoad is the load at or below which a deletion that empties a
	// bucket shrinks the table. It is far below maxLoad/2 so that a map
	// oscillating around one size never alternates grow and shrink.
	shrinkLoad = 1.0 / 16

	// targetLoad is the load a shrink aims for: half of maxLoad, so the
	// shrunk table can double its entries before it grows again.
	targetLoad = maxLoad / 2

	// defaultMinBuckets is the smallest table: 8 buckets, 512 bytes, holds
	// 30 entries before its first grow. Small maps are common (per-request
	// and per-tenant tables), so the floor stays small.
	defaultMinBuckets = 8

	// maxStripes bounds the size counter to 32 cache lines (2 KiB). Each
	// writer goroutine keeps to one stripe (stripeHint), so n concurrent
	// writers share a stripe with probability about n/32; xsync uses the
	// same bound.
	maxStripes = 32

	// transferChunk is how many buckets one resize helper claims at a time:
	// large enough that claiming (one atomic add) is noise, small enough that
	// writers arriving mid-resize find work to share.
	transferChunk = 64

	metaMask     = 1<<(8*slotsPerBucket) - 1 // the bytes of meta in use
	occupiedBits = 0x8080808080808080 & metaMask
	lowBits      = 0x0101010101010101
	ptrSize      = unsafe.Sizeof(uintptr(0))
	mutexSize    = unsafe.Sizeof(sync.Mutex{})
)

// entry is an immutable key/value pair. A slot swaps whole entries, so a
// reader that loaded an entry pointer always sees a matching key and value.
type entry[K comparable, V any] struct {
	key   K
	value V
}

// bucket is one cache line of the table. Readers use only atomic loads;
// writers hold mu of the chain's root bucket (overflow buckets' mu is unused).
type bucket[K comparable, V any] struct {
	// meta holds one tag byte per slot: 0 for empty, else 0x80|7 hash bits.
	// It is written under the root's mu and read atomically by anyone.
	meta atomic.Uint64
	// pad makes the bucket one cache line on 32-bit machines; it is
	// zero-sized on 64-bit ones. It is not the last field, so a zero size
	// adds no trailing padding.
	_     [(cacheLine - (8+(slotsPerBucket+1)*ptrSize+mutexSize)%cacheLine) % cacheLine]byte
	slots [slotsPerBucket]atomic.Pointer[entry[K, V]]
	// next is the overflow bucket. Once set it never changes for the life of
	// the table, so iterators and readers can follow it without locks.
	next atomic.Pointer[bucket[K, V]]
	// mu, in a chain's root bucket, protects meta, slots and next of every
	// bucket in that chain.
	mu sync.Mutex
}

// stripe is one cell of a table's size counter, padded to its own cache line
// so that writers in different buckets do not share a line.
type stripe struct {
	n atomic.Int64
	_ [cacheLine - 8]byte
}

// table is one generation of the hash table. A table replaced by a resize is
// never written again, which lets iterators that started on it finish on it.
type table[K comparable, V any] struct {
	buckets  []bucket[K, V]
	mask     uint64 // len(buckets)-1; len is a power of two
	stripes  []stripe
	overflow atomic.Int64 // overflow buckets allocated; for Stats
	hasher   hasher
}

func newTable[K comparable, V any](nbuckets int, h hasher) *table[K, V] {
	// Stripes are picked by bucket index, not by goroutine, so even two
	// writers collide on a stripe with probability 1/stripes: use many.
	ns := min(nbuckets, maxStripes)
	return &table[K, V]{
		buckets: make([]bucket[K, V], nbuckets),
		mask:    uint64(nbuckets - 1),
		stripes: make([]stripe, ns),
		hasher:  h,
	}
}

// bucketsFor returns the number of buckets that holds n entries at load.
func bucketsFor(n int, load float64) int {
	return int(nextPow2(uint64(float64(n) / (slotsPerBucket * load))))
}

func nextPow2(v uint64) uint64 {
	if v <= 1 {
		return 1
	}
	return 1 << bits.Len64(v-1)
}

// tagOf returns the metadata byte of a hash: its low 7 bits with the
// occupied bit set, so it is never 0 (empty).
func tagOf(h uint64) uint8 { return uint8(h)&0x7f | 0x80 }

// indexOf returns the bucket index of a hash. It skips the 7 tag bits so
// that tag and index are independent.
func (t *table[K, V]) indexOf(h uint64) uint64 { return (h >> 7) & t.mask }

// matchTag returns a word with the high bit set in each byte of meta equal
// to tag. It may also mark a byte just above a true match (SWAR borrow), so
// callers always confirm a match by comparing keys.
func matchTag(meta uint64, tag uint8) uint64 {
	w := meta ^ (lowBits * uint64(tag))
	return (w - lowBits) &^ w & occupiedBits
}

// emptySlots returns a word with the high bit set in each empty slot's byte.
func emptySlots(meta uint64) uint64 { return ^meta & occupiedBits }

// slotOf returns the slot index of the lowest marked byte of w.
func slotOf(w uint64) int { return bits.TrailingZeros64(w) >> 3 }

func setTag(meta uint64, slot int, tag uint8) uint64 {
	shift := uint(slot) * 8
	return meta&^(0xff<<shift) | uint64(tag)<<shift
}

// bucketAt returns &t.buckets[i] without a bounds check; i comes from
// indexOf, which masks it below len(t.buckets).
func (t *table[K, V]) bucketAt(i uint64) *bucket[K, V] {
	return (*bucket[K, V])(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.buckets)), uintptr(i)*unsafe.Sizeof(bucket[K, V]{})))
}

// slotAt returns &b.slots[i] without a bounds check; i comes from slotOf
// of a word masked to the slot bytes, so it is below slotsPerBucket.
func (b *bucket[K, V]) slotAt(i int) *atomic.Pointer[entry[K, V]] {
	return (*atomic.Pointer[entry[K, V]])(unsafe.Add(unsafe.Pointer(&b.slots), uintptr(i)*ptrSize))
}

// mustGrow reports whether an insertion into a chain with no empty slot
// should grow the table rather than chain a new overflow bucket: only when
// the whole table is over maxLoad, so that a few long chains (a poor or
// adversarial hash) never cause growth on their own.
func (t *table[K, V]) mustGrow() bool {
	return float64(t.size()) >= float64(len(t.buckets))*slotsPerBucket*maxLoad
}

// insertLocked stores ne, whose key is not in the chain, in the first empty
// slot (eb, es), or if there is none (eb == nil) in a new overflow bucket
// after last, the chain's last bucket. Callers check mustGrow first. It
// must be called with the chain's root mu held.
func (t *table[K, V]) insertLocked(eb *bucket[K, V], es int, last *bucket[K, V], tag uint8, ne *entry[K, V]) {
	if eb != nil {
		// Tag first: a reader that matches it before the entry is stored
		// sees a nil slot and moves on.
		eb.meta.Store(setTag(eb.meta.Load(), es, tag))
		eb.slotAt(es).Store(ne)
		return
	}
	nb := new(bucket[K, V])
	nb.meta.Store(uint64(tag))
	nb.slots[0].Store(ne)
	last.next.Store(nb)
	t.overflow.Add(1)
}

func (t *table[K, V]) addSize(delta int64) {
	t.stripes[stripeHint()&uint64(len(t.stripes)-1)].n.Add(delta)
}

// stripeHint picks a size-counter stripe for the calling goroutine: a hash
// of the address of a variable on its stack, so one goroutine keeps using
// one stripe (until its stack moves) and two goroutines share one with
// probability 1/stripes. Picking by bucket index instead sends every
// writer to every stripe in turn, so on two cores about half of all size
// updates pulled a cache line from the other core: BenchmarkMap
// reads=25% int 65536 -cpu 2 ran 77.5 ns/op that way, 70.6 this way. Any
// stripe is correct; only the spread matters.
func stripeHint() uint64 {
	var here byte
	return uint64(uintptr(unsafe.Pointer(&here))>>10) * 0x9e3779b97f4a7c15 >> 58
}

// size sums the counter stripes: O(stripes), never O(entries). Concurrent
// updates may be counted in any order, so a transient sum can be off by the
// number of writes in flight; it is clamped at zero.
func (t *table[K, V]) size() int {
	var n int64
	for i := range t.stripes {
		n += t.stripes[i].n.Load()
	}
	return int(max(n, 0))
}

// insertUnlocked appends e to the chain of bucket index idx. It is used only
// while filling a table that no other goroutine can reach yet, or a chain the
// caller owns exclusively during a resize.
func (t *table[K, V]) insertUnlocked(e *entry[K, V], h uint64) {
	tag := tagOf(h)
	b := &t.buckets[t.indexOf(h)]
	for {
		meta := b.meta.Load()
		if w := emptySlots(meta); w != 0 {
			i := slotOf(w)
			b.meta.Store(setTag(meta, i, tag))
			b.slots[i].Store(e)
			return
		}
		next := b.next.Load()
		if next == nil {
			nb := new(bucket[K, V])
			nb.meta.Store(uint64(tag))
			nb.slots[0].Store(e)
			b.next.Store(nb)
			t.overflow.Add(1)
			return
		}
		b = next
	}
}

// resizeKind says why a table is being replaced.
type resizeKind uint8

const (
	resizeGrow resizeKind = iota
	resizeShrink
	resizeClear
)

// resize is one table replacement in progress. Every writer that meets it
// helps: it claims chunks of buckets, copies them into to, and the goroutine
// that copies the last chunk publishes to as the map's table.
type resize[T any] struct {
	from, to *T
	kind     resizeKind
	chunks   int64
	// next is the next chunk to claim. It starts at chunks (nothing to
	// claim) and is opened (set to 0) by the owner once it has checked that
	// from is still current.
	next atomic.Int64
	left atomic.Int64 // chunks not yet copied
	done chan struct{}
}

// claimResize publishes r, a resize of t, as running and runs it with
// help, or, if another resize is running, helps that one instead. It
// reports whether it replaced t itself: false also when t is no longer
// cur's table (another resize finished between the caller's decision and
// this claim). The entry and the inline representations share it.
func claimResize[T any](cur *atomic.Pointer[T], running *atomic.Pointer[resize[T]], r *resize[T], help func(*resize[T])) bool {
	r.next.Store(r.chunks) // closed until checked below
	r.left.Store(r.chunks)
	if !running.CompareAndSwap(nil, r) {
		if r := running.Load(); r != nil {
			help(r)
		}
		return false
	}
	if cur.Load() != r.from {
		running.Store(nil)
		close(r.done)
		return false
	}
	r.next.Store(0)
	help(r)
	return true
}

// newResize returns a resize of from into to, of kind, in chunks of
// transferChunk buckets over base buckets, not yet claimed.
func newResize[T any](from, to *T, kind resizeKind, base int) *resize[T] {
	return &resize[T]{
		from:   from,
		to:     to,
		kind:   kind,
		chunks: int64((base + transferChunk - 1) / transferChunk),
		done:   make(chan struct{}),
	}
}

// runResize copies chunks of r with copyChunk until none is left to claim.
// The goroutine that copies the last one publishes r.to as cur's table,
// calls published and clears running; the others wait for it.
func runResize[T any](r *resize[T], cur *atomic.Pointer[T], running *atomic.Pointer[resize[T]], copyChunk func(c int64), published func(resizeKind)) {
	for {
		c := r.next.Add(1) - 1
		if c >= r.chunks {
			break
		}
		copyChunk(c)
		if r.left.Add(-1) == 0 {
			cur.Store(r.to)
			published(r.kind)
			running.Store(nil)
			close(r.done)
			return
		}
	}
	<-r.done
}

// copyChunk copies chunk c of r.from into r.to and returns the number of
// entries it copied. A chunk is a range of indices in the smaller of the two
// tables; every source bucket whose entries land in those destination
// buckets belongs to the chunk, so no two helpers write one destination
// bucket. For a clear, nothing is copied, but every source bucket is still
// locked once, so a writer that locked it before the clear began finishes
// before the clear is published.
func copyChunk[K comparable, V any](r *resize[table[K, V]], c int64) int64 {
	from, to := r.from, r.to
	base := min(len(from.buckets), len(to.buckets))
	if r.kind == resizeClear {
		base = len(from.buckets)
	}
	start := int(c) * transferChunk
	end := min(start+transferChunk, base)
	var copied int64
	for i := start; i < end; i++ {
		for src := i; src < len(from.buckets); src += base {
			root := &from.buckets[src]
			root.mu.Lock()
			if r.kind != resizeClear {
				for b := root; b != nil; b = b.next.Load() {
					for s := range b.slots {
						if e := b.slots[s].Load(); e != nil {
							to.insertUnlocked(e, hashKey(&to.hasher, e.key))
							copied++
						}
					}
				}
			}
			root.mu.Unlock()
		}
	}
	return copied
}

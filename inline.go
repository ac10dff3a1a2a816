package mapguard

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// This file holds the inline representation's table: keys and values of
// pointer-free types stored in []uint64 words that the GC never scans,
// read by lock-free readers under a per-chain sequence counter. See
// inline_map.go for the Map methods on it and the seqlock protocol.

const (
	// inlSlots is 8 because the tag word holds one tag byte per slot: 8
	// bytes, one uint64, matched with SWAR tricks in one load.
	inlSlots = 8

	// inlHdrWords is the bucket header: word 0 holds the chain's sequence
	// counter (low 32 bits, used in root buckets only) and the overflow link
	// (high 32 bits); word 1 holds the tags. The lock lives in a separate
	// striped array, so the header costs 16 bytes per 8 slots.
	inlHdrWords = 2

	// inlMaxLocks bounds the lock array: a chain's lock is
	// locks[i&lockMask]. 1024 padded locks are 64 KiB, noise next to a
	// table that large, and two writers of different chains share a lock
	// with probability 1/1024.
	inlMaxLocks = 1024

	// inlReadRetries is how many times a reader retries an optimistic read
	// that a writer invalidated before it takes the chain's lock. A bucket
	// write is a few stores, so a reader that loses four times in a row is
	// behind a stream of writers, not one.
	inlReadRetries = 4

	// inlOvfSlots is the number of slots of an overflow bucket: half a
	// root bucket's. At maxLoad a chain that overflows mostly holds one to
	// three entries more than its root, so a full-size overflow bucket
	// would be mostly empty; its tag word still has 8 bytes, the top 4
	// never set.
	inlOvfSlots = 4

	// inlOvfSegments bounds the overflow segments of a table. Segment s
	// holds ovfBase<<s buckets, so 32 segments hold 2^32 buckets, the most
	// an overflow link (32 bits) can name.
	inlOvfSegments = 32

	// inlOvfBaseDiv sets the first overflow segment to 1/128 of the root
	// buckets: at maxLoad about 15% of the buckets overflow, which the
	// doubling segments reach in five steps, and a small table does not
	// pay for a large first segment.
	inlOvfBaseDiv = 128

	// inlMaxWords bounds the words of a key and value stored inline: a
	// larger pair makes every read copy many words under the seqlock and
	// every bucket span many cache lines, where one pointer to a shared
	// entry costs less.
	inlMaxWords = 8

	inlSeqMask     = 1<<32 - 1
	inlOccupied    = 0x8080808080808080
	inlOvfOccupied = inlOccupied >> (8 * (inlSlots - inlOvfSlots))
)

// inlLock is one mutex of a table's striped lock array, padded to a cache line
// so that writers of different stripes do not share a line.
type inlLock struct {
	mu sync.Mutex
	_  [cacheLine - unsafe.Sizeof(sync.Mutex{})]byte
}

// inlTable is one generation of the hash table. Its root buckets and overflow
// segments are []uint64, memory the GC neither scans nor guards with write
// barriers. A table replaced by a resize is never written again.
type inlTable struct {
	// words holds the root buckets, bw words each, and one spare word:
	// the address of a zero-size key or value in the last slot is then
	// still inside the allocation (checkptr, on with -race, insists).
	// Overflow segments end with a spare word for the same reason.
	words []uint64
	mask  uint64 // number of root buckets - 1; a power of two
	kw    int    // words per key: its size rounded up to 8 bytes
	vw    int    // words per value
	sw    int    // words per slot: kw + vw
	bw    int    // words per root bucket: inlHdrWords + inlSlots*sw
	obw   int    // words per overflow bucket: inlHdrWords + inlOvfSlots*sw

	// locks[i&lockMask].mu protects every bucket of chain i: its words
	// and the sequence counter in its root.
	locks    []inlLock
	lockMask uint64

	stripes []stripe

	// ovf holds the overflow segments: segment s, once set, holds
	// ovfBase<<s buckets and never changes. A link n (>0) names overflow
	// bucket n-1. ovfMu protects novf and the setting of ovf.
	ovf     [inlOvfSegments]atomic.Pointer[uint64]
	ovfBase uint64 // a power of two
	ovfMu   sync.Mutex
	novf    uint64

	hasher hasher
}

func newInlTable(nbuckets, kw, vw int, h hasher) *inlTable {
	sw := kw + vw
	if sw == 0 {
		// Zero-size keys and values: one unused word per slot keeps the
		// slots of a chain copy apart in Range.
		sw = 1
	}
	bw := inlHdrWords + inlSlots*sw
	nl := min(nbuckets, inlMaxLocks)
	return &inlTable{
		words:    make([]uint64, nbuckets*bw+1),
		mask:     uint64(nbuckets - 1),
		kw:       kw,
		vw:       vw,
		sw:       sw,
		bw:       bw,
		obw:      inlHdrWords + inlOvfSlots*sw,
		locks:    make([]inlLock, nl),
		lockMask: uint64(nl - 1),
		stripes:  make([]stripe, min(nbuckets, maxStripes)),
		ovfBase:  uint64(max(1, nbuckets/inlOvfBaseDiv)),
		hasher:   h,
	}
}

func (t *inlTable) nbuckets() int { return int(t.mask + 1) }

// A bucket is named by the address of its first word. Word i of bucket b is
// at b+8i; slot s starts at word inlHdrWords+s*sw, its key first, then its
// value.

func word(b unsafe.Pointer, i int) *uint64 { return (*uint64)(unsafe.Add(b, uintptr(i)*8)) }

// root returns root bucket i; i comes from indexOf, masked below the
// number of root buckets.
func (t *inlTable) root(i uint64) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.words)), uintptr(i)*uintptr(t.bw)*8)
}

func (t *inlTable) keyAt(b unsafe.Pointer, s int) unsafe.Pointer {
	return unsafe.Add(b, uintptr(inlHdrWords+s*t.sw)*8)
}

func (t *inlTable) valueAt(b unsafe.Pointer, s int) unsafe.Pointer {
	return unsafe.Add(b, uintptr(inlHdrWords+s*t.sw+t.kw)*8)
}

func (t *inlTable) lockOf(i uint64) *sync.Mutex { return &t.locks[i&t.lockMask].mu }

func (t *inlTable) indexOf(h uint64) uint64 { return (h >> 7) & t.mask }

// matchTag returns a word with the high bit set in each byte of meta equal
// to tag, and possibly in a byte just above a true match (SWAR borrow), so
// callers confirm each match by comparing keys.
func inlMatchTag(meta uint64, tag uint8) uint64 {
	w := meta ^ (lowBits * uint64(tag))
	return (w - lowBits) &^ w & inlOccupied
}

func inlEmpty(meta uint64) uint64 { return ^meta & inlOccupied }

// emptyIn returns the empty slots of bucket b of the chain at root, whose
// tag word read meta: an overflow bucket has only inlOvfSlots slots.
func inlEmptyIn(b, root unsafe.Pointer, meta uint64) uint64 {
	if b == root {
		return inlEmpty(meta)
	}
	return ^meta & inlOvfOccupied
}

// segmentOf returns the segment and the index within it of overflow bucket
// o (0-based).
func (t *inlTable) segmentOf(o uint64) (s int, off uint64) {
	q := o/t.ovfBase + 1
	s = bits.Len64(q) - 1
	return s, o - t.ovfBase*(1<<s-1)
}

// overflow returns the bucket that link n (> 0) names. The link was stored
// after its segment was published, so the segment is there.
func (t *inlTable) overflow(n uint64) unsafe.Pointer {
	s, off := t.segmentOf(n - 1)
	return unsafe.Add(unsafe.Pointer(t.ovf[s].Load()), uintptr(off)*uintptr(t.obw)*8)
}

// next returns the bucket after b in its chain, or nil.
func (t *inlTable) next(b unsafe.Pointer) unsafe.Pointer {
	if n := atomic.LoadUint64(word(b, 0)) >> 32; n != 0 {
		return t.overflow(n)
	}
	return nil
}

// newOverflow returns a new, zeroed overflow bucket and its link. It is not
// reachable until the caller stores the link.
func (t *inlTable) newOverflow() (link uint64, b unsafe.Pointer) {
	t.ovfMu.Lock()
	defer t.ovfMu.Unlock()
	o := t.novf
	if o+1 > inlSeqMask {
		panic("inline: more than 2^32-1 overflow buckets in one table")
	}
	t.novf++
	s, off := t.segmentOf(o)
	p := t.ovf[s].Load()
	if p == nil {
		seg := make([]uint64, int(t.ovfBase<<s)*t.obw+1)
		p = &seg[0]
		t.ovf[s].Store(p)
	}
	return o + 1, unsafe.Add(unsafe.Pointer(p), uintptr(off)*uintptr(t.obw)*8)
}

// setNext links b to the overflow bucket named link, keeping b's sequence
// bits. It must be called with the chain's lock held.
func inlSetNext(b unsafe.Pointer, link uint64) {
	w := word(b, 0)
	atomic.StoreUint64(w, atomic.LoadUint64(w)&inlSeqMask|link<<32)
}

// bumpSeq adds one to the sequence counter of root bucket b, keeping its
// link bits: odd opens a write, even closes it. It must be called with the
// chain's lock held. The counter wraps at 2^32; a reader would need to
// sleep through 2^31 writes of one chain between its two loads to be
// fooled.
func inlBumpSeq(b unsafe.Pointer) {
	w := word(b, 0)
	v := atomic.LoadUint64(w)
	atomic.StoreUint64(w, v&^inlSeqMask|uint64(uint32(v)+1))
}

// copyWords copies n words from src to dst, each with an atomic load and
// an atomic store.
func inlCopyWords(dst, src unsafe.Pointer, n int) {
	for i := range n {
		atomic.StoreUint64(word(dst, i), atomic.LoadUint64(word(src, i)))
	}
}

// insertUnlocked puts a key and value (kw+vw words at src, copied
// atomically) whose hash is h into the first empty slot of chain
// indexOf(h), chaining an overflow bucket if needed. It is used only on a
// table no reader can reach yet, by the one helper that owns the chain.
func (t *inlTable) insertUnlocked(src unsafe.Pointer, h uint64) {
	tag := tagOf(h)
	root := t.root(t.indexOf(h))
	b := root
	for {
		meta := atomic.LoadUint64(word(b, 1))
		if w := inlEmptyIn(b, root, meta); w != 0 {
			s := slotOf(w)
			inlCopyWords(t.keyAt(b, s), src, t.sw)
			atomic.StoreUint64(word(b, 1), setTag(meta, s, tag))
			return
		}
		nb := t.next(b)
		if nb == nil {
			link, nb := t.newOverflow()
			inlCopyWords(t.keyAt(nb, 0), src, t.sw)
			atomic.StoreUint64(word(nb, 1), uint64(tag))
			inlSetNext(b, link)
			return
		}
		b = nb
	}
}

func (t *inlTable) addSize(delta int64) {
	t.stripes[stripeHint()&uint64(len(t.stripes)-1)].n.Add(delta)
}

// size sums the counter stripes, clamped at zero.
func (t *inlTable) size() int {
	var n int64
	for i := range t.stripes {
		n += t.stripes[i].n.Load()
	}
	return int(max(n, 0))
}

// mustGrow reports whether an insertion into a full chain should grow the
// table rather than chain an overflow bucket: only when the whole table is
// over maxLoad, so that long chains alone (a poor hash) never grow it.
func (t *inlTable) mustGrow() bool {
	return float64(t.size()) >= float64(t.nbuckets())*inlSlots*maxLoad
}

// inlBucketsFor returns the number of root buckets that holds n entries
// at load, a power of two.
func inlBucketsFor(n int, load float64) int {
	v := uint64(float64(n) / (inlSlots * load))
	if v <= 1 {
		return 1
	}
	return 1 << bits.Len64(v-1)
}

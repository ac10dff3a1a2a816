package mapguard

import "unsafe"

// NewCollidingMap returns a map whose keys all hash alike: one chain, one
// tag. It drives overflow chains and tag matches that always need a key
// comparison.
func NewCollidingMap[K comparable, V any](opts ...Option) *Map[K, V] {
	m := &Map[K, V]{cfg: newConfig(opts), collide: true}
	m.inl()
	return m
}

// WithEntries makes a map store entry pointers even where its key and value
// types allow inline storage, so that the suites run both representations
// on the same types.
func WithEntries() Option { return func(c *config) { c.entries = true } }

// InlineEligible reports whether Map[K, V] stores its entries inline.
func InlineEligible[K comparable, V any]() bool { return inlineEligible[K, V]() }

// BucketSize is the size of one bucket, which the layout test pins.
var BucketSize = unsafe.Sizeof(bucket[string, int]{})

// StripeSize is the size of one size-counter cell.
var StripeSize = unsafe.Sizeof(stripe{})

// HashOf returns the hash m gives key.
func HashOf[K comparable, V any](m *Map[K, V], key K) uint64 {
	if it := m.inl(); it != nil {
		return hashKey(&it.hasher, key)
	}
	return hashKey(&m.init().hasher, key)
}

// DedupKeys runs the iterator's duplicate filter over entries with keys.
func DedupKeys(keys []int) []int {
	es := make([]*entry[int, int], len(keys))
	for i, k := range keys {
		es[i] = &entry[int, int]{key: k}
	}
	var out []int
	for _, e := range dedupByKey(es) {
		out = append(out, e.key)
	}
	return out
}

// NewCollidingSnapshotMap returns a SnapshotMap whose keys all hash alike.
func NewCollidingSnapshotMap[K comparable, V any](opts ...Option) *SnapshotMap[K, V] {
	s := &SnapshotMap[K, V]{}
	s.m.cfg = newConfig(opts)
	s.m.collide = true
	s.m.init()
	return s
}

// Versions returns the number of versions kept for key, newest included,
// and whether the key has an entry (possibly a deletion kept for a View).
func Versions[K comparable, V any](s *SnapshotMap[K, V], key K) (n int, inMap bool) {
	head, ok := s.m.Load(key)
	for x := head; x != nil; x = x.prev.Load() {
		n++
	}
	return n, ok
}

// ExhaustOverflowLinks makes m's inline table behave as if it had made
// 2^32-1 overflow buckets, so the next one it needs panics. m must be
// inline.
func ExhaustOverflowLinks[K comparable, V any](m *Map[K, V]) {
	t := m.itab.Load()
	t.ovfMu.Lock()
	t.novf = inlSeqMask
	t.ovfMu.Unlock()
}

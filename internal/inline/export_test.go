package inline

import "unsafe"

// NewColliding returns a map whose keys all hash alike: one chain, one tag.
func NewColliding[K comparable, V any]() (*Map[K, V], error) {
	return newMap[K, V](true)
}

// SetReadRetries sets how many optimistic reads Load and Range try before
// they lock; 0 makes every read lock. Call it before sharing m.
func SetReadRetries[K comparable, V any](m *Map[K, V], n int) { m.retries = n }

// Layout returns the words per key, per value and per bucket of m's table.
func Layout[K comparable, V any](m *Map[K, V]) (kw, vw, bw int) {
	t := m.table.Load()
	return t.kw, t.vw, t.bw
}

// OverflowWords returns the words per overflow bucket of m's table.
func OverflowWords[K comparable, V any](m *Map[K, V]) int { return m.table.Load().obw }

// Buckets returns the number of root buckets of m's table and of overflow
// buckets allocated in it.
func Buckets[K comparable, V any](m *Map[K, V]) (roots, overflow int) {
	t := m.table.Load()
	t.ovfMu.Lock()
	defer t.ovfMu.Unlock()
	return t.nbuckets(), int(t.novf)
}

// LockSize is the size of one lock stripe.
var LockSize = unsafe.Sizeof(lock{})

// HdrWords is the bucket header size in words.
const HdrWords = hdrWords

// SlotsPerBucket is the number of slots per bucket.
const SlotsPerBucket = slotsPerBucket

// LockedReads returns how many reads of m gave up on optimistic reads and
// locked.
func LockedReads[K comparable, V any](m *Map[K, V]) uint64 { return m.lockedReads.Load() }

// Words returns the number of words m's current table holds in root
// buckets and allocated overflow segments.
func Words[K comparable, V any](m *Map[K, V]) int {
	t := m.table.Load()
	n := len(t.words)
	for s := range t.ovf {
		if t.ovf[s].Load() != nil {
			n += int(t.ovfBase<<s)*t.obw + 1
		}
	}
	return n
}

// Resizes returns how many tables m has replaced by a grow, shrink or clear.
func Resizes[K comparable, V any](m *Map[K, V]) uint64 { return m.resizes.Load() }

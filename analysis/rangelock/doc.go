// Package rangelock defines an Analyzer that reports writes which
// deadlock because the iteration or callback around them holds the lock
// they need.
//
// # Analyzer rangelock
//
// rangelock: report self-deadlocking writes inside iterations and callbacks
//
// Three shapes deadlock every time they run:
//
// A write lock taken inside an iteration that holds the same RWMutex's
// read lock (or its write lock), directly or through a method of the same
// value that locks it:
//
//	c.mu.RLock()
//	defer c.mu.RUnlock()
//	for k, v := range c.m {
//		if expired(v) {
//			c.mu.Lock() // wrong: waits for the read lock this goroutine holds
//			delete(c.m, k)
//			c.mu.Unlock()
//		}
//	}
//
// Right: collect the keys under the read lock, release it, then delete
// under the write lock; or use a concurrent map whose iteration allows
// writes (sync.Map, mapguard).
//
// A write to an orcaman concurrent-map inside its own IterCb callback,
// which runs with the shard's read lock held:
//
//	m.IterCb(func(k string, v int) { m.Remove(k) }) // wrong
//
// A call on an xsync or mapguard map inside its own Compute or
// LoadOrCompute callback, which runs with the key's bucket locked (both
// libraries document it as forbidden; a write to the same bucket
// deadlocks):
//
//	m.Compute(k, func(old int, _ bool) (int, mapguard.ComputeOp) {
//		m.Store(other, old) // wrong
//		return old + 1, mapguard.UpdateOp
//	})
//
// sync.Map's Range explicitly allows any method of the map in its
// callback, and so does mapguard's Range: neither is reported.
package rangelock

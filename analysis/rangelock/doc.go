// Package rangelock defines an Analyzer that reports locks which
// deadlock because the goroutine taking them already holds them: writes
// inside iterations and callbacks that hold the lock they need, and
// recursive read locking.
//
// # Analyzer rangelock
//
// rangelock: report self-deadlocking locks inside iterations and callbacks, and recursive read locks
//
// These shapes deadlock every time they run:
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
// A callback passed to an iterator helper that calls it with a lock
// held, when the callback takes the same lock for writing: directly, or
// through methods of the value that owns the mutex, at any call depth and
// across packages (each function's locks, and the func parameters it
// calls while holding one, are exported as facts). Embedded mutexes and
// small wrapper types with Lock/RLock methods are followed:
//
//	type Cache struct {
//		sync.RWMutex
//		m map[string]int
//	}
//
//	func (c *Cache) Foreach(f func(k string, v int)) {
//		c.RLock()
//		defer c.RUnlock()
//		for k, v := range c.m {
//			f(k, v)
//		}
//	}
//
//	c.Foreach(func(k string, v int) {
//		c.Delete(k) // wrong: Delete calls c.Lock while Foreach holds c.RLock
//	})
//
// Right: let the callback collect and apply the changes after Foreach
// returns, or have Foreach copy the entries under the read lock and call f
// after releasing it.
//
// Recursive read locking deadlocks as soon as another goroutine calls
// Lock between the two read locks: the writer waits for the first read
// lock, and sync.RWMutex makes the second wait for the writer ("a blocked
// Lock call excludes new readers from acquiring the lock"). It is
// reported wherever the goroutine holds the read lock on every path to
// the second RLock, not only in a range: directly, through a call of the
// same or another package, and in a callback an iterator helper calls
// under its read lock:
//
//	func (a *Account) getNameTag() string {
//		a.mu.RLock()
//		defer a.mu.RUnlock()
//		return a.nameTag
//	}
//
//	func (s *Server) accountInfo(a *Account) *AccountInfo {
//		a.mu.RLock()
//		defer a.mu.RUnlock()
//		return &AccountInfo{NameTag: a.getNameTag()} // wrong: a second RLock of a.mu
//	}
//
// Right: split the method into a locking wrapper and a variant that
// expects the lock held (getNameTagLocked), and call the variant where the
// lock is held; in a callback, use the values the helper passes.
//
// Not reported, because no lock is taken now, or not on every path: a go
// statement or a function literal (time.AfterFunc, a stored or
// registered callback) inside the iteration or under the lock; a callee
// that locks only when a bool parameter says so (if needLock
// { mu.Lock() }) called with a constant false, or with a value the
// analyzer cannot see; a callee that expects the lock held and does
// Unlock, callback, Lock; an Unlock and re-Lock inside the loop body; a
// lock taken in a branch that returns, or in one branch only; a lock
// released in every branch; TryRLock, which never blocks. Locks of
// another value, or of another mutex of the same value, are distinct.
// Outside a range, a write lock under the same goroutine's lock is not
// reported (such code deadlocks the first time it runs, so tests find
// it); the standard library's internal locks are not followed.
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

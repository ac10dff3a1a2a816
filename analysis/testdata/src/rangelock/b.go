package rangelock

import (
	"sync"
	"time"
)

// store's iterator helper calls its callback with the read lock held.
type store struct {
	sync.RWMutex // embedded: s.Lock() locks it
	m            map[string]int
	onEvict      func(string)
	hooks        []func(string)
	seqs         map[string]int
}

func (s *store) Put(k string, v int) { // want Put:`^Lock\(recv\.RWMutex\)$`
	s.Lock()
	s.m[k] = v
	s.Unlock()
}

func (s *store) Foreach(f func(k string, v int)) { // want Foreach:`^RLock\(recv\.RWMutex\); calls p0 under RLock\(recv\.RWMutex\)$`
	s.RLock()
	defer s.RUnlock()
	for k, v := range s.m {
		f(k, v)
	}
}

// evict is one call deeper than Put.
func (s *store) evict(k string, _ int) { // want evict:`^Lock\(recv\.RWMutex\)$`
	s.drop(k)
}

func (s *store) drop(k string) { // want drop:`^Lock\(recv\.RWMutex\)$`
	s.Lock()
	delete(s.m, k)
	s.Unlock()
}

// Positives.

func (s *store) bumpAll() { // want bumpAll:`^RLock\(recv\.RWMutex\)$`
	s.Foreach(func(k string, v int) {
		s.Put(k, v+1) // want `s.Put locks s.RWMutex, whose read lock Foreach holds while it calls this callback: self-deadlock`
	})
}

func (s *store) evictAll() { // want evictAll:`^RLock\(recv\.RWMutex\)$`
	s.Foreach(s.evict) // want `s.evict locks s.RWMutex, whose read lock Foreach holds`
}

// wrapper is a small lock type around sync.RWMutex.
type wrapper struct{ mu sync.RWMutex }

func (w *wrapper) Lock()    { w.mu.Lock() }    // want Lock:`^Lock\(recv\.mu\)$`
func (w *wrapper) Unlock()  { w.mu.Unlock() }  // want Unlock:`^releases Lock\(recv\.mu\)$`
func (w *wrapper) RLock()   { w.mu.RLock() }   // want RLock:`^RLock\(recv\.mu\)$`
func (w *wrapper) RUnlock() { w.mu.RUnlock() } // want RUnlock:`^releases RLock\(recv\.mu\)$`

type registry struct {
	lk    wrapper
	items map[string]int
}

func (r *registry) each(f func(string)) { // want each:`^RLock\(recv\.lk\); calls p0 under RLock\(recv\.lk\)$`
	r.lk.RLock()
	defer r.lk.RUnlock()
	for k := range r.items {
		f(k)
	}
}

func (r *registry) remove(k string) { // want remove:`^Lock\(recv\.lk\)$`
	r.lk.Lock()
	defer r.lk.Unlock()
	delete(r.items, k)
}

func (r *registry) purge() { // want purge:`^RLock\(recv\.lk\)$`
	r.each(func(k string) {
		r.remove(k) // want `r.remove locks r.lk, whose read lock each holds`
	})
}

func (s *store) removeMsg(k string, needLock bool) { // want removeMsg:`^Lock\(recv\.RWMutex\) if p1$`
	if needLock {
		s.Lock()
		defer s.Unlock()
	}
	delete(s.seqs, k)
}

func (s *store) purgeLocked() { // want purgeLocked:`^RLock\(recv\.RWMutex\); Lock\(recv\.RWMutex\)$`
	s.RLock()
	defer s.RUnlock()
	for k := range s.seqs {
		s.removeMsg(k, true) // want `s.removeMsg locks s, whose read lock this goroutine holds around the range: self-deadlock`
	}
}

// Negatives: the false positives real code produced.

// A go statement inside a range under a lock: the goroutine runs later.
func (s *store) goInRange() { // want goInRange:`^RLock\(recv\.RWMutex\)$`
	s.RLock()
	defer s.RUnlock()
	for k, v := range s.m {
		go s.Put(k, v+1)
		go func() { s.Put(k, v) }()
	}
}

// A lock taken inside a closure that runs later: time.AfterFunc, a stored
// callback, a registered hook.
func (s *store) register(f func(string)) { // want register:`^Lock\(recv\.RWMutex\)$`
	s.Lock()
	s.hooks = append(s.hooks, f)
	s.Unlock()
}

func (s *store) later() { // want later:`^RLock\(recv\.RWMutex\)$`
	s.RLock()
	defer s.RUnlock()
	for k := range s.m {
		time.AfterFunc(time.Second, func() { s.drop(k) })
		s.onEvict = func(k string) { s.drop(k) }
	}
}

func (s *store) laterCallbacks() { // want laterCallbacks:`^Lock\(recv\.RWMutex\); RLock\(recv\.RWMutex\)$`
	s.register(func(k string) { s.drop(k) })
	s.Foreach(func(k string, v int) {
		time.AfterFunc(time.Second, func() { s.Put(k, v) })
		go s.drop(k)
	})
}

// A callee whose locking depends on a parameter, called with false.
func (s *store) removeUnderLock() { // want removeUnderLock:`^Lock\(recv\.RWMutex\)$`
	s.Lock()
	defer s.Unlock()
	for k := range s.seqs {
		s.removeMsg(k, false)
	}
}

// A callee that expects the lock held and does Unlock / callback / Lock.
func (s *store) notifyLocked(k string, cb func(string)) {
	s.Unlock()
	cb(k)
	s.Lock()
}

func (s *store) notifyAll(cb func(string)) { // want notifyAll:`^Lock\(recv\.RWMutex\)$`
	s.Lock()
	defer s.Unlock()
	for k := range s.m {
		s.notifyLocked(k, cb)
	}
}

// Unlock then re-Lock inside the loop body.
func (s *store) relock() { // want relock:`^Lock\(recv\.RWMutex\)$`
	s.Lock()
	defer s.Unlock()
	for k := range s.m {
		s.Unlock()
		s.Put(k, 0)
		s.Lock()
	}
}

// A helper that releases its lock before calling the callback.
func (s *store) snapshotEach(f func(k string, v int)) { // want snapshotEach:`^RLock\(recv\.RWMutex\)$`
	s.RLock()
	m := make(map[string]int, len(s.m))
	for k, v := range s.m {
		m[k] = v
	}
	s.RUnlock()
	for k, v := range m {
		f(k, v)
	}
}

func (s *store) bumpSnapshot() { // want bumpSnapshot:`^RLock\(recv\.RWMutex\)$`
	s.snapshotEach(func(k string, v int) { s.Put(k, v+1) })
}

// A callback that writes another value.
func (s *store) writesOtherInForeach(other *store) { // want writesOtherInForeach:`^RLock\(recv\.RWMutex\)$`
	s.Foreach(func(k string, v int) {
		other.Put(k, v)
	})
}

// A helper whose lock is another mutex of the same value than the one
// the callback takes.
type twoLocks struct {
	mu, hookMu sync.Mutex
	m          map[string]int
	hooks      []func()
}

func (t *twoLocks) runHooks(f func(func())) { // want runHooks:`^Lock\(recv\.hookMu\); calls p0 under Lock\(recv\.hookMu\)$`
	t.hookMu.Lock()
	defer t.hookMu.Unlock()
	for _, h := range t.hooks {
		f(h)
	}
}

func (t *twoLocks) set(k string) { // want set:`^Lock\(recv\.mu\)$`
	t.mu.Lock()
	t.m[k]++
	t.mu.Unlock()
}

func (t *twoLocks) fire() { // want fire:`^Lock\(recv\.hookMu\)$`
	t.runHooks(func(h func()) {
		h()
		t.set("fired")
	})
}

// The same false positives on a named mutex field (cache.mu), the form
// the analyzer matched before it followed calls.

func (c *cache) goInRange() { // want goInRange:`^RLock\(recv\.mu\)$`
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, v := range c.m {
		go c.Set(k, v+1)
		go func() {
			c.mu.Lock()
			delete(c.m, k)
			c.mu.Unlock()
		}()
		time.AfterFunc(time.Minute, func() { c.Set(k, 0) })
	}
}

func (c *cache) relockInBody() { // want relockInBody:`^Lock\(recv\.mu\)$`
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		c.mu.Unlock()
		c.Set(k, v+1)
		c.mu.Lock()
	}
}

func (c *cache) removeMsg(k string, needLock bool) { // want removeMsg:`^Lock\(recv\.mu\) if p1$`
	if needLock {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	delete(c.m, k)
}

func (c *cache) sweep() { // want sweep:`^Lock\(recv\.mu\)$`
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		c.removeMsg(k, false)
	}
}

// expireLocked must be called with c.mu held; it releases it around the
// callback.
func (c *cache) expireLocked(k string, onExpire func(string)) {
	c.mu.Unlock()
	onExpire(k)
	c.mu.Lock()
}

func (c *cache) expireAll(onExpire func(string)) { // want expireAll:`^Lock\(recv\.mu\)$`
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		c.expireLocked(k, onExpire)
	}
}

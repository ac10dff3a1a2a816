// Package lockset defines an Analyzer that reports a builtin map held in
// a struct field and accessed without the mutex that guards it
// everywhere else.
//
// # Analyzer lockset
//
// lockset: report map fields accessed without the mutex their other accesses hold
//
// Every real "fatal error: concurrent map writes" we reproduced had the
// map in a struct field next to a mutex, locked correctly in most
// methods and forgotten in one: a read after Unlock, a method that never
// locks, a write under RLock. The analyzer applies Eraser's lockset idea
// to one package: for each struct type with a builtin map field and a
// sync.Mutex or sync.RWMutex field (embedded, a pointer, or a wrapper
// with Lock and Unlock methods), generic types included, it follows each
// function's locks along every path (a lock counts as held at a point
// when every path there took it and has not released it; defer Unlock
// keeps it held to the end; a method whose top-level statements leave
// its receiver's mutex locked or unlocked, as func (c *Cache) lock() {
// c.mu.Lock() }, or a local closure that does (accLock := func() {
// acc.mu.Lock() }), counts as that Lock or Unlock at its call sites),
// infers the mutex that most accesses of the field hold, and reports the
// accesses that hold nothing, or only mutexes that no write of the field
// holds.
//
// Wrong:
//
//	func (c *Cache) Get(k string) *Item {
//		c.mu.Lock()
//		it := c.items[k]
//		c.mu.Unlock()
//		if it == nil {
//			it = c.fallback[k] // fallback is written under c.mu in Set and Reset
//		}
//		return it
//	}
//
//	func (c *Checksums) Get(k string) *Checksum {
//		c.mu.RLock()
//		defer c.mu.RUnlock()
//		c.used[k] = c.m[k] // a write under a read lock: readers run together
//		return c.m[k]
//	}
//
//	func (m *Listener) Serve() error {
//		defer func() {
//			for _, l := range m.protos { // runs at return, after no Lock
//				close(l.conns)
//			}
//		}()
//		...
//	}
//
//	func (c *Controller) syncPod(pod *Pod) {
//		c.podsMu.Lock()
//		defer c.podsMu.Unlock()
//		c.pods[pod.Name] = pod
//		for _, m := range c.managers { // managers is written under c.managersMu
//			m.update(pod)
//		}
//	}
//
//	func (c *Cache) Keys() (keys []string) {
//		c.lock() // func (c *Cache) lock() { c.mu.Lock() }
//		m := c.items // an alias: the same map
//		c.unlock()
//		for k := range m { // a range over c.items without c.mu
//			keys = append(keys, k)
//		}
//		return keys
//	}
//
// Right: take the lock for every access (c.mu.Lock for writes, RLock at
// least for reads), or use sync.Map or a mapguard map.
//
// A field's guard is inferred only on evidence: at least two accesses
// hold the same mutex, more accesses hold it than hold nothing, and the
// field is reached from code that can run concurrently (an exported
// function or method, a function started by go or passed as a value, an
// http handler, a Prometheus Collect method, or what they call). A field
// annotated as gVisor's checklocks does it needs no evidence:
//
//	type Cache struct {
//		mu sync.Mutex
//		// +checklocks:mu
//		items map[string]*Item
//	}
//
// A deferred function literal runs when its function returns: it holds
// the locks held both where it was deferred and at every return (so
// defer c.mu.Unlock() followed by defer func() { ... }() runs it
// locked). A function literal handed to a call runs, now or later, with
// at most the locks held at the call, unless the call also hands over a
// value of the same type or a mutex, which the callee may lock around it
// (c.Range(func...), withLock(&c.mu, func...)); one stored for later
// runs with unknown locks. A local variable defined from a map field (m
// := c.items) and never assigned again is that field, unless the same
// function assigns the field a new map (a swap: it owns the old one), or
// the field is copy-on-write (replaced whole, never written in place but
// right after being replaced) and the copy was taken under the lock.
//
// Accesses that cannot race are left alone: through a value the function
// created (a composite literal or new(T)) and has not yet published (sent,
// stored, or handed to a go statement or closure); through an element of
// a container field of a parameter whose type has no mutex (for _, acc :=
// range o.Accounts, validating options a caller has not shared yet); in
// a function named
// ...Locked, documented as called with the lock held ("must be called
// with c.mu held", +checklocks on the function), or an unexported helper
// whose every call site in the package holds the lock or is on a value
// still under construction; through the receiver of a start-up method
// before it starts its first goroutine (see below); in UnmarshalJSON and
// the other decoding
// methods; in test files; in functions annotated +checklocksignore.
// Accesses inside a closure that runs later with unknown locks count as
// evidence when they hold the lock and are not reported when they do
// not.
//
// A start-up method is one that starts goroutines (a go statement, a
// function value passed to another package such as time.AfterFunc, or a
// call of a function that does) and is an entry point: nothing in the
// package outside tests calls it, starts it with go, or uses it as a
// value, except entry points calling it before they start anything
// themselves (Run(s) calling s.Start()). Such a method owns its receiver
// until its first start; a start inside a loop counts from the loop's
// top. Right, though the helper wants s.mu:
//
//	func (s *Server) Start() {
//		s.checkAuthforWarnings() // "Lock is assumed held"; nothing runs yet
//		s.startGoRoutine(s.acceptLoop)
//		s.checkAuthforWarnings() // reported: acceptLoop may be running
//	}
//
// This trusts that an exported method that starts a value's goroutines
// is called once, before the value is shared.
//
// Right:
//
//	func validate(o *Options) error {
//		for _, acc := range o.Accounts { // Options has no lock: not yet shared
//			if len(acc.limits) > 0 { ... }
//		}
//	}
//
// It does not follow maps returned or passed out of the struct (return
// c.items, f(c.items)), locks taken by helpers that lock conditionally or
// through another value, accesses through an index expression
// (c.shards[i].items), or types from other packages; the race detector
// sees those.
package lockset

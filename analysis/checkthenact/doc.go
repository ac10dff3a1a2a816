// Package checkthenact defines an Analyzer that reports a Load followed
// by a Store (or Delete) of the same key on a concurrent map, or a read
// followed by a write of the same key on a self-locking map type, with
// no lock held across both.
//
// # Analyzer checkthenact
//
// checkthenact: report check-then-act races on concurrent maps
//
// Each call of a sync.Map, xsync, mapguard or concurrent-map is atomic, but
// a Load and a later Store are two operations: another goroutine can store
// or delete the key in between, and one of the two writes is lost.
//
// Wrong:
//
//	if _, ok := sessions.Load(id); !ok {
//		sessions.Store(id, newSession()) // another goroutine may have stored one
//	}
//
//	if v, ok := cache.Load(k); ok && v.(*entry).expired() {
//		cache.Delete(k) // may delete a fresh entry stored in between
//	}
//
// Right:
//
//	sessions.LoadOrStore(id, newSession())
//	if v, ok := cache.Load(k); ok && v.(*entry).expired() {
//		cache.CompareAndDelete(k, v)
//	}
//	counts.Compute(k, func(old int, _ bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp })
//
// Two check-then-acts lose nothing and are not reported. A presence
// check whose value is thrown away, then a Delete, leaves the map as a
// LoadAndDelete at the Delete would (deleting is idempotent, and nothing
// the Load returned is acted on):
//
//	if _, ok := pending.Load(name); ok {
//		pending.Delete(name)
//	}
//
// A cache fill: on the path where the loaded value was not looked at (a
// miss), a Store of a bool, number or string not computed from the loaded
// value, into an unexported field or package variable whose every write
// in the package is such a fill, a Delete or a LoadOrStore. Racing
// fillers store equal values, and no writer keeps state in an entry:
//
//	if v, ok := c.allowed.Load(subject); ok {
//		return v.(bool)
//	}
//	ok := c.check(subject)
//	c.allowed.Store(subject, ok)
//
// A fill is reported when the value is a pointer or struct (callers go on
// changing the one they got: a racing filler's replaces it), when the map
// has another writer (Swap, CompareAndSwap, Compute, or a Store of a value
// computed from a Load) whose state a fill could overwrite, when the map
// is a parameter, an exported field or handed out (its writers are not all
// in sight), and when the check looks at the value. A fill's value is
// taken to be a function of its key: one that is not (a first-seen
// time.Now()) can still be overwritten by a racing filler's, unreported.
// A presence check whose branch must run once per key (it closes or
// counts something) is not told apart from one that may run twice: use
// LoadAndDelete's result there.
//
// The same holds for a map type of your own whose methods each lock the
// value's mutex around a map field ("self-locking": every exported
// method that touches the map takes the mutex). The analyzer recognises
// such types by that structure, not by their names, and reports a read
// method (one that only reads a key and returns something, such as Has,
// Get or Contains) followed by a blind write method (one that assigns the
// key without reading it, such as Set, Put or Add) of the same key on the
// same value. It records what each method does as a fact, so this works
// across packages.
//
// Wrong:
//
//	if !seen.Contains(id) { // Contains: s.mu.Lock(); _, ok := s.items[id]; s.mu.Unlock()
//		seen.Add(id) // Add: s.mu.Lock(); s.items[id] = struct{}{}; s.mu.Unlock()
//	}
//
// Right: one method that checks and writes under one lock.
//
//	func (s *Set) AddIfAbsent(id string) (added bool) {
//		s.mu.Lock()
//		defer s.mu.Unlock()
//		if _, ok := s.items[id]; ok {
//			return false
//		}
//		s.items[id] = struct{}{}
//		return true
//	}
//
// Only a write lock taken before the read and released after the write,
// on every path, makes the pair safe: a lock taken in between, or in one
// branch, or released and taken again, or a read lock (two readers can
// both pass the check) does not. A function whose every caller in the
// package holds the lock (an unexported helper "called with c.mu held",
// never used as a value) counts as holding it. A constructor's call on
// the value it has just allocated (s := &Server{...}; s.registerLocked(a))
// needs no lock and does not count, unless the constructor starts a
// goroutine: nothing else can reach the value yet. A second read of the
// key supersedes the first: double-checked locking (a lock-free Load,
// then Lock, Load again and Store before Unlock) is silent.
//
// A method whose doc comment says it runs on a loop, naming no other
// goroutine ("<Invoked from outbound connection's readLoop>", "called
// only from the run loop"), is trusted to be its receiver's only writer
// of the maps the receiver owns: those reached through its fields, not
// through a pointer to a value with a mutex of its own (c.gw.outsim is
// the connection's; c.srv.accounts belongs to a server every connection
// shares, and stays reported). A sentence with "any", "various",
// "both", "or" and the like ("invoked from any client connection's
// readLoop", "can run from various goroutines") is not such a claim. The
// analyzer takes the comment at its word, as it takes "called with c.mu
// held".
//
// For the if-statement shape of a sync.Map-like Load then Store above
// the analyzer offers LoadOrStore as a suggested fix; for self-locking types
// it offers none (the atomic method may not exist). It does not report
// when the keys or maps differ, a read followed by a Delete of a
// self-locking type (deleting is idempotent), a write method that reads
// the key first (SetIfAbsent, Incr), or on builtin maps (unsyncmap is
// about those).
package checkthenact

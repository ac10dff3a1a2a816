// Package checkthenact defines an Analyzer that reports a Load followed
// by a Store (or Delete) of the same key on a concurrent map with no lock
// held in between.
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
//	if _, ok := cache.Load(k); ok {
//		cache.Delete(k)
//	}
//
// Right:
//
//	sessions.LoadOrStore(id, newSession())
//	cache.LoadAndDelete(k)
//	counts.Compute(k, func(old int, _ bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp })
//
// For the two if-statement shapes above the analyzer offers the rewrite as
// a suggested fix. It does not report when a mutex is held across both
// calls, when the keys or maps differ, or on builtin maps (unsyncmap is
// about those).
package checkthenact

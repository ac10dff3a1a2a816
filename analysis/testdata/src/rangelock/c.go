package rangelock

import (
	"sync"
	"time"
)

// Recursive read locking: an RLock of a mutex whose read lock the same
// goroutine holds. sync.RWMutex forbids it: a Lock call that arrives in
// between waits for the first read lock and blocks the second.

type index struct {
	mu    sync.RWMutex
	other sync.RWMutex
	m     map[string]int
	fast  bool
}

func (x *index) Len() int { // want Len:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.m)
}

// count is one call deeper than Len.
func (x *index) count() int { // want count:`^RLock\(recv\.mu\)$`
	return x.Len()
}

func (x *index) Each(f func(k string, v int)) { // want Each:`^RLock\(recv\.mu\); calls p0 under RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	for k, v := range x.m {
		f(k, v)
	}
}

func (x *index) lookup(k string, _ int) { // want lookup:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	_ = x.m[k]
	x.mu.RUnlock()
}

// size locks only when asked to.
func (x *index) size(needLock bool) int { // want size:`^RLock\(recv\.mu\) if p0$`
	if needLock {
		x.mu.RLock()
		defer x.mu.RUnlock()
	}
	return len(x.m)
}

// Positives.

func (x *index) nestedDirect() { // want nestedDirect:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.mu.RLock() // want `x.mu.RLock read-locks x.mu again while this goroutine holds its read lock: recursive read locking`
	x.mu.RUnlock()
}

func (x *index) Dump() []string { // want Dump:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	keys := make([]string, 0, x.Len()) // want `x.Len read-locks x.mu, whose read lock this goroutine already holds: recursive read locking, forbidden by sync.RWMutex`
	for k := range x.m {
		keys = append(keys, k)
	}
	return keys
}

func (x *index) deeper() int { // want deeper:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count() // want `x.count read-locks x.mu, whose read lock this goroutine already holds`
}

func (x *index) sizeLocked() int { // want sizeLocked:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.size(true) // want `x.size read-locks x.mu`
}

// The lock is still held after a branch that releases it and returns.
func (x *index) afterEarlyReturn(k string) int { // want afterEarlyReturn:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	if _, ok := x.m[k]; !ok {
		x.mu.RUnlock()
		return 0
	}
	n := x.Len() // want `x.Len read-locks x.mu, whose read lock this goroutine already holds`
	x.mu.RUnlock()
	return n
}

func (x *index) lookupInEach() { // want lookupInEach:`^RLock\(recv\.mu\)$`
	x.Each(func(k string, v int) {
		if x.Len() > v { // want `x.Len read-locks x.mu, whose read lock Each holds while it calls this callback: recursive read locking`
			return
		}
	})
}

func (x *index) methodValueInEach() { // want methodValueInEach:`^RLock\(recv\.mu\)$`
	x.Each(x.lookup) // want `x.lookup read-locks x.mu, whose read lock Each holds while it calls this callback: recursive read locking`
}

func (s *store) readsInForeach() { // want readsInForeach:`^RLock\(recv\.RWMutex\)$`
	s.Foreach(func(k string, v int) {
		s.RLock() // want `s.RLock read-locks s.RWMutex, whose read lock Foreach holds while it calls this callback: recursive read locking`
		_ = s.m[k]
		s.RUnlock()
	})
}

// Negatives.

// The read lock of another value, or of another mutex of the same value.
func (x *index) otherValue(y *index) int { // want otherValue:`^RLock\(recv\.mu\); RLock\(recv\.other\); RLock\(p0\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.other.RLock()
	x.other.RUnlock()
	return y.Len()
}

// RLock after RUnlock.
func (x *index) afterRelease() int { // want afterRelease:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	n := len(x.m)
	x.mu.RUnlock()
	return n + x.Len()
}

// Released in every case of a switch, or in both branches of an if.
func (x *index) releasedInEveryBranch(k string) int { // want releasedInEveryBranch:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	switch x.m[k] {
	case 0:
		x.mu.RUnlock()
	default:
		x.mu.RUnlock()
	}
	if x.fast {
		x.mu.RLock()
		x.mu.RUnlock()
	} else {
		x.mu.RLock()
		defer x.mu.RUnlock()
		return x.m[k]
	}
	return x.Len()
}

// A read lock taken in a branch that returns, or in one branch only.
func (x *index) fastPath(k string) int { // want fastPath:`^RLock\(recv\.mu\)$`
	if x.fast {
		x.mu.RLock()
		defer x.mu.RUnlock()
		return x.m[k]
	}
	for range 3 {
		if x.fast {
			x.mu.RLock()
			x.mu.RUnlock()
			continue
		}
	}
	return x.Len()
}

// Goroutines started and closures that run later do not hold the lock.
func (x *index) later() { // want later:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	go x.Len()
	go func() { _ = x.Len() }()
	time.AfterFunc(time.Second, func() { _ = x.count() })
}

func (x *index) laterInEach() { // want laterInEach:`^RLock\(recv\.mu\)$`
	x.Each(func(string, int) {
		go x.Len()
		time.AfterFunc(time.Second, func() { x.lookup("k", 0) })
	})
}

// TryRLock never blocks: it fails while a writer waits.
func (x *index) try() int { // want try:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.mu.TryRLock() {
		x.mu.RUnlock()
	}
	return len(x.m)
}

// A callee that locks only when asked, called with false or with a value
// the analyzer cannot see.
func (x *index) sizeUnlocked() int { // want sizeUnlocked:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.size(false) + x.size(x.fast)
}

// RUnlock then RLock again around a call inside the loop body.
func (x *index) relockEach(keys []string) { // want relockEach:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	for range keys {
		x.mu.RUnlock()
		_ = x.Len()
		x.mu.RLock()
	}
}

// A helper that releases its read lock before calling the callback.
func (s *store) lookupSnapshot() { // want lookupSnapshot:`^RLock\(recv\.RWMutex\)$`
	s.snapshotEach(func(k string, v int) {
		s.RLock()
		_ = s.m[k]
		s.RUnlock()
	})
}

// A callback that read-locks another mutex, or another value.
func (x *index) otherInEach(y *index) { // want otherInEach:`^RLock\(recv\.mu\)$`
	x.Each(func(k string, v int) {
		x.other.RLock()
		x.other.RUnlock()
		_ = y.Len()
	})
}

// A callee that expects the read lock held and does RUnlock, callback,
// RLock: the callback runs without it.
func (x *index) notifyRLocked(k string, cb func(string)) {
	x.mu.RUnlock()
	cb(k)
	x.mu.RLock()
}

func (x *index) notifyAll() { // want notifyAll:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	defer x.mu.RUnlock()
	for k := range x.m {
		x.notifyRLocked(k, func(k string) { x.lookup(k, 0) })
	}
}

// An iterator helper that read-locks only when asked to.
func (x *index) eachMaybe(lock bool, f func(k string)) { // want eachMaybe:`^RLock\(recv\.mu\) if p0; calls p1 under RLock\(recv\.mu\) if p0$`
	if lock {
		x.mu.RLock()
		defer x.mu.RUnlock()
	}
	for k := range x.m {
		f(k)
	}
}

func (x *index) eachMaybeLocked() { // want eachMaybeLocked:`^RLock\(recv\.mu\)$`
	x.eachMaybe(true, func(k string) {
		x.lookup(k, 0) // want `x.lookup read-locks x.mu, whose read lock eachMaybe holds while it calls this callback: recursive read locking`
	})
}

func (x *index) eachMaybeUnlocked() {
	x.eachMaybe(false, func(k string) { x.lookup(k, 0) })
	x.eachMaybe(x.fast, func(k string) { x.lookup(k, 0) })
}

// A helper that releases the read lock its caller took: the lock is not
// held after it.
func (x *index) readUnlockAndLog(k string) { // want readUnlockAndLog:`^releases RLock\(recv\.mu\)$`
	x.mu.RUnlock()
	_ = k
}

func (x *index) getThenCount(k string) int { // want getThenCount:`^RLock\(recv\.mu\)$`
	x.mu.RLock()
	v := x.m[k]
	x.readUnlockAndLog(k)
	return v + x.Len()
}

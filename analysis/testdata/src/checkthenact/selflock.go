package checkthenact

import "sync"

// SafeMap is a self-locking map type: every exported method takes mu
// around its access to m. Has and Get read a key, Set writes one.
type SafeMap[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (s *SafeMap[K, V]) Has(k K) bool { // want Has:`reads .m\[k\] under mu`
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.m[k]
	return ok
}

func (s *SafeMap[K, V]) Get(k K) (V, bool) { // want Get:`reads .m\[k\] under mu`
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[k]
	return v, ok
}

func (s *SafeMap[K, V]) Set(k K, v V) { // want Set:`writes .m\[k\] under mu`
	s.mu.Lock()
	s.m[k] = v
	s.mu.Unlock()
}

// SetIfAbsent checks and writes under one lock: not a blind write.
func (s *SafeMap[K, V]) SetIfAbsent(k K, v V) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return false
	}
	s.m[k] = v
	return true
}

func (s *SafeMap[K, V]) Delete(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
}

func (s *SafeMap[K, V]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Set of strings with an embedded mutex.
type Set struct {
	sync.Mutex
	items map[string]struct{}
}

func (s *Set) Contains(x string) bool { // want Contains:`reads .items\[x\] under its embedded mutex`
	s.Lock()
	defer s.Unlock()
	_, ok := s.items[x]
	return ok
}

func (s *Set) Add(x string) { // want Add:`writes .items\[x\] under its embedded mutex`
	s.Lock()
	defer s.Unlock()
	s.items[x] = struct{}{}
}

// Positives.

func hasThenSet(s *SafeMap[string, int], k string) {
	if !s.Has(k) {
		s.Set(k, 1) // want `Set of s after Has of the same key at line 77, with no lock held across both: each call locks s.mu on its own`
	}
}

func getThenSet(s *SafeMap[string, int], k string) {
	v, _ := s.Get(k)
	s.Set(k, v+1) // want `Set of s after Get of the same key at line 83`
}

type server2 struct {
	seen *Set
}

func (sv *server2) once(id string) bool {
	if sv.seen.Contains(id) {
		return false
	}
	sv.seen.Add(id) // want `Add of sv.seen after Contains of the same key at line 92, with no lock held across both: each call locks sv.seen's mutex on its own`
	return true
}

// Negatives.

func setIfAbsent(s *SafeMap[string, int], k string) {
	s.SetIfAbsent(k, 1)
}

func hasThenSetOtherKey(s *SafeMap[string, int], a, b string) {
	if !s.Has(a) {
		s.Set(b, 1)
	}
}

func hasThenSetOtherMap(s, t *SafeMap[string, int], k string) {
	if !s.Has(k) {
		t.Set(k, 1)
	}
}

func hasThenDelete(s *SafeMap[string, int], k string) {
	if s.Has(k) {
		s.Delete(k) // idempotent: not a lost update
	}
}

func setThenGet(s *SafeMap[string, int], k string) int {
	s.Set(k, 1)
	v, _ := s.Get(k)
	return v
}

func hasDiscarded(s *SafeMap[string, int], k string) {
	s.Has(k)
	s.Set(k, 1)
}

var outer sync.Mutex

func outerLockAcross(s *SafeMap[string, int], k string) {
	outer.Lock()
	defer outer.Unlock()
	if !s.Has(k) {
		s.Set(k, 1)
	}
}

func exclusiveBranchesSelfLocking(s *SafeMap[string, int], k string, read bool) int {
	if read {
		v, _ := s.Get(k)
		return v
	}
	s.Set(k, 0)
	return 0
}

// NotSelfLocking has an exported method that touches the map with no
// lock: the type does not lock the map itself, so none of its methods
// get a fact and its callers are not judged by them.
type NotSelfLocking struct {
	mu sync.Mutex
	m  map[string]int
}

func (n *NotSelfLocking) Get(k string) (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.m[k]
	return v, ok
}

func (n *NotSelfLocking) Set(k string, v int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m[k] = v
}

func (n *NotSelfLocking) Reset(k string) {
	n.m[k] = 0
}

func notSelfLocking(n *NotSelfLocking, k string) {
	if _, ok := n.Get(k); !ok {
		n.Set(k, 1)
	}
}

// Counter's Incr reads and writes the key under one lock: not a blind
// write, so Get then Incr is not reported.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *Counter) Get(k string) int { // want Get:`reads .counts\[k\] under mu`
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[k]
}

func (c *Counter) Incr(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[k]++
}

func getThenIncr(c *Counter, k string) {
	if c.Get(k) < 10 {
		c.Incr(k)
	}
}

// TwoSections unlocks and locks again inside one method: its read is not
// one critical section, so it gets no fact.
type TwoSections struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *TwoSections) Get(k string) int {
	t.mu.Lock()
	v := t.m[k]
	t.mu.Unlock()
	t.mu.Lock()
	v += t.m[k]
	t.mu.Unlock()
	return v
}

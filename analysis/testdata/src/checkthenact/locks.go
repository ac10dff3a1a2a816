package checkthenact

import (
	"sync"

	"github.com/mapguard/mapguard"
)

// Only a write lock held from before the Load to after the Store, on
// every path, orders them.

func lockBetween(m *mapguard.Map[string, int], k string) {
	v, _ := m.Load(k)
	mu.Lock()
	m.Store(k, v) // want `Store of m after a Load of the same key at line 13`
	mu.Unlock()
}

type entry struct {
	mu   sync.Mutex
	hits int
}

func unrelatedLockInOneBranch(m *sync.Map, k string) {
	var e *entry
	if v, ok := m.Load(k); !ok {
		e = &entry{}
	} else {
		e = v.(*entry)
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
	}
	m.Store(k, e) // want `Store of m after a Load of the same key at line 26`
}

func lockReleasedBetween(m *mapguard.Map[string, int], k string) {
	mu.Lock()
	v, _ := m.Load(k)
	mu.Unlock()
	mu.Lock()
	m.Store(k, v+1) // want `Store of m after a Load of the same key at line 39`
	mu.Unlock()
}

var rw sync.RWMutex

func readLockDoesNotSerialize(m *mapguard.Map[string, int], k string) {
	rw.RLock()
	defer rw.RUnlock()
	v, _ := m.Load(k)
	m.Store(k, v+1) // want `Store of m after a Load of the same key at line 51`
}

func lockInOneBranchOnly(m *mapguard.Map[string, int], k string, careful bool) {
	if careful {
		mu.Lock()
	}
	v, _ := m.Load(k)
	m.Store(k, v+1) // want `Store of m after a Load of the same key at line 59`
	if careful {
		mu.Unlock()
	}
}

// Negatives: one acquisition held across both.

func heldAcrossExplicit(m *mapguard.Map[string, int], k string) {
	mu.Lock()
	v, _ := m.Load(k)
	m.Store(k, v+1)
	mu.Unlock()
}

func heldAcrossEarlyReturn(m *mapguard.Map[string, int], k string) int {
	mu.Lock()
	v, ok := m.Load(k)
	if ok {
		mu.Unlock()
		return v
	}
	m.Store(k, 1)
	mu.Unlock()
	return 1
}

func heldAcrossWithUnrelatedLock(m *sync.Map, k string) {
	mu.Lock()
	defer mu.Unlock()
	var e *entry
	if v, ok := m.Load(k); ok {
		e = v.(*entry)
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
	} else {
		e = &entry{}
	}
	m.Store(k, e)
}

func heldAcrossSwitch(m *mapguard.Map[string, int], k string, op int) {
	mu.Lock()
	defer mu.Unlock()
	v, _ := m.Load(k)
	switch op {
	case 0:
		return
	case 1:
		v++
	default:
		v--
	}
	m.Store(k, v)
}

func loadReturnsFirst(m *mapguard.Map[string, int], k string) int {
	if v, ok := m.Load(k); ok {
		return v
	}
	return 0
}

func loadInLoopThatReturns(m *mapguard.Map[string, int], keys []string) {
	for _, k := range keys {
		if v, ok := m.Load(k); ok {
			_ = v
			return
		}
	}
}

// Every caller holds the mutex that serializes the Load and the Store.

type registry struct {
	mu    sync.Mutex
	byKey *mapguard.Map[string, int]
}

// bumpLocked must be called with r.mu held.
func (r *registry) bumpLocked(k string) {
	v, _ := r.byKey.Load(k)
	r.byKey.Store(k, v+1)
}

func (r *registry) Bump(k string) {
	r.mu.Lock()
	r.bumpLocked(k)
	r.mu.Unlock()
}

func (r *registry) BumpAll(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.bumpLocked(k)
	}
}

func bumpVia(r *registry, k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bumpLocked(k)
}

// A helper with one caller that does not hold the lock is reported.

type registry2 struct {
	mu    sync.Mutex
	byKey *mapguard.Map[string, int]
}

func (r *registry2) bumpLocked(k string) {
	v, _ := r.byKey.Load(k)
	r.byKey.Store(k, v+1) // want `Store of r.byKey after a Load of the same key at line 174`
}

func (r *registry2) Bump(k string) {
	r.mu.Lock()
	r.bumpLocked(k)
	r.mu.Unlock()
}

func (r *registry2) BumpRacy(k string) {
	r.bumpLocked(k)
}

// A helper passed around as a value may be called from anywhere.

type registry3 struct {
	mu    sync.Mutex
	byKey *mapguard.Map[string, int]
}

func (r *registry3) bumpLocked(k string) {
	v, _ := r.byKey.Load(k)
	r.byKey.Store(k, v+1) // want `Store of r.byKey after a Load of the same key at line 196`
}

func (r *registry3) Bump(k string) {
	r.mu.Lock()
	r.bumpLocked(k)
	r.mu.Unlock()
}

func (r *registry3) Hook() func(string) { return r.bumpLocked }

// A helper that drops its caller's lock in the middle is reported.

type registry4 struct {
	mu    sync.Mutex
	byKey *mapguard.Map[string, int]
}

func (r *registry4) bumpLocked(k string, slow func()) {
	v, _ := r.byKey.Load(k)
	r.mu.Unlock()
	slow()
	r.mu.Lock()
	r.byKey.Store(k, v+1) // want `Store of r.byKey after a Load of the same key at line 216`
}

func (r *registry4) Bump(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bumpLocked(k, func() {})
}

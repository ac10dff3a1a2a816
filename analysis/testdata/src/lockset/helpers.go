package lockset

import "sync"

// Locks taken through helper methods and maps reached through a local
// alias.

type Registry2 struct {
	mu    sync.RWMutex
	peers map[string]int
	seen  map[string]bool
}

func (r *Registry2) lock()    { r.mu.Lock() }
func (r *Registry2) unlock()  { r.mu.Unlock() }
func (r *Registry2) rlock()   { r.mu.RLock() }
func (r *Registry2) runlock() { r.mu.RUnlock() }

func (r *Registry2) Add(name string, n int) {
	r.lock()
	r.peers[name] = n
	r.seen[name] = true
	r.unlock()
}

func (r *Registry2) Remove(name string) {
	r.lock()
	defer r.unlock()
	delete(r.peers, name)
	delete(r.seen, name)
}

func (r *Registry2) Get(name string) int {
	r.rlock()
	defer r.runlock()
	return r.peers[name]
}

// Known reads after the helper unlocked.
func (r *Registry2) Known(name string) bool {
	r.rlock()
	n := r.peers[name]
	r.runlock()
	return n > 0 || r.seen[name] // want `read of r.seen without r.mu held`
}

// Mark writes under the helper's read lock.
func (r *Registry2) Mark(name string) {
	r.rlock()
	defer r.runlock()
	r.seen[name] = true // want `write to r.seen under r.mu.RLock only`
}

// Names ranges over an alias of seen after unlocking: seen is only ever
// written in place, so the alias is the live map.
func (r *Registry2) Names() []string {
	r.lock()
	m := r.seen
	r.unlock()
	var out []string
	for k := range m { // want `range over r.seen without r.mu held`
		out = append(out, k)
	}
	return out
}

// Negatives.

// Count ranges over an alias under the lock.
func (r *Registry2) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.peers
	n := 0
	for range m {
		n++
	}
	return n + len(m)
}

// Snapshot copies peers' pointer under the lock, but Add and Remove
// write into that same map in place.
func (r *Registry2) Snapshot() int {
	r.rlock()
	m := r.peers
	r.runlock()
	n := 0
	for _, v := range m { // want `range over r.peers without r.mu held`
		n += v
	}
	return n
}

// Swap takes the map out under the lock and owns the old one.
func (r *Registry2) Swap() map[string]int {
	r.lock()
	old := r.peers
	r.peers = map[string]int{}
	r.unlock()
	for k := range old {
		old[k]++
	}
	return old
}

// Pick's m is reassigned to a local map: not an alias.
func (r *Registry2) Pick(local bool) int {
	m := r.peers
	if local {
		m = map[string]int{"x": 1}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return m["x"]
}

// lockAndUnlock leaves nothing held.
func (r *Registry2) lockAndUnlock() {
	r.mu.Lock()
	r.mu.Unlock()
}

func (r *Registry2) Touch(name string) {
	r.lockAndUnlock()
	r.lock()
	r.seen[name] = true
	r.unlock()
}

// Store has Lock and Unlock methods of its own around its mutex field.
type Store struct {
	mu   sync.Mutex
	data map[string]string
}

func (s *Store) Lock()   { s.mu.Lock() }
func (s *Store) Unlock() { s.mu.Unlock() }

func (s *Store) Set(k, v string) {
	s.Lock()
	s.data[k] = v
	s.Unlock()
}

func (s *Store) Del(k string) {
	s.Lock()
	defer s.Unlock()
	delete(s.data, k)
}

func (s *Store) Get(k string) string {
	s.Lock()
	defer s.Unlock()
	return s.data[k]
}

// Route takes its account's lock through local closures, as
// nats-server's updateRouteSubscriptionMap does (route.go): rm is an
// alias of acc.rm, written under acc.mu held by accLock.
type routeAccount struct {
	mu  sync.Mutex
	smu sync.Mutex
	rm  map[string]int32
}

func (a *routeAccount) Sub(key string) {
	a.mu.Lock()
	a.rm[key]++
	a.mu.Unlock()
}

func (a *routeAccount) Unsub(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.rm, key)
}

func UpdateRouteMap(acc *routeAccount, key string, delta int32, isq bool) {
	accLock := func() {
		if isq {
			acc.smu.Lock()
		}
		acc.mu.Lock()
	}
	accUnlock := func() {
		acc.mu.Unlock()
		if isq {
			acc.smu.Unlock()
		}
	}
	accLock()
	rm := acc.rm
	if n := rm[key] + delta; n <= 0 {
		delete(rm, key)
	} else {
		rm[key] = n
	}
	accUnlock()
	_ = rm[key] // want `read of acc.rm without acc.mu held`
}

// Limits is copy-on-write: SetLimits builds a new map and stores it; no
// one writes into a stored map, so a pointer copied under the lock is the
// reader's (nats-server's Account.jsLimits, JetStreamUsage).
type Limits struct {
	mu     sync.RWMutex
	byTier map[string]int
}

func (l *Limits) SetLimits(tiers []string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byTier = map[string]int{}
	for _, t := range tiers {
		l.byTier[t] = n
	}
}

func (l *Limits) Clear() {
	l.mu.Lock()
	l.byTier = nil
	l.mu.Unlock()
}

func (l *Limits) Tier(t string) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.byTier[t]
}

func (l *Limits) Has(t string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.byTier[t]
	return ok
}

func (l *Limits) Total() int {
	l.mu.RLock()
	m := l.byTier
	l.mu.RUnlock()
	n := 0
	for _, v := range m {
		n += v
	}
	return n + len(m)
}

package lockset

import (
	"net/http"
	"sync"
)

// Positives.

// Cache is the textbook shape: a read after Unlock.
type Cache struct {
	mu       sync.Mutex
	items    map[string]int
	fallback map[string]int
}

func (c *Cache) Set(k string, v int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[k] = v
	c.fallback[k] = v
}

func (c *Cache) Get(k string) int {
	c.mu.Lock()
	v, ok := c.items[k]
	c.mu.Unlock()
	if !ok {
		v = c.fallback[k] // want `read of c.fallback without c.mu held; it is written under c.mu at line 21 \(and 1 other accesses hold it\)`
	}
	return v
}

func (c *Cache) Len() int {
	return len(c.items) // want `len of c.items without c.mu held; it is written under c.mu at line 20 \(and \d+ other accesses hold it\)`
}

// Unlocked on one path only: the lock is taken in one branch.
func (c *Cache) Touch(k string, fast bool) {
	if !fast {
		c.mu.Lock()
	}
	c.items[k]++ // want `write to c.items without c.mu held`
	if !fast {
		c.mu.Unlock()
	}
}

// A value from a constructor function is as fresh as a literal.
func Prefilled() *Cache {
	c := NewCache(nil)
	c.items["x"] = 1
	return c
}

// Registry embeds its RWMutex and writes under the read lock.
type Registry struct {
	sync.RWMutex
	byName map[string]string
}

func (r *Registry) Add(name, addr string) {
	r.Lock()
	r.byName[name] = addr
	r.Unlock()
}

func (r *Registry) Lookup(name string) string {
	r.RLock()
	defer r.RUnlock()
	if a, ok := r.byName[name]; ok {
		return a
	}
	r.byName[name] = "" // want `write to r.byName under r.RWMutex.RLock only`
	return ""
}

// Annotated fields need no evidence.
type Annotated struct {
	mu sync.Mutex
	// +checklocks:mu
	peers map[string]bool
}

func (a *Annotated) Peers() int {
	return len(a.peers) // want `len of a.peers without a.mu held; the field is annotated \+checklocks:mu`
}

// A goroutine in an unexported method deletes without the lock.
type Sweeper struct {
	mu   sync.Mutex
	live map[int]bool
}

func (s *Sweeper) Add(id int) {
	s.mu.Lock()
	s.live[id] = true
	s.mu.Unlock()
}

func (s *Sweeper) Has(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[id]
}

func (s *Sweeper) Remove(id int) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

func (s *Sweeper) start() {
	go func() {
		for id := range s.live { // want `range over s.live without s.mu held`
			delete(s.live, id) // want `delete from s.live without s.mu held`
		}
	}()
}

// A helper documented as needing the lock, called without it.
type Pool struct {
	mu    sync.Mutex
	conns map[string]int
}

// removeLocked drops a connection. Must be called with p.mu held.
func (p *Pool) removeLocked(k string) {
	delete(p.conns, k)
}

func (p *Pool) Put(k string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[k] = n
}

func (p *Pool) Drop(k string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[k] > 0 {
		p.removeLocked(k)
	}
}

func (p *Pool) Expire(k string) {
	p.removeLocked(k) // want `call of p.removeLocked without p.mu held; removeLocked expects its caller to hold it`
}

// Negatives.

// NewCache builds the value before anyone else can see it.
func NewCache(seed map[string]int) *Cache {
	c := &Cache{items: map[string]int{}, fallback: map[string]int{}}
	for k, v := range seed {
		c.items[k] = v
		c.fallback[k] = v
	}
	c.load()
	return c
}

// load is only called on a value under construction.
func (c *Cache) load() {
	c.items["default"] = 0
}

// getLocked is named for its contract.
func (c *Cache) getLocked(k string) int { return c.items[k] }

// Reset unlocks and locks again inside the loop.
func (c *Cache) Reset(keys []string) {
	for _, k := range keys {
		c.mu.Lock()
		delete(c.items, k)
		c.mu.Unlock()
	}
}

// Early return with the unlock before it.
func (c *Cache) Pop(k string) (int, bool) {
	c.mu.Lock()
	v, ok := c.items[k]
	if !ok {
		c.mu.Unlock()
		return 0, false
	}
	delete(c.items, k)
	delete(c.fallback, k)
	c.mu.Unlock()
	return v, true
}

// Switch with the lock held in every clause.
func (c *Cache) Apply(op string, k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch op {
	case "del":
		delete(c.items, k)
	case "get":
		_ = c.getLocked(k)
	default:
		c.items[k] = 1
	}
}

// A closure that runs later takes its own lock.
func (c *Cache) Later() func() {
	return func() {
		c.mu.Lock()
		c.items["x"] = 1
		c.mu.Unlock()
	}
}

// A helper whose every caller holds the lock.
func (c *Cache) sum() int {
	n := 0
	for _, v := range c.items {
		n += v
	}
	return n
}

func (c *Cache) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sum()
}

// Counter has no evidence: only one access holds the lock.
type Counter struct {
	mu   sync.Mutex
	hits map[string]int
}

func (c *Counter) Hit(k string) {
	c.mu.Lock()
	c.hits[k]++
	c.mu.Unlock()
}

func (c *Counter) Peek(k string) int { return c.hits[k] }

// Local has a map and a mutex but is never used concurrently: every
// function is unexported and nothing starts a goroutine.
type local struct {
	mu sync.Mutex
	m  map[int]int
}

func (l *local) put(k int) {
	l.mu.Lock()
	l.m[k] = 1
	l.mu.Unlock()
}

func (l *local) put2(k int) {
	l.mu.Lock()
	l.m[k] = 2
	l.mu.Unlock()
}

func (l *local) get(k int) int { return l.m[k] }

// Server takes the lock in its handler; RLock for reads is fine.
type Server struct {
	mu    sync.RWMutex
	users map[string]string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	name := s.users[r.URL.Path]
	s.mu.RUnlock()
	_, _ = w.Write([]byte(name))
}

func (s *Server) SetUser(id, name string) {
	s.mu.Lock()
	s.users[id] = name
	s.mu.Unlock()
}

// UnmarshalJSON decodes into a value nobody shares yet.
func (s *Server) UnmarshalJSON(b []byte) error {
	s.users = map[string]string{}
	s.users["raw"] = string(b)
	return nil
}

// A deferred unlock after a conditional early return.
func (s *Server) Rename(id, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return false
	}
	s.users[id] = name
	return true
}

// Started publishes the value to a goroutine only after filling it.
func Started() *Sweeper {
	s := &Sweeper{live: map[int]bool{}}
	s.live[1] = true
	s.start()
	return s
}

// Ignored says so.
// +checklocksignore
func (s *Sweeper) Ignored() int { return len(s.live) }

// Two values of one type: locking a's mutex does not guard b's map, but
// each is locked for its own access.
func Merge(a, b *Cache) {
	a.mu.Lock()
	b.mu.Lock()
	for k, v := range b.items {
		a.items[k] = v
	}
	b.mu.Unlock()
	a.mu.Unlock()
}

// Evicter's onEvict is a callback the LRU calls under c.lock; it says so
// in its body (go-zero core/collection/cache.go).
type Evicter struct {
	lock sync.Mutex
	data map[string]any
	lru  func(key string, evict func(string))
}

func (c *Evicter) Set(k string, v any) {
	c.lock.Lock()
	c.data[k] = v
	c.lru(k, c.onEvict)
	c.lock.Unlock()
}

func (c *Evicter) Del(k string) {
	c.lock.Lock()
	delete(c.data, k)
	c.lock.Unlock()
}

func (c *Evicter) onEvict(key string) {
	// already locked
	delete(c.data, key)
}

// Sublist's match locks only when asked (nats-server sublist.go).
type Sublist struct {
	sync.RWMutex
	cache map[string]int
}

func (s *Sublist) Insert(k string) {
	s.Lock()
	s.cache[k] = 1
	s.Unlock()
}

func (s *Sublist) Remove(k string) {
	s.Lock()
	delete(s.cache, k)
	s.Unlock()
}

func (s *Sublist) Match(k string) int       { return s.match(k, true) }
func (s *Sublist) matchNoLock(k string) int { return s.match(k, false) }

func (s *Sublist) match(k string, doLock bool) int {
	if doLock {
		s.RLock()
	}
	n := s.cache[k]
	if doLock {
		s.RUnlock()
	}
	return n
}

// clear drops everything. Lock MUST NOT be held on entry.
func (s *Sublist) clear() {
	s.Lock()
	clear(s.cache)
	s.Unlock()
}

func (s *Sublist) Reset() { s.clear() }

// sendStats' doc is stale: it locks (nats-server events.go sendStatsz).
type Stats struct {
	mu      sync.RWMutex
	clients map[int]bool
}

func (s *Stats) Add(id int) {
	s.mu.Lock()
	s.clients[id] = true
	s.mu.Unlock()
}

func (s *Stats) Del(id int) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
}

// sendStats publishes the counts.
// Lock should be held.
func (s *Stats) sendStats() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.clients)
}

func (s *Stats) Update() { go s.sendStats() }

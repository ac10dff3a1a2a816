package rangelock

import (
	"sync"

	"github.com/mapguard/mapguard"
	cmap "github.com/orcaman/concurrent-map/v2"
	"github.com/puzpuzpuz/xsync/v4"
)

type cache struct {
	mu    sync.RWMutex
	other sync.Mutex
	m     map[string]int
}

func (c *cache) Set(k string, v int) { // want Set:`^Lock\(recv\.mu\)$`
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = v
}

func (c *cache) Note(k string) { // want Note:`^Lock\(recv\.other\)$`
	c.other.Lock()
	defer c.other.Unlock()
}

// Positives.

func (c *cache) expire() { // want expire:`^RLock\(recv\.mu\); Lock\(recv\.mu\)$`
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, v := range c.m {
		if v < 0 {
			c.mu.Lock() // want `c.mu.Lock inside a range over data guarded by c.mu, whose read lock this goroutine holds: self-deadlock`
			delete(c.m, k)
			c.mu.Unlock()
		}
	}
}

func (c *cache) bump() { // want bump:`^RLock\(recv\.mu\); Lock\(recv\.mu\)$`
	c.mu.RLock()
	for k, v := range c.m {
		c.Set(k, v+1) // want `c.Set locks c.mu, whose read lock this goroutine holds around the range: self-deadlock`
	}
	c.mu.RUnlock()
}

var (
	mu    sync.Mutex
	table = map[string]int{}
)

func doubleLock() {
	mu.Lock()
	for k := range table {
		mu.Lock() // want `mu.Lock inside a range over data guarded by mu, whose write lock this goroutine holds`
		delete(table, k)
		mu.Unlock()
	}
	mu.Unlock()
}

func (c *cache) readInsideRead() { // want readInsideRead:`^RLock\(recv\.mu\)$`
	c.mu.RLock()
	defer c.mu.RUnlock()
	for range c.m {
		c.mu.RLock() // want `c.mu.RLock read-locks c.mu again while this goroutine holds its read lock: recursive read locking, forbidden by sync.RWMutex: it deadlocks as soon as another goroutine calls Lock in between`
		c.mu.RUnlock()
	}
}

func iterCbWrite(m cmap.ConcurrentMap[string, int]) {
	m.IterCb(func(k string, v int) {
		if v == 0 {
			m.Remove(k) // want `m.Remove inside the IterCb callback of the same map: IterCb holds the shard's read lock`
		}
	})
}

func computeSameMap(m *mapguard.Map[string, int]) {
	m.Compute("a", func(old int, loaded bool) (int, mapguard.ComputeOp) {
		m.Store("b", old) // want `m.Store inside the Compute callback of the same map`
		return old + 1, mapguard.UpdateOp
	})
}

func xsyncLoadOrCompute(m *xsync.Map[string, int]) {
	m.LoadOrCompute("a", func() (int, bool) {
		m.Delete("b") // want `m.Delete inside the LoadOrCompute callback of the same map`
		return 1, false
	})
}

type gcache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (g *gcache[K, V]) clearAll() { // want clearAll:`^RLock\(recv\.mu\); Lock\(recv\.mu\)$`
	g.mu.RLock()
	defer g.mu.RUnlock()
	for k := range g.m {
		g.mu.Lock() // want `g.mu.Lock inside a range`
		delete(g.m, k)
		g.mu.Unlock()
	}
}

// Negatives.

var sessions sync.Map

func syncMapRangeWrites() {
	sessions.Range(func(k, v any) bool {
		sessions.Delete(k) // allowed by sync.Map's documentation
		sessions.Store(k, v)
		return true
	})
}

func mapguardRangeWrites(m *mapguard.Map[string, int]) {
	m.Range(func(k string, v int) bool {
		m.Store(k, v+1) // allowed: mapguard's Range takes no lock
		return true
	})
}

func (c *cache) released() { // want released:`^RLock\(recv\.mu\); Lock\(recv\.mu\)$`
	c.mu.RLock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	c.mu.RUnlock()
	for _, k := range keys {
		c.mu.Lock()
		delete(c.m, k)
		c.mu.Unlock()
	}
}

func (c *cache) otherMutex() { // want otherMutex:`^RLock\(recv\.mu\); Lock\(recv\.other\)$`
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k := range c.m {
		c.other.Lock()
		c.other.Unlock()
		c.Note(k) // locks c.other, not c.mu
	}
}

func (c *cache) noLockHeld() { // want noLockHeld:`^Lock\(recv\.mu\)$`
	for k := range c.m {
		c.mu.Lock()
		delete(c.m, k)
		c.mu.Unlock()
	}
}

func iterCbRead(m cmap.ConcurrentMap[string, int]) {
	m.IterCb(func(k string, v int) {
		_ = m.Has(k)
	})
}

func computeOtherMap(m, other *mapguard.Map[string, int]) {
	m.Compute("a", func(old int, loaded bool) (int, mapguard.ComputeOp) {
		other.Store("b", old)
		v, _ := m.Load("c") // a lock-free read
		return old + v, mapguard.UpdateOp
	})
}

func (c *cache) setOutsideLock() { // want setOutsideLock:`^RLock\(recv\.mu\); Lock\(recv\.mu\)$`
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	for i := range n {
		c.Set("k", i)
	}
}

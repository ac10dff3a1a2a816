package corpus

import "sync"

// TTLCache is a hand-rolled cache guarded by an RWMutex.
type TTLCache struct {
	mu    sync.RWMutex
	items map[string]item
}

type item struct {
	value   []byte
	expired bool
}

func (c *TTLCache) Put(k string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[k] = item{value: v}
}

func (c *TTLCache) Get(k string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	it, ok := c.items[k]
	return it.value, ok && !it.expired
}

func (c *TTLCache) Sweep() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, it := range c.items {
		if it.expired {
			c.mu.Lock() // want `c.mu.Lock inside a range over data guarded by c.mu, whose read lock this goroutine holds`
			delete(c.items, k)
			c.mu.Unlock()
		}
	}
}

func (c *TTLCache) Refresh() {
	c.mu.RLock()
	for k, it := range c.items {
		c.Put(k, it.value) // want `c.Put locks c.mu, whose read lock this goroutine holds around the range`
	}
	c.mu.RUnlock()
}

// SweepFixed collects under the read lock and deletes under the write lock.
func (c *TTLCache) SweepFixed() {
	c.mu.RLock()
	var dead []string
	for k, it := range c.items {
		if it.expired {
			dead = append(dead, k)
		}
	}
	c.mu.RUnlock()
	c.mu.Lock()
	for _, k := range dead {
		delete(c.items, k)
	}
	c.mu.Unlock()
}

// Package cache reproduces the structure of github.com/patrickmn/go-cache
// (cache.go at v2.1.0): an exported Cache embedding *cache, whose
// methods each take c.mu around the items map, with unexported helpers
// (get, set, delete) that expect the lock held. checkthenact recognises
// it as a self-locking map type and exports facts on Get and Set, which
// checkthenactreal uses from another package.
package cache

import (
	"fmt"
	"sync"
	"time"
)

// Item is a cached value with its expiry.
type Item struct {
	Object     interface{}
	Expiration int64
}

const (
	NoExpiration      time.Duration = -1
	DefaultExpiration time.Duration = 0
)

// Cache is the exported handle; the janitor in the original keeps it
// separate from *cache so that a finalizer can stop it.
type Cache struct {
	*cache
}

type cache struct {
	defaultExpiration time.Duration
	items             map[string]Item
	mu                sync.RWMutex
	onEvicted         func(string, interface{})
}

func (c *cache) Set(k string, x interface{}, d time.Duration) { // want Set:`writes .items\[k\] under mu`
	var e int64
	if d == DefaultExpiration {
		d = c.defaultExpiration
	}
	if d > 0 {
		e = time.Now().Add(d).UnixNano()
	}
	c.mu.Lock()
	c.items[k] = Item{
		Object:     x,
		Expiration: e,
	}
	// TODO: Calls to mu.Unlock are currently not deferred because defer
	// adds ~200 ns (as of go1.)
	c.mu.Unlock()
}

func (c *cache) set(k string, x interface{}, d time.Duration) {
	var e int64
	if d == DefaultExpiration {
		d = c.defaultExpiration
	}
	if d > 0 {
		e = time.Now().Add(d).UnixNano()
	}
	c.items[k] = Item{
		Object:     x,
		Expiration: e,
	}
}

// Add an item to the cache only if an item doesn't already exist for the
// given key, or if the existing item has expired.
func (c *cache) Add(k string, x interface{}, d time.Duration) error {
	c.mu.Lock()
	_, found := c.get(k)
	if found {
		c.mu.Unlock()
		return fmt.Errorf("Item %s already exists", k)
	}
	c.set(k, x, d)
	c.mu.Unlock()
	return nil
}

// Get an item from the cache.
func (c *cache) Get(k string) (interface{}, bool) { // want Get:`reads .items\[k\] under mu`
	c.mu.RLock()
	// "Inlining" of get and Expired
	item, found := c.items[k]
	if !found {
		c.mu.RUnlock()
		return nil, false
	}
	if item.Expiration > 0 {
		if time.Now().UnixNano() > item.Expiration {
			c.mu.RUnlock()
			return nil, false
		}
	}
	c.mu.RUnlock()
	return item.Object, true
}

func (c *cache) get(k string) (interface{}, bool) {
	item, found := c.items[k]
	if !found {
		return nil, false
	}
	if item.Expiration > 0 {
		if time.Now().UnixNano() > item.Expiration {
			return nil, false
		}
	}
	return item.Object, true
}

// Delete an item from the cache.
func (c *cache) Delete(k string) {
	c.mu.Lock()
	v, evicted := c.delete(k)
	c.mu.Unlock()
	if evicted {
		c.onEvicted(k, v)
	}
}

func (c *cache) delete(k string) (interface{}, bool) {
	if c.onEvicted != nil {
		if v, found := c.items[k]; found {
			delete(c.items, k)
			return v.Object, true
		}
	}
	delete(c.items, k)
	return nil, false
}

// ItemCount returns the number of items, expired ones included.
func (c *cache) ItemCount() int {
	c.mu.RLock()
	n := len(c.items)
	c.mu.RUnlock()
	return n
}

// Flush deletes all items from the cache.
func (c *cache) Flush() {
	c.mu.Lock()
	c.items = map[string]Item{}
	c.mu.Unlock()
}

// New returns a cache whose items expire after defaultExpiration.
func New(defaultExpiration, cleanupInterval time.Duration) *Cache {
	return &Cache{&cache{defaultExpiration: defaultExpiration, items: map[string]Item{}}}
}

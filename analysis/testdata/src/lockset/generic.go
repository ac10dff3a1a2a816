package lockset

import "sync"

// LRU is generic: its methods see LRU[K, V], an instance of the
// declared struct, and the read after Unlock is the same bug.
type LRU[K comparable, V any] struct {
	mu    sync.Mutex
	items map[K]V
}

func (c *LRU[K, V]) Put(k K, v V) {
	c.mu.Lock()
	c.items[k] = v
	c.mu.Unlock()
}

func (c *LRU[K, V]) Remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, k)
}

func (c *LRU[K, V]) Peek(k K) V {
	return c.items[k] // want `read of c.items without c.mu held`
}

// Pair is generic and locks every access.
type Pair[K comparable] struct {
	mu   sync.RWMutex
	seen map[K]int
}

func (p *Pair[K]) Add(k K) {
	p.mu.Lock()
	p.seen[k]++
	p.mu.Unlock()
}

func (p *Pair[K]) Count(k K) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.seen[k]
}

func (p *Pair[K]) Len() int {
	p.mu.RLock()
	n := len(p.seen)
	p.mu.RUnlock()
	return n
}

// NewPair fills a value nobody else has seen yet.
func NewPair[K comparable](keys ...K) *Pair[K] {
	p := &Pair[K]{seen: map[K]int{}}
	for _, k := range keys {
		p.seen[k] = 1
	}
	return p
}

package lockset

import "sync"

// Deferred literals run when their function returns, with the locks
// held both where they were deferred and at the return.

type Table struct {
	mu   sync.Mutex
	rows map[int]string
	// both is written under mu and gate together; a read under gate
	// alone is enough.
	gate sync.Mutex
	both map[int]int
	log  sync.Mutex
}

func (t *Table) Put(k int, v string) {
	t.mu.Lock()
	t.rows[k] = v
	t.mu.Unlock()
}

func (t *Table) Del(k int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rows, k)
}

// Flush's deferred cleanup ranges after Flush has unlocked.
func (t *Table) Flush() {
	defer func() {
		for k := range t.rows { // want `range over t.rows without t.mu held`
			_ = k
		}
	}()
	t.mu.Lock()
	t.rows[0] = ""
	t.mu.Unlock()
}

// Audit reads rows under log, a mutex no write of rows holds.
func (t *Table) Audit(k int) string {
	t.log.Lock()
	defer t.log.Unlock()
	return t.rows[k] // want `read of t.rows without t.mu held; .*t.log, held here, guards no write of it`
}

// Negatives.

// Drain defers its cleanup after defer Unlock: it runs first, locked.
func (t *Table) Drain() {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() {
		clear(t.rows)
	}()
	t.rows[1] = "x"
}

// Close's deferred literal unlocks itself.
func (t *Table) Close() {
	t.mu.Lock()
	defer func() {
		delete(t.rows, 0)
		t.mu.Unlock()
	}()
	t.rows[0] = "closed"
}

// Reap locks inside its deferred literal.
func (t *Table) Reap() {
	defer func() {
		t.mu.Lock()
		delete(t.rows, -1)
		t.mu.Unlock()
	}()
}

// Early returns: the lock is held at every return.
func (t *Table) Pick(k int) string {
	t.mu.Lock()
	defer func() {
		delete(t.rows, k)
		t.mu.Unlock()
	}()
	if v, ok := t.rows[k]; ok {
		return v
	}
	return ""
}

func (t *Table) SetBoth(k int) {
	t.mu.Lock()
	t.gate.Lock()
	t.both[k] = k
	t.gate.Unlock()
	t.mu.Unlock()
}

func (t *Table) DelBoth(k int) {
	t.mu.Lock()
	t.gate.Lock()
	delete(t.both, k)
	t.gate.Unlock()
	t.mu.Unlock()
}

// GetBoth holds gate, which every write of both holds too.
func (t *Table) GetBoth(k int) int {
	t.gate.Lock()
	defer t.gate.Unlock()
	return t.both[k]
}

// HasBoth reads both under mu, which makes mu the inferred guard; GetBoth
// above still holds gate, which guards every write too.
func (t *Table) HasBoth(k int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.both[k]
	return ok
}

// Package checkthenactdcl reproduces bun's table registry (schema/tables.go
// at commit 0e5e8682,
// https://github.com/uptrace/bun/blob/0e5e8682686253e24add0e8512d351d5e32dd9bf/schema/tables.go#L34):
// Tables.Get loads the table without a lock, and on a miss takes t.mu,
// loads again and stores the new table before unlocking (double-checked
// locking). bun's map is an xsync.MapOf; a sync.Map has the same Load and
// Store. checkthenact paired the Store with the first, lock-free Load and
// reported it; the second Load, under the lock held to the Store, is the
// check the Store acts on.
package checkthenactdcl

import (
	"reflect"
	"sync"
)

// Table describes a model's table.
type Table struct{ Name string }

// Tables caches the table of each model type.
type Tables struct {
	mu     sync.Mutex
	tables sync.Map // reflect.Type -> *Table
}

// Get returns the table of typ, creating it once.
func (t *Tables) Get(typ reflect.Type) *Table {
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	table := &Table{Name: typ.Name()}
	t.tables.Store(typ, table)
	return table
}

// GetUnlocked checks again, but takes no lock: both checks are racy.
func (t *Tables) GetUnlocked(typ reflect.Type) *Table {
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	table := &Table{Name: typ.Name()}
	t.tables.Store(typ, table) // want `Store of t.tables after a Load of the same key`
	return table
}

// GetRelocked checks again under the lock but releases it before the
// Store.
func (t *Tables) GetRelocked(typ reflect.Type) *Table {
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	t.mu.Lock()
	v, ok := t.tables.Load(typ)
	t.mu.Unlock()
	if ok {
		return v.(*Table)
	}
	table := &Table{Name: typ.Name()}
	t.tables.Store(typ, table) // want `Store of t.tables after a Load of the same key`
	return table
}

// GetOther checks again under the lock, for another key: the first check
// still guards typ's Store.
func (t *Tables) GetOther(typ, other reflect.Type) *Table {
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tables.Load(other); ok {
		return nil
	}
	table := &Table{Name: typ.Name()}
	t.tables.Store(typ, table) // want `Store of t.tables after a Load of the same key`
	return table
}

// GetUnderLock checks twice, both times under the lock held to the Store.
func (t *Tables) GetUnderLock(typ reflect.Type) *Table {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	if v, ok := t.tables.Load(typ); ok {
		return v.(*Table)
	}
	table := &Table{Name: typ.Name()}
	t.tables.Store(typ, table)
	return table
}

// Registry is the same double-checked locking with a read lock for the
// fast path and the write lock around the second check and the Store.
type Registry struct {
	mu    sync.RWMutex
	items sync.Map
}

// Get returns the item of k, creating it once.
func (r *Registry) Get(k string) any {
	r.mu.RLock()
	v, ok := r.items.Load(k)
	r.mu.RUnlock()
	if ok {
		return v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.items.Load(k); ok {
		return v
	}
	n := new(int)
	r.items.Store(k, n)
	return n
}

package mapguard

import (
	"iter"
	"maps"
	"sync"
	"sync/atomic"
)

// ReadMostly is a copy-on-write map for data read far more often than it
// is written: configuration, routing and feature-flag tables. Every read
// is one atomic load and a builtin map lookup, with no lock and no shared
// write, so reads scale with the number of cores. Every write copies the
// whole map.
//
// The zero value is an empty map ready to use. A ReadMostly must not be
// copied after first use (go vet reports copies).
//
// Memory model: a write (Store, Delete, a committed Update) synchronizes
// before any read that observes its effect.
//
// Cost: Load, Len and Snapshot are O(1). Store, Delete and Update cost O(n)
// time and allocate a new map of n entries (maps.Clone): writers serialise
// on a mutex and readers never wait for them. Batch changes with Update to
// pay one copy for many. BENCHMARKS.md shows the write rate at which Map is
// the better choice.
//
// Iteration (All, Keys, Values, Range) walks one immutable version of the
// map: a consistent snapshot, unaffected by concurrent writes.
type ReadMostly[K comparable, V any] struct {
	_ noCopy

	mu  sync.Mutex              // serialises writers
	cur atomic.Pointer[map[K]V] // the current version; never modified once stored
}

// current returns the current version, nil when the map has never been
// written.
func (m *ReadMostly[K, V]) current() map[K]V {
	if p := m.cur.Load(); p != nil {
		return *p
	}
	return nil
}

// Load returns the value stored for key, or the zero value if there is
// none. The ok result reports whether a value was found. It takes no lock
// and does not allocate.
func (m *ReadMostly[K, V]) Load(key K) (value V, ok bool) {
	value, ok = m.current()[key]
	return value, ok
}

// Len returns the number of entries.
func (m *ReadMostly[K, V]) Len() int { return len(m.current()) }

// Snapshot returns the current version of the map. It is shared with
// other readers and must not be modified: treat it as read-only. Later
// writes to m do not change it.
func (m *ReadMostly[K, V]) Snapshot() map[K]V { return m.current() }

// Store sets the value for key. It copies the map: O(n).
func (m *ReadMostly[K, V]) Store(key K, value V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := clone(m.current(), 1)
	next[key] = value
	m.cur.Store(&next)
}

// Delete deletes the value for key. It copies the map, O(n), unless key is
// absent.
func (m *ReadMostly[K, V]) Delete(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current()
	if _, ok := cur[key]; !ok {
		return
	}
	next := clone(cur, 0)
	delete(next, key)
	m.cur.Store(&next)
}

// Update runs fn with a transaction over the map and, if fn returns nil,
// publishes all its changes at once, with one copy of the map. Readers see
// either none or all of them. If fn returns an error, Update returns it and
// the map is unchanged; if fn panics, the panic propagates and the map is
// unchanged, its lock released. Other writers wait while fn runs, so fn
// should be quick, and it must not call m's write methods (it would
// deadlock); reads of m from fn see the state before the transaction.
func (m *ReadMostly[K, V]) Update(fn func(tx *Tx[K, V]) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &Tx[K, V]{base: m.current()}
	defer func() { tx.done = true }()
	if err := fn(tx); err != nil {
		return err
	}
	if tx.next != nil {
		m.cur.Store(&tx.next)
	}
	return nil
}

// clone returns a writable copy of m with room for extra more entries.
func clone[K comparable, V any](m map[K]V, extra int) map[K]V {
	if m == nil {
		return make(map[K]V, extra)
	}
	return maps.Clone(m)
}

// All returns an iterator over one consistent version of the map.
func (m *ReadMostly[K, V]) All() iter.Seq2[K, V] { return maps.All(m.current()) }

// Keys returns an iterator over the keys of one consistent version.
func (m *ReadMostly[K, V]) Keys() iter.Seq[K] { return maps.Keys(m.current()) }

// Values returns an iterator over the values of one consistent version.
func (m *ReadMostly[K, V]) Values() iter.Seq[V] { return maps.Values(m.current()) }

// Range calls f for each entry of one consistent version of the map, until
// f returns false. f may write to m; it keeps iterating the version it
// started with.
func (m *ReadMostly[K, V]) Range(f func(key K, value V) bool) {
	for k, v := range m.current() {
		if !f(k, v) {
			return
		}
	}
}

// MarshalJSON encodes one consistent version of the map as a JSON object,
// as encoding/json encodes a map[K]V.
func (m *ReadMostly[K, V]) MarshalJSON() ([]byte, error) {
	cur := m.current()
	if cur == nil {
		cur = map[K]V{}
	}
	return encodeJSON("ReadMostly", cur)
}

// UnmarshalJSON decodes a JSON object and stores its entries in one
// Update, keeping entries whose keys are not in the object. On error the
// map is unchanged.
func (m *ReadMostly[K, V]) UnmarshalJSON(data []byte) error {
	plain, err := decodeJSON[K, V]("ReadMostly", data)
	if err != nil {
		return err
	}
	return m.Update(func(tx *Tx[K, V]) error {
		for k, v := range plain {
			tx.Store(k, v)
		}
		return nil
	})
}

// Tx is a transaction of ReadMostly.Update: its reads see the map as of the
// transaction's start plus its own writes. It is valid only during the call
// of Update's function and only in the goroutine running it; using it
// afterwards panics.
type Tx[K comparable, V any] struct {
	base map[K]V // the version the transaction started from
	next map[K]V // the copy being written, made on the first write
	done bool
}

func (tx *Tx[K, V]) view() map[K]V {
	if tx.done {
		panic("mapguard: Tx used after its Update returned")
	}
	if tx.next != nil {
		return tx.next
	}
	return tx.base
}

func (tx *Tx[K, V]) writable() map[K]V {
	tx.view() // checks done
	if tx.next == nil {
		tx.next = clone(tx.base, 1)
	}
	return tx.next
}

// Load returns the value for key as the transaction sees it.
func (tx *Tx[K, V]) Load(key K) (value V, ok bool) {
	value, ok = tx.view()[key]
	return value, ok
}

// Store sets the value for key in the transaction.
func (tx *Tx[K, V]) Store(key K, value V) { tx.writable()[key] = value }

// Delete deletes key in the transaction.
func (tx *Tx[K, V]) Delete(key K) {
	if _, ok := tx.view()[key]; ok {
		delete(tx.writable(), key)
	}
}

// Len returns the number of entries as the transaction sees them.
func (tx *Tx[K, V]) Len() int { return len(tx.view()) }

// All returns an iterator over the entries as the transaction sees them
// when All is called. The transaction must not be written during the
// iteration.
func (tx *Tx[K, V]) All() iter.Seq2[K, V] { return maps.All(tx.view()) }

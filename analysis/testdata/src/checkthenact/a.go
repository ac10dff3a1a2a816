package checkthenact

import (
	"sync"

	"github.com/mapguard/mapguard"
	cmap "github.com/orcaman/concurrent-map/v2"
	"github.com/puzpuzpuz/xsync/v4"
)

type session struct{ user string }

var sessions sync.Map

// Positives.

func loginSync(id string) {
	if _, ok := sessions.Load(id); !ok {
		sessions.Store(id, &session{}) // want `Store of sessions after a Load of the same key at line 18, with no lock held`
	}
}

func expireSync(id string, expired func(*session) bool) {
	if v, ok := sessions.Load(id); ok && expired(v.(*session)) {
		sessions.Delete(id) // want `Delete of sessions after a Load of the same key at line 24`
	}
}

func incrementMapguard(m *mapguard.Map[string, int], k string) {
	v, _ := m.Load(k)
	m.Store(k, v+1) // want `Store of m after a Load of the same key at line 30, with no lock held: another goroutine can write the key in between; use LoadOrStore or Compute`
}

func xsyncConst(m *xsync.Map[string, int]) {
	if _, ok := m.Load("total"); !ok {
		m.Store("total", 0) // want `Store of m after a Load`
	}
}

type server struct{ cache *mapguard.Map[int, string] }

func (s *server) fill(id int) {
	if v, ok := s.cache.Load(id); !ok || v == "" {
		s.cache.Store(id, "x") // want `Store of s.cache after a Load`
	}
}

func cmapSet(m cmap.ConcurrentMap[string, int], k string) {
	if !m.Has(k) {
		return
	}
	if _, ok := m.Get(k); !ok {
		m.Set(k, 1) // want `Set of m after a Load of the same key at line 52, with no lock held: another goroutine can write the key in between; use SetIfAbsent, Upsert or RemoveCb`
	}
}

func generic[K comparable, V any](m *mapguard.Map[K, V], k K, v V) {
	if _, ok := m.Load(k); !ok {
		m.Store(k, v) // want `Store of m after a Load`
	}
}

// Negatives.

func atomicForms(id string) {
	sessions.LoadOrStore(id, &session{})
	sessions.LoadAndDelete(id)
}

func differentKeys(a, b string) {
	if _, ok := sessions.Load(a); !ok {
		sessions.Store(b, &session{})
	}
}

func differentMaps(other *sync.Map, id string) {
	if _, ok := sessions.Load(id); !ok {
		other.Store(id, &session{})
	}
}

var mu sync.Mutex

func underLock(id string) {
	mu.Lock()
	defer mu.Unlock()
	if _, ok := sessions.Load(id); !ok {
		sessions.Store(id, &session{})
	}
}

func storeThenLoad(id string) {
	sessions.Store(id, &session{})
	sessions.Load(id)
}

func builtinMap(m map[string]int, k string) {
	if _, ok := m[k]; !ok {
		m[k] = 1
	}
}

func shadowed(id string) {
	if _, ok := sessions.Load(id); !ok {
		id := id + "-new"
		sessions.Store(id, &session{})
	}
}

func inClosure(m *mapguard.Map[string, int], k string) func() {
	m.Load(k)
	return func() { m.Store(k, 1) } // a different function: not ordered after the Load
}

func computeIsFine(m *mapguard.Map[string, int], k string) {
	m.Compute(k, func(old int, _ bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp })
}

// A presence check, then a Delete: the loaded value is thrown away and
// deleting is idempotent, so the map ends as LoadAndDelete would leave
// it; nothing is lost.
func logoutSync(id string) {
	if _, ok := sessions.Load(id); ok {
		sessions.Delete(id)
	}
}

// Found by running mapvet on mapguard itself: a Load whose result is
// discarded, and a Load and a Store in exclusive branches, are not
// check-then-act.
func discardedLoad(m *mapguard.Map[string, int]) {
	m.Load("a")
	m.Store("a", 1)
}

func exclusiveBranches(m *mapguard.Map[int, int], op string, i int) {
	if op == "load" {
		_, _ = m.Load(i)
	} else {
		m.Store(i, i)
	}
	switch op {
	case "load":
		v, _ := m.Load(i)
		_ = v
	case "store":
		m.Store(i, i)
	}
}

func exclusiveIfElse(m *mapguard.Map[int, int], read bool, i int) int {
	if read {
		v, _ := m.Load(i)
		return v
	} else {
		m.Store(i, i)
	}
	return 0
}

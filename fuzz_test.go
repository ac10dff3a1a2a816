package mapguard_test

import (
	"maps"
	"sync"
	"testing"

	"github.com/mapguard/mapguard"
)

// refMap is the reference the maps are checked against: a builtin map
// behind a mutex, whose behaviour nobody doubts.
type refMap struct {
	mu sync.Mutex
	m  map[int]int
}

func newRefMap() *refMap { return &refMap{m: map[int]int{}} }

func (r *refMap) do(f func(m map[int]int)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.m)
}

// fuzzOp is one decoded operation: 3 bytes, opcode, key and value.
const fuzzOpLen = 3

// applyOp runs operation code on m and on ref and reports the first
// disagreement in results.
func applyOp(t *testing.T, m testMap[int, int], ref *refMap, code byte, k, v int) {
	t.Helper()
	ref.mu.Lock()
	defer ref.mu.Unlock()
	r := ref.m
	rv, rok := r[k]
	check := func(name string, got int, gotOK bool, want int, wantOK bool) {
		t.Helper()
		if got != want || gotOK != wantOK {
			t.Fatalf("%s(%d, %d) = %d, %v; reference says %d, %v", name, k, v, got, gotOK, want, wantOK)
		}
	}
	switch code % 16 {
	case 0, 1:
		got, ok := m.Load(k)
		check("Load", got, ok, rv, rok)
	case 2, 3:
		m.Store(k, v)
		r[k] = v
	case 4:
		got, ok := m.LoadOrStore(k, v)
		if !rok {
			r[k] = v
			rv = v
		}
		check("LoadOrStore", got, ok, rv, rok)
	case 5:
		got, ok := m.Swap(k, v)
		r[k] = v
		check("Swap", got, ok, rv, rok)
	case 6:
		got, ok := m.LoadAndDelete(k)
		delete(r, k)
		check("LoadAndDelete", got, ok, rv, rok)
	case 7:
		m.Delete(k)
		delete(r, k)
	case 8:
		old := v % 4 // small values so that comparisons sometimes match
		got := m.CompareAndSwap(k, old, v)
		want := rok && rv == old
		if want {
			r[k] = v
		}
		check("CompareAndSwap", 0, got, 0, want)
	case 9:
		old := v % 4
		got := m.CompareAndDelete(k, old)
		want := rok && rv == old
		if want {
			delete(r, k)
		}
		check("CompareAndDelete", 0, got, 0, want)
	case 10:
		op := mapguard.ComputeOp(v % 3)
		got, ok := m.Compute(k, func(old int, loaded bool) (int, mapguard.ComputeOp) {
			if old != rv || loaded != rok {
				t.Fatalf("Compute(%d) fn got %d, %v; reference says %d, %v", k, old, loaded, rv, rok)
			}
			return old + v, op
		})
		want, wantOK := rv, rok
		switch op {
		case mapguard.UpdateOp:
			r[k] = rv + v
			want, wantOK = rv+v, true
		case mapguard.DeleteOp:
			delete(r, k)
			want, wantOK = 0, false
		}
		check("Compute", got, ok, want, wantOK)
	case 11:
		cancel := v%2 == 0
		got, ok := m.LoadOrCompute(k, func() (int, bool) { return v, cancel })
		want := rv
		if !rok {
			want = 0
			if !cancel {
				r[k] = v
				want = v
			}
		}
		check("LoadOrCompute", got, ok, want, rok)
	case 12:
		// Mass insert: grows the table. Four blocks of 300 keys bound the
		// colliding map's single chain, so one input stays fast.
		base := 1000 + (k%4)*300
		for i := range 300 {
			m.Store(base+i, i)
			r[base+i] = i
		}
	case 13:
		// Mass delete of everything but the small keys: shrinks it.
		for key := range r {
			if key >= 1000 {
				m.Delete(key)
				delete(r, key)
			}
		}
	case 14:
		if v%8 == 0 {
			m.Clear()
			clear(r)
		}
	case 15:
		got := maps.Collect(m.All())
		if !maps.Equal(got, r) {
			t.Fatalf("All() has %d entries, reference %d; differ", len(got), len(r))
		}
	}
	if m.Size() != len(r) {
		t.Fatalf("after op %d on key %d: Size() = %d; reference has %d", code%16, k, m.Size(), len(r))
	}
}

// FuzzMapOps decodes the input into operations and applies each to a Map
// and a SnapshotMap (one of each with the real hash, one whose keys all
// collide, the colliding SnapshotMap taking Views as it goes) and to a
// reference map, failing at the first result that differs. Run longer with
//
//	go test -run '^$' -fuzz FuzzMapOps -fuzztime 5m .
func FuzzMapOps(f *testing.F) {
	f.Add([]byte{2, 1, 1, 0, 1, 0, 6, 1, 0, 0, 1, 0})
	f.Add([]byte{12, 0, 0, 12, 1, 0, 15, 0, 0, 13, 0, 0, 15, 0, 0, 0, 5, 0})
	f.Add([]byte{4, 9, 3, 8, 9, 3, 8, 9, 7, 9, 9, 3, 10, 9, 1, 10, 9, 2, 11, 9, 3, 11, 9, 2})
	f.Add([]byte{12, 3, 0, 14, 0, 8, 15, 0, 0, 12, 4, 0, 6, 1, 0, 13, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 600 {
			data = data[:600]
		}
		ms := []testMap[int, int]{
			mapguard.NewMap[int, int](), mapguard.NewCollidingMap[int, int](),
			mapguard.NewSnapshotMap[int, int](), newViewTaker(mapguard.NewCollidingSnapshotMap[int, int]()),
			newObserved(mapguard.NewMap[int, int]()),
			// int->int is stored inline above; these store entry pointers.
			mapguard.NewMap[int, int](mapguard.WithEntries()), mapguard.NewCollidingMap[int, int](mapguard.WithEntries()),
		}
		refs := make([]*refMap, len(ms))
		for i := range refs {
			refs[i] = newRefMap()
		}
		for ; len(data) >= fuzzOpLen; data = data[fuzzOpLen:] {
			for i := range ms {
				applyOp(t, ms[i], refs[i], data[0], int(data[1]%32), int(data[2]))
			}
		}
		for i, m := range ms {
			refs[i].do(func(r map[int]int) {
				if got := maps.Collect(m.All()); !maps.Equal(got, r) {
					t.Fatalf("final contents differ: %d entries, reference %d", len(got), len(r))
				}
			})
		}
	})
}

package bench

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard"
)

// lossyMap drops one Store in every 50 and one Compute in every 50: the
// kind of bug the correctness check after each run exists to catch.
type lossyMap[K comparable, V any] struct {
	Map[K, V]
	n atomic.Int64
}

func (l *lossyMap[K, V]) Store(key K, value V) {
	if l.n.Add(1)%50 != 0 {
		l.Map.Store(key, value)
	}
}

func (l *lossyMap[K, V]) Compute(key K, fn func(V, bool) (V, mapguard.ComputeOp)) (V, bool) {
	if l.n.Add(1)%50 == 0 {
		var zero V
		return zero, false
	}
	return l.Map.Compute(key, fn)
}

// TestCheckCatchesLostWrites runs presets on a map that loses writes: the
// check must report it, for owner-partitioned writes and shared Compute,
// with pointer values and with int values.
func TestCheckCatchesLostWrites(t *testing.T) {
	for _, name := range []string{"session-table", "counter", "counter-table"} {
		var w Workload
		for _, p := range Presets(50 * time.Millisecond) {
			if p.Name == name {
				w = p
			}
		}
		w.KeyType = "int"
		ks, err := newIntKeySet(context.Background(), w.Keys)
		if err != nil {
			t.Fatal(err)
		}
		var res Result
		if w.ValueType == "int" {
			res, err = run(context.Background(), "mutex", newLossy[int64], w, ks, intValues(), Hooks{})
		} else {
			res, err = run(context.Background(), "mutex", newLossy[*Value], w, ks, pointerValues(ks, w.ValueSize), Hooks{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Check == "" || !strings.Contains(res.Check, "key") {
			t.Fatalf("%s on a map that drops writes: check = %q; want a reported mismatch", name, res.Check)
		}
	}
}

// newLossy makes the implementation impl, wrapped to lose writes.
func newLossy[V any](impl string) (Map[int, V], error) {
	m, err := New[int, V](impl)
	return &lossyMap[int, V]{Map: m}, err
}

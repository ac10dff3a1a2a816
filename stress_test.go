package mapguard_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard"
)

// soak multiplies the stress tests' work: the default run is bounded for
// CI; a soak run (go test -race -run 'Stress|IterationWhileWriting' -soak 50 .)
// runs the same checks for longer.
var soak = flag.Int("soak", 1, "multiply the stress tests' rounds and iterations by this `factor`, for a soak run")

// soakFactor returns -soak, failing the test on a value below 1.
func soakFactor(t *testing.T) int {
	t.Helper()
	if *soak < 1 {
		t.Fatalf("-soak %d: the factor must be at least 1", *soak)
	}
	return *soak
}

// goroutineCounts are the concurrency levels of the stress tests:
// GOMAXPROCS and 8x that many goroutines.
func goroutineCounts() []int {
	p := runtime.GOMAXPROCS(0)
	return []int{p, 8 * p}
}

// TestStressDisjointKeys gives each goroutine its own keys. Every result is
// then deterministic, so each goroutine checks every operation against its
// private model, and at the end the map must hold exactly the union: nothing
// lost, nothing resurrected, Size equal to the count. Each goroutine grows
// its key set and deletes most of it again, so the table grows and shrinks
// under the others' feet.
func TestStressDisjointKeys(t *testing.T) {
	perG, rounds := 1500, 3
	if testing.Short() {
		perG, rounds = 300, 2
	}
	rounds *= soakFactor(t)
	for _, c := range constructors[int, int]() {
		n := perG
		if c.collides {
			n = min(perG, 150) // one chain: keep it short
		}
		for _, g := range goroutineCounts() {
			t.Run(fmt.Sprintf("%s/goroutines=%d", c.name, g), func(t *testing.T) {
				m := c.make()
				models := make([]map[int]int, g)
				var wg sync.WaitGroup
				for id := range g {
					wg.Go(func() {
						models[id] = stressOwner(t, m, id, n, rounds)
					})
				}
				wg.Wait()
				if t.Failed() {
					return
				}
				want := map[int]int{}
				for _, mod := range models {
					for k, v := range mod {
						want[k] = v
					}
				}
				if got := m.Size(); got != len(want) {
					t.Fatalf("Size() = %d; goroutines own %d live keys", got, len(want))
				}
				seen := 0
				for k, v := range m.All() {
					seen++
					if w, ok := want[k]; !ok || w != v {
						t.Fatalf("map holds %d => %d; owner's last write was %d (present %v)", k, v, w, ok)
					}
				}
				if seen != len(want) {
					t.Fatalf("All() visited %d keys; want %d", seen, len(want))
				}
			})
		}
	}
}

// stressOwner runs random operations on keys owned by goroutine id and
// checks each result against its model, which it returns.
func stressOwner(t *testing.T, m testMap[int, int], id, n, rounds int) map[int]int {
	r := rand.New(rand.NewPCG(uint64(id), 42))
	model := map[int]int{}
	base := id * n
	fail := func(format string, args ...any) {
		t.Errorf("goroutine %d: "+format, append([]any{id}, args...)...)
	}
	for round := range rounds {
		// Grow: insert every key.
		for i := range n {
			k := base + i
			v := round*n + i
			m.Store(k, v)
			model[k] = v
		}
		// Churn with every operation kind.
		for range 2 * n {
			k := base + r.IntN(n)
			mv, mok := model[k]
			v := r.IntN(1000)
			switch r.IntN(7) {
			case 0:
				if got, ok := m.Load(k); got != mv || ok != mok {
					fail("Load(%d) = %d, %v; want %d, %v", k, got, ok, mv, mok)
					return model
				}
			case 1:
				got, ok := m.Swap(k, v)
				if got != mv || ok != mok {
					fail("Swap(%d) = %d, %v; want %d, %v", k, got, ok, mv, mok)
					return model
				}
				model[k] = v
			case 2:
				got, ok := m.LoadOrStore(k, v)
				if !mok {
					mv = v
					model[k] = v
				}
				if got != mv || ok != mok {
					fail("LoadOrStore(%d) = %d, %v; want %d, %v", k, got, ok, mv, mok)
					return model
				}
			case 3:
				got, ok := m.LoadAndDelete(k)
				if got != mv || ok != mok {
					fail("LoadAndDelete(%d) = %d, %v; want %d, %v", k, got, ok, mv, mok)
					return model
				}
				delete(model, k)
			case 4:
				got, ok := m.Compute(k, func(old int, loaded bool) (int, mapguard.ComputeOp) {
					return old + 1, mapguard.UpdateOp
				})
				model[k] = mv + 1
				if got != mv+1 || !ok {
					fail("Compute(%d) = %d, %v; want %d, true", k, got, ok, mv+1)
					return model
				}
			case 5:
				if got := m.CompareAndSwap(k, mv, v); got != mok {
					fail("CompareAndSwap(%d, %d, %d) = %v; want %v", k, mv, v, got, mok)
					return model
				}
				if mok {
					model[k] = v
				}
			case 6:
				m.Delete(k)
				delete(model, k)
			}
		}
		// Shrink: delete most keys.
		for i := range n - n/10 {
			k := base + i
			m.Delete(k)
			delete(model, k)
		}
	}
	for k, mv := range model {
		if got, ok := m.Load(k); got != mv || !ok {
			fail("final Load(%d) = %d, %v; want %d, true", k, got, ok, mv)
		}
	}
	for i := range n {
		if _, live := model[base+i]; !live {
			if v, ok := m.Load(base + i); ok {
				fail("deleted key %d resurrected with %d", base+i, v)
			}
		}
	}
	return model
}

// TestStressSharedKeys makes every goroutine hit the same few keys. Compute
// increments must all land (the final sum is the number of increments),
// and for each LoadOrStore key every goroutine must see one winner.
func TestStressSharedKeys(t *testing.T) {
	iters := 2000
	if testing.Short() {
		iters = 300
	}
	iters *= soakFactor(t)
	const keys = 8
	for _, c := range constructors[int, int]() {
		for _, g := range goroutineCounts() {
			t.Run(fmt.Sprintf("%s/goroutines=%d", c.name, g), func(t *testing.T) {
				m := c.make()
				var wg sync.WaitGroup
				winners := make([][keys]int, g)
				for id := range g {
					wg.Go(func() {
						for i := range iters {
							m.Compute(i%keys, func(old int, _ bool) (int, mapguard.ComputeOp) {
								return old + 1, mapguard.UpdateOp
							})
							// Churn keys other goroutines also churn.
							k := 100 + (i*7+id)%50
							if i%2 == 0 {
								m.Store(k, id)
							} else {
								m.Delete(k)
							}
						}
						for k := range keys {
							winners[id][k], _ = m.LoadOrStore(1000+k, id)
						}
					})
				}
				wg.Wait()
				total := 0
				for k := range keys {
					v, ok := m.Load(k)
					if !ok {
						t.Fatalf("counter %d missing", k)
					}
					total += v
				}
				if want := g * iters; total != want {
					t.Fatalf("counters sum to %d; want %d increments", total, want)
				}
				for id := range g {
					if winners[id] != winners[0] {
						t.Fatalf("goroutine %d saw LoadOrStore winners %v; goroutine 0 saw %v", id, winners[id], winners[0])
					}
				}
				n := 0
				for range m.All() {
					n++
				}
				if n != m.Size() {
					t.Fatalf("All() visited %d keys at rest; Size() = %d", n, m.Size())
				}
			})
		}
	}
}

// TestIterationWhileWriting iterates repeatedly while writers grow the map
// to many times its size, shrink it back and churn keys in place. A set of
// stable keys is never written during the iterations: each iteration must
// visit every stable key exactly once with its value, and no key twice.
func TestIterationWhileWriting(t *testing.T) {
	for _, c := range constructors[int, int]() {
		t.Run(c.name, func(t *testing.T) {
			stable, churn := 1000, 20000
			if c.collides {
				stable, churn = 60, 300
			}
			if testing.Short() {
				// Both shrink: the stable keys alone must fit under the
				// shrink threshold of the table the churn grew to.
				stable, churn = stable/4, churn/4
			}
			m := c.make()
			for k := range stable {
				m.Store(k, -k)
			}
			var stop atomic.Bool
			var writers sync.WaitGroup
			// Mass growth and mass shrink.
			writers.Go(func() {
				for !stop.Load() {
					for i := range churn {
						m.Store(stable+i, i)
					}
					for i := range churn {
						m.Delete(stable + i)
					}
				}
			})
			// Delete and re-insert a few keys in place, so chains reshuffle
			// under the iterator.
			writers.Go(func() {
				r := rand.New(rand.NewPCG(1, 2))
				for !stop.Load() {
					k := -1 - r.IntN(64)
					m.Delete(k)
					m.Store(k, 1)
					m.Store(-1-r.IntN(64), 2)
				}
			})
			iterations := 30
			if testing.Short() {
				iterations = 10
			}
			iterations *= soakFactor(t)
			// Iterate at least that often, and on until the writers have
			// both grown and shrunk the table under the iterations (the
			// colliding map's single chain never needs to grow).
			resized := func() bool {
				s := m.Stats()
				return c.collides || s.Grows > 0 && (c.growOnly || s.Shrinks > 0)
			}
			deadline := time.Now().Add(30 * time.Second)
			for it := 0; it < iterations || !resized() && time.Now().Before(deadline); it++ {
				seen := map[int]int{}
				for k, v := range m.All() {
					seen[k]++
					if seen[k] > 1 {
						t.Fatalf("iteration %d visited key %d twice", it, k)
					}
					if k >= 0 && k < stable && v != -k {
						t.Fatalf("iteration %d saw stable key %d => %d; want %d", it, k, v, -k)
					}
				}
				for k := range stable {
					if seen[k] != 1 {
						t.Fatalf("iteration %d visited stable key %d %d times; want 1", it, k, seen[k])
					}
				}
			}
			stop.Store(true)
			writers.Wait()
			if !resized() {
				t.Errorf("the writers did not both grow and shrink the table in 30 s: %+v", m.Stats())
			}
		})
	}
}

package inline_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard/internal/inline"
)

func writers() int { return max(4, runtime.GOMAXPROCS(0)) }

// TestConcurrentDisjoint has writers on disjoint key ranges store, delete
// and overwrite while readers load, through several grows; the final state
// is known exactly.
func TestConcurrentDisjoint(t *testing.T) {
	for _, collide := range []bool{false, true} {
		name := map[bool]string{false: "hash", true: "collide"}[collide]
		t.Run(name, func(t *testing.T) {
			per := 3000
			if collide {
				per = 150
			}
			m := mustNew[int, bigValue](t, collide)
			var stop atomic.Bool
			var rg sync.WaitGroup
			for range 2 {
				rg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						k := i % (writers() * per)
						if v, ok := m.Load(k); ok && v.B != -v.A {
							t.Errorf("Load(%d) = %+v: torn", k, v)
							return
						}
					}
				})
			}
			var wg sync.WaitGroup
			for w := range writers() {
				wg.Go(func() {
					base := w * per
					for i := range per {
						m.Store(base+i, big(i))
					}
					for i := 0; i < per; i += 3 {
						m.Delete(base + i)
					}
					for i := 1; i < per; i += 3 {
						m.Store(base+i, big(-i))
					}
					for i := 0; i < per; i += 6 {
						m.LoadOrStore(base+i, big(i+1))
					}
				})
			}
			wg.Wait()
			stop.Store(true)
			rg.Wait()
			want := 0
			for w := range writers() {
				for i := range per {
					k := w*per + i
					v, ok := m.Load(k)
					var wv bigValue
					wok := true
					switch {
					case i%6 == 0:
						wv = big(i + 1)
					case i%3 == 0:
						wok = false
					case i%3 == 1:
						wv = big(-i)
					default:
						wv = big(i)
					}
					if v != wv || ok != wok {
						t.Fatalf("Load(%d) = %+v, %v; want %+v, %v", k, v, ok, wv, wok)
					}
					if wok {
						want++
					}
				}
			}
			if m.Len() != want {
				t.Fatalf("Len = %d; want %d", m.Len(), want)
			}
			n := 0
			m.Range(func(int, bigValue) bool { n++; return true })
			if n != want {
				t.Fatalf("Range visited %d; want %d", n, want)
			}
		})
	}
}

// triple is a three-word value whose words a writer keeps equal.
type triple struct{ A, B, C int64 }

// TestTornRead has writers flip multi-word values between two patterns
// (all words 0 or all 1; a==b==c) on a few keys of one chain, while
// readers Load and Range and assert they never see a mix. Without the
// sequence check a reader sees a mix within milliseconds.
func TestTornRead(t *testing.T) {
	for _, locked := range []bool{false, true} {
		name := map[bool]string{false: "optimistic", true: "retries=0"}[locked]
		t.Run(name, func(t *testing.T) {
			words := mustNew[int, [4]uint64](t, true)
			structs := mustNew[int, triple](t, false)
			if locked {
				inline.SetReadRetries(words, 0)
				inline.SetReadRetries(structs, 0)
			}
			const keys = 12 // colliding: one root bucket and one overflow
			ones := [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
			for k := range keys {
				words.Store(k, [4]uint64{})
				structs.Store(k, triple{})
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						k := (i + w) % keys
						if i&1 == 0 {
							words.Store(k, ones)
						} else {
							words.Store(k, [4]uint64{})
						}
						x := int64(i)
						structs.Store(k, triple{x, x, x})
					}
				})
			}
			var seen atomic.Int64
			check4 := func(v [4]uint64) bool { return v == [4]uint64{} || v == ones }
			check3 := func(v triple) bool { return v.A == v.B && v.B == v.C }
			for range 2 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						k := i % keys
						if v, ok := words.Load(k); !ok || !check4(v) {
							t.Errorf("Load(%d) = %x, %v: torn or missing", k, v, ok)
							stop.Store(true)
						}
						if v, ok := structs.Load(k); !ok || !check3(v) {
							t.Errorf("Load(%d) = %+v, %v: torn or missing", k, v, ok)
							stop.Store(true)
						}
						if i%64 == 0 {
							words.Range(func(k int, v [4]uint64) bool {
								if !check4(v) {
									t.Errorf("Range: %d = %x: torn", k, v)
									stop.Store(true)
								}
								return true
							})
						}
						seen.Add(1)
					}
				})
			}
			time.Sleep(400 * time.Millisecond)
			stop.Store(true)
			wg.Wait()
			if seen.Load() == 0 {
				t.Fatal("no reads ran")
			}
		})
	}
}

// TestRangeDuringGrowth ranges while writers grow the table from 8 buckets
// to thousands and churn other keys: every Range visits each key at most
// once and every key present throughout, and Load finds every such key with
// its value.
func TestRangeDuringGrowth(t *testing.T) {
	for _, collide := range []bool{false, true} {
		name := map[bool]string{false: "hash", true: "collide"}[collide]
		t.Run(name, func(t *testing.T) {
			stable, grow := 200, 20000
			if collide {
				stable, grow = 40, 400
			}
			m := mustNew[int, int](t, collide)
			for k := range stable {
				m.Store(-1-k, k) // stable keys are negative
			}
			var done atomic.Bool
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					for i := w; i < grow; i += 2 {
						m.Store(i, i)
						if i%5 == 0 && i >= 3 { // never a stable key
							m.Delete(i - 3)
						}
					}
				})
			}
			ranges := 0
			for !done.Load() || ranges < 3 {
				seen := make(map[int]bool, stable+grow)
				m.Range(func(k, v int) bool {
					if seen[k] {
						t.Fatalf("Range visited %d twice", k)
					}
					seen[k] = true
					return true
				})
				for k := range stable {
					if !seen[-1-k] {
						t.Fatalf("Range missed stable key %d", -1-k)
					}
					if v, ok := m.Load(-1 - k); !ok || v != k {
						t.Fatalf("Load(%d) during growth = %d, %v; want %d, true", -1-k, v, ok, k)
					}
				}
				ranges++
				if !done.Load() {
					go func() { wg.Wait(); done.Store(true) }()
				}
			}
			wg.Wait()
			if roots, _ := inline.Buckets(m); roots <= 8 {
				t.Fatalf("table has %d buckets; the test meant to grow it", roots)
			}
			t.Logf("%d ranges", ranges)
		})
	}
}

// TestHotBucketReadersProgress has writers hammer one key while readers
// Load it: readers that keep losing fall back to the lock and finish.
func TestHotBucketReadersProgress(t *testing.T) {
	m := mustNew[int, triple](t, false)
	m.Store(1, triple{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := int64(0); !stop.Load(); i++ {
				m.Store(1, triple{i, i, i})
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 20000; i++ {
		if v, ok := m.Load(1); !ok || v.A != v.C {
			t.Fatalf("Load(1) = %+v, %v", v, ok)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d Loads in 5 s under a hot writer", i)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// TestLoadOrStoreOneWinner has goroutines race LoadOrStore on the same keys
// with their own values: for each key exactly one stores, and every caller
// gets the winner's value.
func TestLoadOrStoreOneWinner(t *testing.T) {
	const keys = 2000
	m := mustNew[int, bigValue](t, false)
	g := writers()
	got := make([][]bigValue, g)
	stored := make([][]bool, g)
	var wg sync.WaitGroup
	for w := range g {
		got[w], stored[w] = make([]bigValue, keys), make([]bool, keys)
		wg.Go(func() {
			for k := range keys {
				v, loaded := m.LoadOrStore(k, big(w*keys+k))
				got[w][k], stored[w][k] = v, !loaded
			}
		})
	}
	wg.Wait()
	for k := range keys {
		final, _ := m.Load(k)
		winners := 0
		for w := range g {
			if stored[w][k] {
				winners++
				if final != big(w*keys+k) {
					t.Fatalf("key %d: goroutine %d stored but the map holds %+v", k, w, final)
				}
			}
			if got[w][k] != final {
				t.Fatalf("key %d: goroutine %d got %+v; the map holds %+v", k, w, got[w][k], final)
			}
		}
		if winners != 1 {
			t.Fatalf("key %d: %d goroutines stored; want 1", k, winners)
		}
	}
}

// TestComputeAtomic has goroutines add to a few shared counters with
// Compute, CompareAndSwap loops and LoadOrCompute, while the table grows
// under them through other keys: no increment is lost, and each
// LoadOrCompute key is created by exactly one goroutine.
func TestComputeAtomic(t *testing.T) {
	const (
		counters = 4
		adds     = 2000
	)
	m := mustNew[int, bigValue](t, false)
	g := writers()
	var created atomic.Int64
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := range adds {
				k := i % counters
				if w%2 == 0 {
					m.Compute(k, func(old bigValue, loaded bool) (bigValue, inline.ComputeOp) {
						return big(int(old.A) + 1), inline.UpdateOp
					})
				} else {
					for {
						old, ok := m.Load(k)
						if !ok {
							if _, loaded := m.LoadOrStore(k, big(1)); !loaded {
								break
							}
							continue
						}
						if m.CompareAndSwap(k, old, big(int(old.A)+1)) {
							break
						}
					}
				}
				m.Store(1000+w*adds+i, big(i)) // grow the table underneath
				m.LoadOrCompute(-1-i, func() (bigValue, bool) { created.Add(1); return big(i), false })
			}
		})
	}
	wg.Wait()
	total := 0
	for k := range counters {
		v, _ := m.Load(k)
		if v != big(int(v.A)) {
			t.Fatalf("counter %d = %+v: torn", k, v)
		}
		total += int(v.A)
	}
	if total != g*adds {
		t.Fatalf("counters sum to %d; want %d: increments lost", total, g*adds)
	}
	if created.Load() != adds {
		t.Fatalf("LoadOrCompute created %d keys; want %d", created.Load(), adds)
	}
}

// TestShrinkAfterMassDelete stores 100k keys, deletes 99% of them and
// checks the table shrank (fewer root buckets, fewer words in roots and
// overflow segments) with every survivor intact; then Clear returns the
// table to its 8 initial buckets.
func TestShrinkAfterMassDelete(t *testing.T) {
	const n = 100_000
	m := mustNew[int, int](t, false)
	for i := range n {
		m.Store(i, i)
	}
	rootsFull, _ := inline.Buckets(m)
	wordsFull := inline.Words(m)
	for i := range n {
		if i%100 != 0 {
			m.Delete(i)
		}
	}
	roots, _ := inline.Buckets(m)
	words := inline.Words(m)
	t.Logf("100k keys: %d roots, %d words; 1k keys: %d roots, %d words", rootsFull, wordsFull, roots, words)
	if roots >= rootsFull/8 || words >= wordsFull/8 {
		t.Fatalf("after deleting 99%%: %d roots, %d words; want under 1/8 of %d, %d", roots, words, rootsFull, wordsFull)
	}
	for i := range n {
		v, ok := m.Load(i)
		if want := i%100 == 0; ok != want || (ok && v != i) {
			t.Fatalf("Load(%d) = %d, %v; want present %v", i, v, ok, want)
		}
	}
	if m.Len() != n/100 {
		t.Fatalf("Len = %d; want %d", m.Len(), n/100)
	}
	m.Clear()
	if roots, _ := inline.Buckets(m); roots != 8 || m.Len() != 0 {
		t.Fatalf("after Clear: %d roots, Len %d; want 8, 0", roots, m.Len())
	}
}

// TestShrinkDuringReads has a writer delete most of a grown table, so that
// it shrinks several times, while readers Load and Range: every key that is
// never deleted is found with its value, and Range visits it exactly once.
func TestShrinkDuringReads(t *testing.T) {
	const n, stable = 40_000, 100
	m := mustNew[int, bigValue](t, false)
	for i := range n {
		m.Store(i, big(i))
	}
	rootsFull, _ := inline.Buckets(m)
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for i := stable; i < n; i++ {
			m.Delete(i)
		}
	})
	ranges := 0
	for !done.Load() || ranges < 3 {
		seen := make(map[int]int, n)
		m.Range(func(k int, v bigValue) bool {
			if v != big(k) {
				t.Fatalf("Range: %d = %+v; want %+v", k, v, big(k))
			}
			seen[k]++
			return true
		})
		for k := range stable {
			if seen[k] != 1 {
				t.Fatalf("Range visited stable key %d %d times; want 1", k, seen[k])
			}
			if v, ok := m.Load(k); !ok || v != big(k) {
				t.Fatalf("Load(%d) during shrink = %+v, %v", k, v, ok)
			}
		}
		for k, c := range seen {
			if c != 1 {
				t.Fatalf("Range visited %d %d times", k, c)
			}
		}
		ranges++
	}
	wg.Wait()
	if roots, _ := inline.Buckets(m); roots >= rootsFull/8 {
		t.Fatalf("table has %d roots after deleting down to %d keys; had %d: it did not shrink", roots, stable, rootsFull)
	}
	t.Logf("%d ranges", ranges)
}

// TestClearConcurrent has writers store and delete disjoint keys while
// Clear runs again and again: once all stop, Len matches what Range visits
// (no size counted into a cleared table leaks into the new one), every
// value present is one its writer stored, and a last Clear empties the
// map. It does not catch a Clear that skips locking the old chains (the
// window is a few instructions wide).
func TestClearConcurrent(t *testing.T) {
	const per = 2000
	m := mustNew[int, bigValue](t, false)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range writers() {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := w*per + i%per
				m.Store(k, big(k))
				if i%3 == 0 {
					m.Delete(w*per + (i/3)%per)
				}
			}
		})
	}
	clears := 0
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); clears++ {
		m.Clear()
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	n := 0
	m.Range(func(k int, v bigValue) bool {
		if v != big(k) {
			t.Fatalf("Range: %d = %+v; want %+v", k, v, big(k))
		}
		n++
		return true
	})
	if m.Len() != n {
		t.Fatalf("after %d concurrent Clears, Len = %d; Range visited %d", clears, m.Len(), n)
	}
	m.Clear()
	if m.Len() != 0 {
		t.Fatalf("Len after Clear = %d; want 0", m.Len())
	}
	m.Range(func(k int, _ bigValue) bool { t.Fatalf("Range after Clear visited %d", k); return false })
}

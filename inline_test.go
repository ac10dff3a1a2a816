package mapguard_test

import (
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/mapguard/mapguard"
)

// The tests here are for the inline representation alone; the conformance,
// fuzz, stress and linearizability suites run both representations (see
// constructors).

type flatStruct struct {
	A int8
	B float64
	C [2]uint16
	D bool
	E complex64
}

type hiddenPointer struct {
	A int
	B struct{ C [1]*int }
}

func wantEligible[K comparable, V any](t *testing.T, want bool) {
	t.Helper()
	if got := mapguard.InlineEligible[K, V](); got != want {
		t.Errorf("Map[%v, %v] inline = %v; want %v", reflect.TypeFor[K](), reflect.TypeFor[V](), got, want)
	}
	var m mapguard.Map[K, V]
	var k K
	var v V
	m.Store(k, v)
	if got := m.Stats().Inline; got != want {
		t.Errorf("Map[%v, %v] after a Store: Stats().Inline = %v; want %v", reflect.TypeFor[K](), reflect.TypeFor[V](), got, want)
	}
}

func TestInlineEligibility(t *testing.T) {
	// Anything holding a pointer stays in entry objects.
	wantEligible[string, int](t, false)
	wantEligible[int, string](t, false)
	wantEligible[*int, int](t, false)
	wantEligible[int, []int](t, false)
	wantEligible[int, map[int]int](t, false)
	wantEligible[any, int](t, false)
	wantEligible[int, chan int](t, false)
	wantEligible[int, func()](t, false)
	wantEligible[unsafe.Pointer, int](t, false)
	wantEligible[[2]string, int](t, false)
	wantEligible[int, hiddenPointer](t, false)
	// So does a pair too large to copy under a seqlock: 9 words.
	wantEligible[int, [8]int64](t, false)
	// Pointer-free pairs of at most 8 words are inline.
	wantEligible[int, int](t, true)
	wantEligible[uint8, bool](t, true)
	wantEligible[uintptr, float32](t, true)
	wantEligible[float64, complex128](t, true)
	wantEligible[[4]uint64, [3]int32](t, true)
	wantEligible[flatStruct, flatStruct](t, true)
	wantEligible[struct{}, struct{}](t, true)
	wantEligible[[0]string, int](t, true) // a zero-length array holds nothing
	wantEligible[int, [7]int64](t, true)
}

type triple struct{ A, B, C int64 }

// TestTornRead has writers flip multi-word values between two patterns
// (all words 0 or all 1; a==b==c) on a few keys of one chain, while
// readers Load and Range and check they never see a mix. Without the
// sequence check a reader sees a mix within milliseconds.
func TestTornRead(t *testing.T) {
	words := mapguard.NewCollidingMap[int, [4]uint64]()
	structs := mapguard.NewMap[int, triple]()
	if !words.Stats().Inline || !structs.Stats().Inline {
		t.Fatal("the maps under test are not inline")
	}
	const keys = 12 // colliding: one root bucket and overflow buckets
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
				if i%97 == 0 { // deletes and re-inserts reuse slots
					words.Delete(k)
					words.Store(k, ones)
				}
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
				if v, ok := words.Load(k); ok && !check4(v) {
					t.Errorf("Load(%d) = %x: torn", k, v)
					stop.Store(true)
				}
				if v, ok := structs.Load(k); !ok || !check3(v) {
					t.Errorf("Load(%d) = %+v, %v: torn or missing", k, v, ok)
					stop.Store(true)
				}
				if i%64 == 0 {
					for k, v := range words.All() {
						if !check4(v) {
							t.Errorf("Range: %d = %x: torn", k, v)
							stop.Store(true)
						}
					}
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
}

// TestHotKeyReadersProgress has writers hammer one multi-word key while a
// reader Loads it: a reader that keeps losing its optimistic read to the
// writers falls back to the chain's lock and finishes.
func TestHotKeyReadersProgress(t *testing.T) {
	m := mapguard.NewMap[int, triple]()
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
			t.Fatalf("only %d Loads in 5 s under hot writers", i)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("locked reads: %d of 20000", m.Stats().LockedReads)
}

type bigValue struct {
	A, B int64
	C    [2]uint32
}

func big(v int) bigValue {
	return bigValue{A: int64(v), B: int64(-v), C: [2]uint32{uint32(v), uint32(v >> 1)}}
}

// TestInlineWritesAllocateNothing checks that no write of an inline map
// allocates once its table has room, not even the closures passed to
// Compute and LoadOrCompute (they stay on the caller's stack only if
// neither representation's write path lets them escape).
func TestInlineWritesAllocateNothing(t *testing.T) {
	m := mapguard.NewMap[int, bigValue](mapguard.WithPresize(8000))
	for i := range 1000 {
		m.Store(i, big(i))
	}
	i := 0
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Store", func() { m.Store(i%1000, big(i)) }},
		{"Swap", func() { m.Swap(i%1000, big(i)) }},
		{"LoadAndStore", func() { m.LoadAndStore(i%1000, big(i)) }},
		{"CompareAndSwap", func() { v, _ := m.Load(i % 1000); m.CompareAndSwap(i%1000, v, big(i)) }},
		{"CompareAndDelete+Store", func() { v, _ := m.Load(i % 1000); m.CompareAndDelete(i%1000, v); m.Store(i%1000, v) }},
		{"LoadAndDelete+Store", func() { m.LoadAndDelete(i % 1000); m.Store(i%1000, big(i)) }},
		{"Delete+LoadOrStore", func() { m.Delete(i % 1000); m.LoadOrStore(i%1000, big(i)) }},
		{"Compute", func() {
			m.Compute(i%1000, func(bigValue, bool) (bigValue, mapguard.ComputeOp) { return big(i), mapguard.UpdateOp })
		}},
		{"LoadOrCompute", func() { m.LoadOrCompute(i%1000+5000, func() (bigValue, bool) { return big(i), true }) }},
	} {
		if a := testing.AllocsPerRun(1000, func() { i++; c.f() }); a != 0 {
			t.Errorf("%s: %v allocations a call; want 0", c.name, a)
		}
	}
}

// TestFloatKeysAsBuiltin checks float keys against the builtin map, in both
// representations: -0 and 0 are one key, and each NaN is a key of its own
// that Load never finds.
func TestFloatKeysAsBuiltin(t *testing.T) {
	for _, opts := range [][]mapguard.Option{nil, {mapguard.WithEntries()}} {
		m := mapguard.NewMap[float64, int](opts...)
		ref := map[float64]int{}
		negZero := math.Copysign(0, -1)
		nan := math.NaN()
		for i, k := range []float64{0, negZero, nan, nan, 1.5, negZero} {
			m.Store(k, i)
			ref[k] = i
		}
		if m.Size() != len(ref) {
			t.Fatalf("inline %v: Size = %d; want %d (builtin map)", m.Stats().Inline, m.Size(), len(ref))
		}
		for _, k := range []float64{0, negZero, nan, 1.5} {
			got, ok := m.Load(k)
			want, wok := ref[k]
			if got != want || ok != wok {
				t.Errorf("inline %v: Load(%v) = %d, %v; want %d, %v", m.Stats().Inline, k, got, ok, want, wok)
			}
		}
		nans := 0
		for k := range m.Keys() {
			if k != k {
				nans++
			}
		}
		if nans != 2 {
			t.Errorf("inline %v: Keys saw %d NaN keys; want 2", m.Stats().Inline, nans)
		}
	}
}

// TestDeleteFuncNaNValue checks that DeleteFunc deletes an inline entry
// whose value is a NaN: the value is unchanged (the same bits) although
// NaN != NaN.
func TestDeleteFuncNaNValue(t *testing.T) {
	m := mapguard.NewMap[int, float64]()
	m.Store(1, math.NaN())
	m.Store(2, 2)
	if n := m.DeleteFunc(func(_ int, v float64) bool { return v != v }); n != 1 {
		t.Fatalf("DeleteFunc(NaN values) = %d; want 1", n)
	}
	if _, ok := m.Load(1); ok || m.Size() != 1 {
		t.Fatalf("after DeleteFunc: key 1 present %v, Size %d; want absent, 1", ok, m.Size())
	}
}

// TestInlineTableNotScanned checks the point of the inline representation:
// a million int->int entries add no pointers for the GC to scan, while the
// same entries as entry objects do. runtime/metrics' scannable heap is the
// measure; it is a property of the allocation, not a timing.
func TestInlineTableNotScanned(t *testing.T) {
	if testing.Short() {
		t.Skip("fills two maps of 200,000 entries")
	}
	const n = 200_000
	heapScan := func(opts ...mapguard.Option) (scan uint64, inline bool) {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		m := mapguard.NewMap[int, int](opts...)
		for i := range n {
			m.Store(i, i)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		inline = m.Stats().Inline
		runtime.KeepAlive(m)
		// HeapObjects counts live objects: entry objects are one each.
		return after.HeapObjects - min(after.HeapObjects, before.HeapObjects), inline
	}
	inl, isInline := heapScan()
	ent, entInline := heapScan(mapguard.WithEntries())
	if !isInline || entInline {
		t.Fatalf("representations: %v, %v; want inline, entries", isInline, entInline)
	}
	if inl > 1000 || ent < n {
		t.Fatalf("live objects added by %d entries: inline %d (want a few: the table), entries %d (want >= %d)", n, inl, ent, n)
	}
}

// TestOverflowPanicReleasesLock makes the overflow bucket a Store needs
// impossible (as if 2^32-1 existed): the Store panics, and the chain's lock
// must be free afterwards, so a caller that recovers can use the map.
func TestOverflowPanicReleasesLock(t *testing.T) {
	m := mapguard.NewCollidingMap[int, int]() // one chain
	for i := range 8 {
		m.Store(i, i) // fills the root bucket
	}
	mapguard.ExhaustOverflowLinks(m)
	if msg := fmt.Sprint(catchPanic(func() { m.Store(8, 8) })); !strings.Contains(msg, "overflow") {
		t.Fatalf("Store needing an impossible overflow bucket panicked with %q; want a panic about overflow buckets", msg)
	}
	done := make(chan struct{})
	go func() {
		m.Store(3, 30) // the same chain: needs its lock
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a Store after the recovered panic waited 5 s for the chain's lock: it was not released")
	}
	if v, ok := m.Load(3); !ok || v != 30 {
		t.Fatalf("Load(3) = %d, %v; want 30, true", v, ok)
	}
	if _, ok := m.Load(8); ok || m.Size() != 8 {
		t.Fatalf("after the panicked Store: key 8 present %v, Size %d; want absent, 8", ok, m.Size())
	}
}

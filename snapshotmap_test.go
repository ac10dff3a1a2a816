package mapguard_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard"
)

// snapshotConstructors are the ways to make a SnapshotMap.
func snapshotConstructors() []struct {
	name string
	make func() *mapguard.SnapshotMap[int, int]
} {
	return []struct {
		name string
		make func() *mapguard.SnapshotMap[int, int]
	}{
		{"NewSnapshotMap", func() *mapguard.SnapshotMap[int, int] { return mapguard.NewSnapshotMap[int, int]() }},
		{"zero", func() *mapguard.SnapshotMap[int, int] { return new(mapguard.SnapshotMap[int, int]) }},
		{"colliding", func() *mapguard.SnapshotMap[int, int] { return mapguard.NewCollidingSnapshotMap[int, int]() }},
	}
}

func viewContents(v *mapguard.View[int, int]) map[int]int {
	out := map[int]int{}
	for k, val := range v.All() {
		if _, dup := out[k]; dup {
			panic(fmt.Sprintf("View visited key %d twice", k))
		}
		out[k] = val
	}
	return out
}

// TestViewIsPointInTime checks that a View keeps the contents the map had
// when it was taken, through overwrites, deletions, re-insertions, growth
// and shrinking, while a second View taken later sees the later state.
func TestViewIsPointInTime(t *testing.T) {
	for _, c := range snapshotConstructors() {
		t.Run(c.name, func(t *testing.T) {
			s := c.make()
			const n = 500
			want1 := map[int]int{}
			for i := range n {
				s.Store(i, i)
				want1[i] = i
			}
			v1 := s.Snapshot()
			for i := range n {
				switch i % 3 {
				case 0:
					s.Store(i, -i)
				case 1:
					s.Delete(i)
				case 2:
					s.Delete(i)
					s.Store(i, 2*i)
				}
			}
			for i := n; i < 4*n; i++ { // grow the table under v1
				s.Store(i, i)
			}
			want2 := maps.Collect(s.All())
			v2 := s.Snapshot()
			for i := range 4 * n { // and empty it: it shrinks
				s.Delete(i)
			}
			if got := s.Size(); got != 0 {
				t.Fatalf("Size() = %d after deleting everything; want 0", got)
			}
			for _, tc := range []struct {
				name string
				v    *mapguard.View[int, int]
				want map[int]int
			}{{"v1", v1, want1}, {"v2", v2, want2}} {
				if got := viewContents(tc.v); !maps.Equal(got, tc.want) {
					t.Fatalf("%s has %d entries; want %d (differ)", tc.name, len(got), len(tc.want))
				}
				if got := tc.v.Len(); got != len(tc.want) {
					t.Fatalf("%s.Len() = %d; want %d", tc.name, got, len(tc.want))
				}
				for i := range 4*n + 1 {
					want, wantOK := tc.want[i]
					if got, ok := tc.v.Load(i); got != want || ok != wantOK {
						t.Fatalf("%s.Load(%d) = %d, %v; want %d, %v", tc.name, i, got, ok, want, wantOK)
					}
				}
				keys := slices.Sorted(tc.v.Keys())
				if !slices.Equal(keys, slices.Sorted(maps.Keys(tc.want))) {
					t.Fatalf("%s.Keys() differ from its contents", tc.name)
				}
				if got, want := len(slices.Collect(tc.v.Values())), len(tc.want); got != want {
					t.Fatalf("%s.Values() yielded %d values; want %d", tc.name, got, want)
				}
				b, err := json.Marshal(tc.v)
				if err != nil {
					t.Fatal(err)
				}
				var back map[int]int
				if err := json.Unmarshal(b, &back); err != nil || !maps.Equal(back, tc.want) {
					t.Fatalf("%s JSON round trip: %v, %d entries; want %d", tc.name, err, len(back), len(tc.want))
				}
			}
			v1.Release()
			v2.Release()
			if st := s.Stats(); st.Buckets != st.MinBuckets {
				t.Fatalf("after releasing the Views of an empty map: %+v; want the table shrunk to its minimum", st)
			}
		})
	}
}

// TestViewReadsStopEarly checks that a View's iterators stop when asked.
func TestViewReadsStopEarly(t *testing.T) {
	s := mapguard.NewSnapshotMap[int, int]()
	for i := range 100 {
		s.Store(i, i)
	}
	v := s.Snapshot()
	defer v.Release()
	n := 0
	for range v.All() {
		n++
		if n == 10 {
			break
		}
	}
	if n != 10 {
		t.Fatalf("iterated %d entries; want 10", n)
	}
}

// TestViewUsedAfterReleasePanics checks that a released View is not
// silently read: its versions may be gone.
func TestViewUsedAfterReleasePanics(t *testing.T) {
	s := mapguard.NewSnapshotMap[int, int]()
	s.Store(1, 1)
	v := s.Snapshot()
	v.Release()
	v.Release() // harmless
	r := mustPanic(t, "Load after Release", func() { v.Load(1) })
	if !strings.Contains(fmt.Sprint(r), "mapguard: View used after Release") {
		t.Fatalf("panic %q; want one naming the misuse", r)
	}
	mustPanic(t, "All after Release", func() {
		for range v.All() {
		}
	})
}

// TestViewRangeCallbackMayWrite checks that iterating a View holds no lock:
// the callback writes to every key it visits, and the View still shows the
// old contents.
func TestViewRangeCallbackMayWrite(t *testing.T) {
	for _, c := range snapshotConstructors() {
		t.Run(c.name, func(t *testing.T) {
			s := c.make()
			for i := range 300 {
				s.Store(i, i)
			}
			v := s.Snapshot()
			defer v.Release()
			seen := 0
			for k, val := range v.All() {
				if val != k {
					t.Fatalf("View saw %d=%d; want %d=%d", k, val, k, k)
				}
				s.Store(k, -1)
				s.Delete(k + 1)
				s.Store(k+1000, k) // grows the table mid-iteration
				seen++
			}
			if seen != 300 {
				t.Fatalf("View iteration saw %d entries; want 300", seen)
			}
		})
	}
}

// TestVersionsTrimmedWithoutViews checks that with no View alive a key
// keeps one version and a deleted key leaves nothing behind, and that with
// a View alive only what it needs is kept.
func TestVersionsTrimmedWithoutViews(t *testing.T) {
	s := mapguard.NewSnapshotMap[int, int]()
	for i := range 100 {
		s.Store(1, i)
	}
	if n, _ := mapguard.Versions(s, 1); n != 1 {
		t.Fatalf("key written 100 times with no View keeps %d versions; want 1", n)
	}
	s.Delete(1)
	if _, in := mapguard.Versions(s, 1); in {
		t.Fatal("deleted key with no View is still in the table")
	}

	s.Store(2, 0)
	v := s.Snapshot()
	for i := range 100 {
		s.Store(2, i+1)
	}
	// The newest version, and the one v sees; the 99 between are dropped.
	if n, _ := mapguard.Versions(s, 2); n != 2 {
		t.Fatalf("key written 100 times under one View keeps %d versions; want 2", n)
	}
	s.Delete(2)
	if n, in := mapguard.Versions(s, 2); !in || n != 2 {
		t.Fatalf("deleted key under a View: %d versions, in table %v; want the deletion and v's version", n, in)
	}
	if got, ok := v.Load(2); got != 0 || !ok {
		t.Fatalf("v.Load(2) = %d, %v; want 0, true", got, ok)
	}
	if s.Size() != 0 {
		t.Fatalf("Size() = %d; want 0: a deletion kept for a View is not an entry", s.Size())
	}
	v.Release()
	if _, in := mapguard.Versions(s, 2); in {
		t.Fatal("deleted key is still in the table after its only View was released")
	}
}

// TestViewReleaseReturnsMemory checks that the old values a View kept
// alive become garbage once it is released, and once it is unreachable.
func TestViewReleaseReturnsMemory(t *testing.T) {
	type big [4096]byte
	for _, how := range []string{"Release", "unreachable"} {
		t.Run(how, func(t *testing.T) {
			const n = 2000
			s := mapguard.NewSnapshotMap[int, *big]()
			for i := range n {
				s.Store(i, new(big))
			}
			var freed atomic.Int64
			for i := range n {
				v, _ := s.Load(i)
				runtime.AddCleanup(v, func(*atomic.Int64) { freed.Add(1) }, &freed)
			}
			v := s.Snapshot()
			for i := range n { // overwrite everything: v keeps the old values
				s.Store(i, new(big))
			}
			runtime.GC()
			before := heapBytes()
			if got := freed.Load(); got != 0 {
				t.Fatalf("%d values a live View needs were freed", got)
			}
			if how == "Release" {
				v.Release()
			} else {
				runtime.KeepAlive(v)
				v = nil
			}
			// The View's cleanup runs after one GC; the values it pinned
			// are freed by a later one.
			deadline := time.Now().Add(10 * time.Second)
			for freed.Load() < n && time.Now().Before(deadline) {
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
			if got := freed.Load(); got != n {
				t.Fatalf("%d of %d old values freed after the View was %s", got, n, how)
			}
			after := heapBytes()
			if want := before - n*4096*9/10; after > want {
				t.Fatalf("heap %d bytes after the View went, %d before; want at most %d", after, before, want)
			}
			runtime.KeepAlive(s)
		})
	}
}

// heapBytes returns the live heap after a GC.
func heapBytes() int {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int(ms.HeapAlloc)
}

// TestViewsSeeOrderedCounters is the consistency stress test: each writer
// owns a row of keys and bumps them one at a time, in order, to 1, 2, 3,
// ...; so at any instant a row reads n, n, ..., n, n-1, ..., n-1 for some
// n. A View that mixes instants can see a later key ahead of an earlier one,
// or a spread of more than one; every View must see a valid row. Readers
// pause mid-iteration to let the writers run ahead.
func TestViewsSeeOrderedCounters(t *testing.T) {
	const rows, cols = 3, 40
	for _, c := range snapshotConstructors() {
		t.Run(c.name, func(t *testing.T) {
			s := c.make()
			var (
				stop   atomic.Bool
				rounds atomic.Int64
				wg     sync.WaitGroup
			)
			for r := range rows {
				wg.Go(func() {
					for n := 1; !stop.Load(); n++ {
						for col := range cols {
							s.Store(r*cols+col, n)
						}
						rounds.Add(1)
					}
				})
			}
			defer func() { stop.Store(true); wg.Wait() }()
			rng := rand.New(rand.NewPCG(1, 2))
			for checks := 0; checks < 300 || rounds.Load() < 300; checks++ {
				v := s.Snapshot()
				row := make([][]int, rows)
				for r := range row {
					row[r] = make([]int, cols)
				}
				i := 0
				for k, val := range v.All() {
					if i++; i == cols && rng.IntN(4) == 0 {
						time.Sleep(50 * time.Microsecond)
					}
					row[k/cols][k%cols] = val
				}
				for r := range rows {
					if err := checkRow(row[r]); err != nil {
						t.Fatalf("View %d, row %d: %v: %v", checks, r, err, row[r])
					}
					if got, _ := v.Load(r*cols + cols - 1); got != row[r][cols-1] {
						t.Fatalf("View %d: Load(%d) = %d; its iteration saw %d", checks, r*cols+cols-1, got, row[r][cols-1])
					}
				}
				v.Release()
			}
		})
	}
}

// checkRow reports whether row could be read at one instant from a writer
// that bumps its keys in order: a run of n then a run of n-1 (or 0s).
func checkRow(row []int) error {
	for i := 1; i < len(row); i++ {
		if row[i] > row[i-1] {
			return fmt.Errorf("key %d is ahead of key %d", i, i-1)
		}
	}
	if row[0]-row[len(row)-1] > 1 {
		return fmt.Errorf("row spans %d writer rounds", row[0]-row[len(row)-1]+1)
	}
	return nil
}

// TestCheckRowRejectsMixedInstants makes sure the invariant can fail.
func TestCheckRowRejectsMixedInstants(t *testing.T) {
	for _, row := range [][]int{{3, 3, 4, 3}, {5, 4, 3}, {1, 0, 1}} {
		if checkRow(row) == nil {
			t.Errorf("checkRow(%v) accepted a row no instant has", row)
		}
	}
	for _, row := range [][]int{{3, 3, 3}, {4, 4, 3}, {1, 0, 0}, {0, 0}} {
		if err := checkRow(row); err != nil {
			t.Errorf("checkRow(%v) = %v; want nil", row, err)
		}
	}
}

// snapshotOp runs one recorded operation on s: a Snapshot's output is the
// View's contents on the hot keys, read by iteration and checked against
// the View's Load.
func snapshotOp(s *mapguard.SnapshotMap[int, int], hotKeys int) func(linInput) linOutput {
	single := mapOp(s)
	return func(in linInput) linOutput {
		if in.op != linSnapshot {
			return single(in)
		}
		v := s.Snapshot()
		defer v.Release()
		got := map[int]int{}
		for k, val := range v.All() {
			if k < hotKeys {
				got[k] = val
			}
		}
		var b strings.Builder
		for k := range hotKeys {
			val, ok := v.Load(k)
			if iv, iok := got[k]; iv != val || iok != ok {
				return linOutput{view: "Load and All disagree"}
			}
			if ok {
				fmt.Fprintf(&b, "%d=%d;", k, val)
			}
		}
		return linOutput{view: b.String()}
	}
}

// TestViewLinearizable records histories mixing Store, Delete, Compute,
// Load and Snapshot (with the View's contents as its output) from
// concurrent clients, with resizes running underneath, and checks them
// with porcupine against the sequential model of the whole map.
func TestViewLinearizable(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	const hotKeys = 3
	ops := []linOp{linStore, linDelete, linCompute, linLoad, linSnapshot, linSnapshot}
	for _, c := range snapshotConstructors() {
		t.Run(c.name, func(t *testing.T) {
			var resizes uint64
			for round := 0; round < rounds || resizes == 0 && round < 5*rounds; round++ {
				s := c.make()
				history := recordHistory(snapshotOp(s, hotKeys), ops, 4, 40, hotKeys, uint64(round), churn(s))
				st := s.Stats()
				resizes += st.Grows + st.Shrinks
				checkLinearizable(t, "view", hotKeys, history)
			}
			if resizes == 0 {
				t.Error("no resize ran under the histories")
			}
		})
	}
}

// FuzzSnapshotOps applies decoded operations to a SnapshotMap and a
// reference map, takes Views as it goes with a copy of the reference at
// that instant, and checks every View against its copy after later
// writes, before releasing it at a random point.
func FuzzSnapshotOps(f *testing.F) {
	f.Add([]byte{2, 1, 5, 16, 0, 0, 2, 1, 7, 7, 1, 0, 17, 0, 0, 18, 0, 0})
	f.Add([]byte{16, 0, 0, 12, 1, 0, 16, 0, 0, 13, 0, 0, 17, 1, 0, 14, 0, 0, 17, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 600 {
			data = data[:600]
		}
		type pinned struct {
			v    *mapguard.View[int, int]
			want map[int]int
		}
		for _, c := range snapshotConstructors() {
			s, ref := c.make(), newRefMap()
			var views []pinned
			for d := data; len(d) >= fuzzOpLen; d = d[fuzzOpLen:] {
				code, k, v := d[0]%20, int(d[1]%32), int(d[2])
				switch code {
				case 16: // take a View
					views = append(views, pinned{s.Snapshot(), maps.Clone(ref.m)})
				case 17: // check one
					if len(views) > 0 {
						p := views[k%len(views)]
						if got := viewContents(p.v); !maps.Equal(got, p.want) {
							t.Fatalf("%s: View has %d entries; its instant had %d", c.name, len(got), len(p.want))
						}
						want, wantOK := p.want[v%32]
						if got, ok := p.v.Load(v % 32); got != want || ok != wantOK {
							t.Fatalf("%s: View.Load(%d) = %d, %v; its instant had %d, %v", c.name, v%32, got, ok, want, wantOK)
						}
					}
				case 18, 19: // release one
					if len(views) > 0 {
						i := k % len(views)
						views[i].v.Release()
						views = slices.Delete(views, i, i+1)
					}
				default:
					applyOp(t, s, ref, byte(code), k, v)
				}
			}
			for _, p := range views {
				if got := viewContents(p.v); !maps.Equal(got, p.want) {
					t.Fatalf("%s: at the end a View has %d entries; its instant had %d", c.name, len(got), len(p.want))
				}
				p.v.Release()
			}
		}
	})
}

// TestReleaseRacingWritersLeavesNoHistory pins a leak found in review:
// a writer that decided to keep an old version for a View, while that View
// was being released, pushed its key after the release had looked at the
// kept stack, so nothing ever dropped the version (or the deletion). Once
// the writers and the release are done, with no View alive, every key must
// hold one version, deleted keys must be gone, and Size must be exact.
func TestReleaseRacingWritersLeavesNoHistory(t *testing.T) {
	const keys = 64
	rounds := 1000
	if testing.Short() {
		rounds = 200
	}
	for round := range rounds {
		s := mapguard.NewSnapshotMap[int, int]()
		for i := range keys {
			s.Store(i, 0)
		}
		v := s.Snapshot()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 2 {
			wg.Go(func() {
				<-start
				for i := g; i < keys; i += 2 {
					switch i % 6 {
					case 0, 1:
						s.Store(i, 1)
					case 2, 3:
						s.Delete(i)
					case 4:
						s.Compute(i, func(old int, _ bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp })
					case 5:
						s.Compute(i, func(int, bool) (int, mapguard.ComputeOp) { return 0, mapguard.DeleteOp })
					}
				}
			})
		}
		close(start)
		runtime.Gosched()
		v.Release()
		wg.Wait()
		present := 0
		for i := range keys {
			deleted := i%6 == 2 || i%6 == 3 || i%6 == 5
			n, in := mapguard.Versions(s, i)
			if n > 1 || in == deleted {
				t.Fatalf("round %d, key %d: %d versions, in table %v, with no View alive; want 1 version, in table %v", round, i, n, in, !deleted)
			}
			if !deleted {
				present++
			}
		}
		if got := s.Size(); got != present {
			t.Fatalf("round %d: Size() = %d; %d keys are present", round, got, present)
		}
	}
}

// TestSizeExactWhileSweeping pins the other review finding: Size subtracted
// a count of kept deletions from the table's count, read at another time,
// so a sweep removing deletions made Size show states that never existed.
func TestSizeExactWhileSweeping(t *testing.T) {
	s := mapguard.NewSnapshotMap[int, int]()
	for i := range 2001 {
		s.Store(i, i)
	}
	v := s.Snapshot()
	for i := 1; i < 2001; i++ {
		s.Delete(i) // kept for v
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if n := s.Size(); n != 1 {
				t.Errorf("Size() = %d while a sweep runs; the map holds 1 key", n)
				return
			}
		}
	})
	v.Release()
	stop.Store(true)
	wg.Wait()
}

// TestZeroViewIsEmpty pins View's documented zero value: an empty View
// whose reads find nothing and whose Release does nothing.
func TestZeroViewIsEmpty(t *testing.T) {
	var v mapguard.View[string, int]
	if val, ok := v.Load("a"); ok || val != 0 {
		t.Errorf("Load on the zero View = %v, %v; want 0, false", val, ok)
	}
	for k := range v.All() {
		t.Errorf("the zero View yielded %q", k)
	}
	if n := v.Len(); n != 0 {
		t.Errorf("Len of the zero View = %d; want 0", n)
	}
	b, err := v.MarshalJSON()
	if err != nil || string(b) != "{}" {
		t.Errorf("MarshalJSON of the zero View = %s, %v; want {}, nil", b, err)
	}
	v.Release()
	v.Release()
}

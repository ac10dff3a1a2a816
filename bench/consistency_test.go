package bench_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapguard/mapguard"
)

// rowKeys is the number of keys a writer bumps in order.
const rowKeys = 64

// tornReads runs a writer that sets keys 0..rowKeys-1 to 1, then all to 2,
// and so on, one Store at a time, while a reader iterates the map tries
// times with read, pausing after the first entry it sees so the writer
// gets ahead. At any instant the keys read n, ..., n, n-1, ..., n-1; it
// returns how many iterations saw anything else: a torn read.
func tornReads(store func(k, v int), read func(f func(k, v int) bool), tries int) int {
	for k := range rowKeys {
		store(k, 0)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 1; !stop.Load(); n++ {
			for k := range rowKeys {
				store(k, n)
			}
		}
	})
	defer func() { stop.Store(true); wg.Wait() }()
	torn := 0
	for range tries {
		var row [rowKeys]int
		first := true
		read(func(k, v int) bool {
			if first {
				first = false
				time.Sleep(100 * time.Microsecond)
			}
			row[k] = v
			return true
		})
		ok := row[0]-row[rowKeys-1] <= 1
		for k := 1; k < rowKeys; k++ {
			ok = ok && row[k] <= row[k-1]
		}
		if !ok {
			torn++
		}
	}
	return torn
}

// TestSyncMapRangeIsNotASnapshot shows what mapguard's Views fix: ranging
// over a sync.Map while a writer runs mixes instants, so an invariant the
// writer maintains atomically at every instant appears broken.
func TestSyncMapRangeIsNotASnapshot(t *testing.T) {
	var m sync.Map
	torn := tornReads(
		func(k, v int) { m.Store(k, v) },
		func(f func(k, v int) bool) { m.Range(func(k, v any) bool { return f(k.(int), v.(int)) }) },
		200)
	if torn == 0 {
		t.Fatal("no sync.Map Range out of 200 saw a torn row; the check cannot tell snapshots apart")
	}
	t.Logf("%d of 200 sync.Map Ranges saw a torn row", torn)
}

// TestSnapshotMapViewIsASnapshot runs the same check on Views of a
// SnapshotMap, and on its Range, which like sync.Map's is not a snapshot.
func TestSnapshotMapViewIsASnapshot(t *testing.T) {
	s := mapguard.NewSnapshotMap[int, int]()
	torn := tornReads(s.Store, func(f func(k, v int) bool) {
		v := s.Snapshot()
		defer v.Release()
		v.Range(f)
	}, 200)
	if torn != 0 {
		t.Fatalf("%d of 200 Views saw a torn row; want 0", torn)
	}
	s = mapguard.NewSnapshotMap[int, int]()
	if torn := tornReads(s.Store, s.Range, 200); torn == 0 {
		t.Fatal("no SnapshotMap.Range out of 200 saw a torn row; the check cannot tell snapshots apart")
	}
}

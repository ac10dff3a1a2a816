package bench_test

import (
	"strings"
	"testing"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/bench"
)

// TestImplsAgree runs one operation sequence on every implementation and
// checks they all end with the same contents: a broken adapter would make
// every benchmark number meaningless.
func TestImplsAgree(t *testing.T) {
	keys := bench.StringKeys(64)
	var want map[string]int
	for _, name := range bench.Names() {
		im := struct{ Name string }{name}
		m, err := bench.New[string, int](name)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			m.Store(k, i)
			if i%3 == 0 {
				m.Delete(k)
			}
			if v, loaded := m.LoadOrStore(k, -i); loaded == (i%3 == 0) || (loaded && v != i) {
				t.Fatalf("%s: LoadOrStore(%q) = %d, %v", im.Name, k, v, loaded)
			}
		}
		for range 3 { // three increments of one key
			m.Compute(keys[5], func(old int, loaded bool) (int, mapguard.ComputeOp) { return old + 1, mapguard.UpdateOp })
		}
		if v, ok := m.Load(keys[5]); !ok || v != 8 {
			t.Fatalf("%s: after 3 Compute increments of 5: %d, %v; want 8, true", im.Name, v, ok)
		}
		m.Store(keys[5], 5)
		got := map[string]int{}
		m.Range(func(k string, v int) bool { got[k] = v; return true })
		if v, ok := m.Load(keys[1]); !ok || v != 1 {
			t.Fatalf("%s: Load = %d, %v; want 1, true", im.Name, v, ok)
		}
		if want == nil {
			want = got
			continue
		}
		if len(got) != len(want) {
			t.Fatalf("%s holds %d entries; %s holds %d", im.Name, len(got), bench.Names()[0], len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %q => %d; want %d", im.Name, k, got[k], v)
			}
		}
	}
	if len(want) != 64 {
		t.Fatalf("%d entries; want 64", len(want))
	}
}

func TestNewUnknownImplementation(t *testing.T) {
	_, err := bench.New[int, int]("btree")
	if err == nil || !strings.Contains(err.Error(), "syncmap") {
		t.Fatalf("New(btree) error = %v; want one listing the known implementations", err)
	}
}

func TestKeysDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range bench.StringKeys(1 << 16) {
		if seen[k] {
			t.Fatalf("StringKeys repeats %q", k)
		}
		seen[k] = true
	}
}

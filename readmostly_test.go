package mapguard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mapguard/mapguard"
)

func TestReadMostlyBasics(t *testing.T) {
	var m mapguard.ReadMostly[string, int] // zero value ready
	if v, ok := m.Load("a"); v != 0 || ok || m.Len() != 0 {
		t.Fatalf("empty: Load = %d, %v; Len = %d", v, ok, m.Len())
	}
	m.Delete("a") // absent: no-op
	m.Store("a", 1)
	m.Store("b", 2)
	m.Store("a", 3)
	if v, ok := m.Load("a"); v != 3 || !ok {
		t.Fatalf(`Load("a") = %d, %v; want 3, true`, v, ok)
	}
	if m.Len() != 2 {
		t.Fatalf("Len() = %d; want 2", m.Len())
	}
	m.Delete("a")
	if _, ok := m.Load("a"); ok || m.Len() != 1 {
		t.Fatalf("after Delete: present=%v, Len %d", ok, m.Len())
	}
	want := map[string]int{"b": 2}
	if got := maps.Collect(m.All()); !maps.Equal(got, want) {
		t.Fatalf("All() = %v; want %v", got, want)
	}
	n := 0
	m.Range(func(string, int) bool { n++; return false })
	for range m.Keys() {
		n++
	}
	for range m.Values() {
		n++
	}
	if n != 3 {
		t.Fatalf("Range (stopping at once), Keys and Values visited %d; want 3", n)
	}
}

func TestReadMostlySnapshotIsStable(t *testing.T) {
	var m mapguard.ReadMostly[int, int]
	for i := range 10 {
		m.Store(i, i)
	}
	snap := m.Snapshot()
	m.Store(100, 100)
	m.Delete(0)
	if len(snap) != 10 || snap[0] != 0 {
		t.Fatalf("snapshot changed after writes: %v", snap)
	}
	if _, ok := snap[100]; ok {
		t.Fatal("snapshot sees a later Store")
	}
}

func TestReadMostlyUpdate(t *testing.T) {
	var m mapguard.ReadMostly[string, int]
	m.Store("keep", 1)
	err := m.Update(func(tx *mapguard.Tx[string, int]) error {
		tx.Store("x", 1)
		tx.Store("y", 2)
		tx.Delete("keep")
		if v, ok := tx.Load("x"); v != 1 || !ok {
			t.Errorf("tx does not see its own Store: %d, %v", v, ok)
		}
		if _, ok := m.Load("x"); ok {
			t.Error("readers see an uncommitted Store")
		}
		if tx.Len() != 2 {
			t.Errorf("tx.Len() = %d; want 2", tx.Len())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := maps.Collect(m.All()), map[string]int{"x": 1, "y": 2}; !maps.Equal(got, want) {
		t.Fatalf("after Update: %v; want %v", got, want)
	}
}

func TestReadMostlyUpdateErrorChangesNothing(t *testing.T) {
	var m mapguard.ReadMostly[string, int]
	m.Store("a", 1)
	boom := errors.New("validation failed")
	err := m.Update(func(tx *mapguard.Tx[string, int]) error {
		tx.Store("a", 2)
		tx.Store("b", 3)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v; want %v", err, boom)
	}
	if got, want := maps.Collect(m.All()), map[string]int{"a": 1}; !maps.Equal(got, want) {
		t.Fatalf("after a failed Update: %v; want %v", got, want)
	}
}

func TestReadMostlyUpdatePanicChangesNothing(t *testing.T) {
	var m mapguard.ReadMostly[string, int]
	m.Store("a", 1)
	var leaked *mapguard.Tx[string, int]
	r := catchPanic(func() {
		m.Update(func(tx *mapguard.Tx[string, int]) error {
			leaked = tx
			tx.Store("a", 2)
			panic("boom")
		})
	})
	if r != "boom" {
		t.Fatalf("Update's panic = %v; want boom", r)
	}
	if v, _ := m.Load("a"); v != 1 {
		t.Fatalf("after a panicking Update: a = %d; want 1", v)
	}
	m.Store("b", 2) // the lock was released, or this deadlocks
	if msg := fmt.Sprint(catchPanic(func() { leaked.Store("c", 3) })); !strings.Contains(msg, "mapguard: Tx used after") {
		t.Fatalf("using a Tx after Update panicked with %q", msg)
	}
	if m.Len() != 2 {
		t.Fatalf("Len() = %d; want 2", m.Len())
	}
}

func TestReadMostlyLoadDoesNotAllocate(t *testing.T) {
	var m mapguard.ReadMostly[string, int]
	for i := range 100 {
		m.Store(fmt.Sprint(i), i)
	}
	if n := testing.AllocsPerRun(1000, func() { m.Load("50"); m.Load("missing") }); n != 0 {
		t.Fatalf("Load allocates %v times; want 0", n)
	}
}

func TestReadMostlyJSON(t *testing.T) {
	var m mapguard.ReadMostly[string, int]
	if b, err := json.Marshal(&m); err != nil || string(b) != "{}" {
		t.Fatalf("empty: %s, %v", b, err)
	}
	m.Store("b", 2)
	m.Store("a", 1)
	b, err := json.Marshal(&m)
	if err != nil || string(b) != `{"a":1,"b":2}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var back mapguard.ReadMostly[string, int]
	back.Store("keep", 0)
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Len() != 3 {
		t.Fatalf("after Unmarshal: Len %d; want 3", back.Len())
	}
	if err := back.UnmarshalJSON([]byte(`{"a": "x"}`)); err == nil || !strings.Contains(err.Error(), "mapguard:") {
		t.Fatalf("malformed JSON: err = %v", err)
	}
	if v, _ := back.Load("a"); v != 1 {
		t.Fatalf("failed UnmarshalJSON changed a to %d", v)
	}
}

// TestReadMostlySnapshotsSeeConstantSum moves value between keys with
// Update while readers take snapshots: every snapshot must add up exactly.
func TestReadMostlySnapshotsSeeConstantSum(t *testing.T) {
	const keys, total = 16, 1600
	var m mapguard.ReadMostly[int, int]
	m.Update(func(tx *mapguard.Tx[int, int]) error {
		for k := range keys {
			tx.Store(k, total/keys)
		}
		return nil
	})
	var (
		stop    atomic.Bool
		updates atomic.Int64
		wg      sync.WaitGroup
	)
	for w := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				updates.Add(1)
				from, to := (i+w)%keys, (i*7+w+1)%keys
				m.Update(func(tx *mapguard.Tx[int, int]) error {
					a, _ := tx.Load(from)
					b, _ := tx.Load(to)
					tx.Store(from, a-1)
					tx.Store(to, b+1)
					return nil
				})
			}
		})
	}
	// Check until the writers have made many transfers under the readers.
	for checks := 0; checks < 2000 || updates.Load() < 2000; checks++ {
		sum := 0
		for _, v := range m.All() {
			sum += v
		}
		if sum != total {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("a snapshot sums to %d; want %d", sum, total)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// FuzzReadMostlyOps checks ReadMostly against the reference map.
func FuzzReadMostlyOps(f *testing.F) {
	f.Add([]byte{2, 1, 5, 0, 1, 0, 7, 1, 0, 10, 1, 3, 15, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m mapguard.ReadMostly[int, int]
		ref := map[int]int{}
		for ; len(data) >= 3; data = data[3:] {
			k, v := int(data[1]%16), int(data[2])
			switch data[0] % 5 {
			case 0:
				got, ok := m.Load(k)
				if want, wok := ref[k]; got != want || ok != wok {
					t.Fatalf("Load(%d) = %d, %v; reference %d, %v", k, got, ok, want, wok)
				}
			case 1:
				m.Store(k, v)
				ref[k] = v
			case 2:
				m.Delete(k)
				delete(ref, k)
			case 3:
				fail := v%3 == 0
				err := m.Update(func(tx *mapguard.Tx[int, int]) error {
					tx.Store(k, v)
					tx.Delete((k + 1) % 16)
					if fail {
						return errors.New("no")
					}
					return nil
				})
				if (err != nil) != fail {
					t.Fatalf("Update err = %v; want failure %v", err, fail)
				}
				if !fail {
					ref[k] = v
					delete(ref, (k+1)%16)
				}
			case 4:
				if got := maps.Collect(m.All()); !maps.Equal(got, ref) {
					t.Fatalf("All() = %v; reference %v", got, ref)
				}
			}
			if m.Len() != len(ref) {
				t.Fatalf("Len() = %d; reference %d", m.Len(), len(ref))
			}
		}
	})
}

// TestReadMostlyLinearizable checks recorded histories of Load, Store,
// Delete and Compute-by-Update against the same sequential model as Map.
func TestReadMostlyLinearizable(t *testing.T) {
	ops := []linOp{linLoad, linStore, linDelete, linCompute}
	for round := range 10 {
		var m mapguard.ReadMostly[int, int]
		history := recordHistory(readMostlyOp(&m), ops, 4, 100, 3, uint64(round), nil)
		checkLinearizable(t, "key", 0, history)
	}
}

// readMostlyOp runs one recorded operation on m; Compute is an Update.
func readMostlyOp(m *mapguard.ReadMostly[int, int]) func(linInput) linOutput {
	return func(in linInput) (out linOutput) {
		switch in.op {
		case linLoad:
			out.value, out.ok = m.Load(in.key)
		case linStore:
			m.Store(in.key, in.value)
		case linDelete:
			m.Delete(in.key)
		case linCompute:
			m.Update(func(tx *mapguard.Tx[int, int]) error {
				old, loaded := tx.Load(in.key)
				v, op := computeStep(old, loaded, in.value)
				if op == mapguard.DeleteOp {
					tx.Delete(in.key)
				} else {
					tx.Store(in.key, v)
					out = linOutput{value: v, ok: true}
				}
				return nil
			})
		default:
			panic(fmt.Sprintf("ReadMostly has no %s", linOpNames[in.op]))
		}
		return out
	}
}

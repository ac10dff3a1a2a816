package mapguard_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mapguard/mapguard"
)

// linOp names a recorded operation.
type linOp uint8

const (
	linLoad linOp = iota
	linStore
	linLoadOrStore
	linLoadAndDelete
	linDelete
	linCompareAndSwap
	linCompute
	linSnapshot // SnapshotMap.Snapshot, then reads of the View
	linClear    // every key; the partition gives each key's history a copy
)

var linOpNames = [...]string{"Load", "Store", "LoadOrStore", "LoadAndDelete", "Delete", "CompareAndSwap", "Compute", "Snapshot", "Clear"}

type linInput struct {
	op    linOp
	key   int
	value int
	old   int // CompareAndSwap
}

type linOutput struct {
	value int
	ok    bool
	view  string // Snapshot: the View's contents, "k=v;" by key
}

// linState is one key's state in the sequential model.
type linState struct {
	value   int
	present bool
}

// computeStep is the deterministic Compute callback used in histories: add
// the input, and delete when the sum is a multiple of 5.
func computeStep(old int, loaded bool, add int) (int, mapguard.ComputeOp) {
	n := add
	if loaded {
		n = old + add
	}
	if n%5 == 0 {
		return 0, mapguard.DeleteOp
	}
	return n, mapguard.UpdateOp
}

// linModel is the sequential specification of one key of a map; histories
// are partitioned by key, since every recorded operation touches one key,
// except Clear, which touches all: each key's history gets every Clear, a
// delete of that key somewhere within the Clear's call. (That checks each
// key against the contract "a concurrent write lands before the Clear, and
// is cleared, or after it", not that one instant serves all keys.)
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var clears []porcupine.Operation
		for _, op := range history {
			if op.Input.(linInput).op == linClear {
				clears = append(clears, op)
				continue
			}
			k := op.Input.(linInput).key
			byKey[k] = append(byKey[k], op)
		}
		for k := range byKey {
			byKey[k] = append(byKey[k], clears...)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.op {
		case linLoad:
			return out == linOutput{value: s.value, ok: s.present} || (!s.present && out == linOutput{}), s
		case linStore:
			return true, linState{in.value, true}
		case linLoadOrStore:
			if s.present {
				return out == linOutput{value: s.value, ok: true}, s
			}
			return out == linOutput{value: in.value, ok: false}, linState{in.value, true}
		case linLoadAndDelete:
			if s.present {
				return out == linOutput{value: s.value, ok: true}, linState{}
			}
			return out == linOutput{}, s
		case linDelete, linClear:
			return true, linState{}
		case linCompareAndSwap:
			if s.present && s.value == in.old {
				return out.ok, linState{in.value, true}
			}
			return !out.ok, s
		case linCompute:
			v, op := computeStep(s.value, s.present, in.value)
			if op == mapguard.DeleteOp {
				return out == linOutput{}, linState{}
			}
			return out == linOutput{value: v, ok: true}, linState{v, true}
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		return fmt.Sprintf("%s(k=%d v=%d old=%d) -> %d, %v", linOpNames[in.op], in.key, in.value, in.old, out.value, out.ok)
	},
}

// recordHistory runs clients goroutines each doing perClient random
// operations, drawn from ops, on hotKeys keys through do, while background
// (if not nil) runs until they finish, and returns the history.
func recordHistory(do func(linInput) linOutput, ops []linOp, clients, perClient, hotKeys int, seed uint64, background func(stop <-chan struct{})) []porcupine.Operation {
	var clock atomic.Int64
	history := make([][]porcupine.Operation, clients)
	stop := make(chan struct{})
	var bg sync.WaitGroup
	if background != nil {
		bg.Go(func() { background(stop) })
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			<-start
			for range perClient {
				if r.IntN(8) == 0 {
					runtime.Gosched() // let other clients interleave
				}
				in := linInput{op: ops[r.IntN(len(ops))], key: r.IntN(hotKeys), value: r.IntN(9) + 1, old: r.IntN(4)}
				call := clock.Add(1)
				out := do(in)
				ret := clock.Add(1)
				history[c] = append(history[c], porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
			}
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	bg.Wait()
	var all []porcupine.Operation
	for _, h := range history {
		all = append(all, h...)
	}
	return all
}

// allLinOps is every recorded operation; Map supports them all.
var allLinOps = []linOp{linLoad, linStore, linLoadOrStore, linLoadAndDelete, linDelete, linCompareAndSwap, linCompute}

// mapOp runs one recorded operation on m.
func mapOp(m testMap[int, int]) func(linInput) linOutput {
	return func(in linInput) (out linOutput) {
		switch in.op {
		case linLoad:
			out.value, out.ok = m.Load(in.key)
		case linStore:
			m.Store(in.key, in.value)
		case linLoadOrStore:
			out.value, out.ok = m.LoadOrStore(in.key, in.value)
		case linLoadAndDelete:
			out.value, out.ok = m.LoadAndDelete(in.key)
		case linDelete:
			m.Delete(in.key)
		case linClear:
			m.Clear()
		case linCompareAndSwap:
			out.ok = m.CompareAndSwap(in.key, in.old, in.value)
		case linCompute:
			out.value, out.ok = m.Compute(in.key, func(old int, loaded bool) (int, mapguard.ComputeOp) {
				return computeStep(old, loaded, in.value)
			})
		}
		return out
	}
}

// churn grows and shrinks m's table with keys the clients never use, until
// stop is closed.
func churn(m testMap[int, int]) func(stop <-chan struct{}) {
	return func(stop <-chan struct{}) {
		for {
			for i := range 400 {
				select {
				case <-stop:
					return
				default:
				}
				m.Store(1000+i, i)
			}
			for i := range 400 {
				m.Delete(1000 + i)
			}
			runtime.Gosched()
		}
	}
}

// TestLinearizable records concurrent histories of single-key operations on
// hot keys, with resizes running underneath, and checks each against the
// sequential model with porcupine.
func TestLinearizable(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	clients := max(4, 2*runtime.GOMAXPROCS(0))
	for _, c := range constructors[int, int]() {
		t.Run(c.name, func(t *testing.T) {
			// Record at least rounds histories, and more (up to 5x) until a
			// resize has run under one of them.
			var resizes uint64
			for round := 0; round < rounds || resizes == 0 && !c.presized && round < 5*rounds; round++ {
				m := c.make()
				history := recordHistory(mapOp(m), allLinOps, clients, 150, 3, uint64(round), churn(m))
				s := m.Stats()
				resizes += s.Grows + s.Shrinks
				if res := porcupine.CheckOperationsTimeout(linModel, history, 20*time.Second); res != porcupine.Ok {
					t.Fatalf("round %d: history of %d operations is %s; want Ok", round, len(history), res)
				}
			}
			if resizes == 0 && !c.presized {
				t.Errorf("no resize ran under %d histories; the churner did not exercise resizing", rounds)
			}
		})
	}
}

// TestLinearizableWithClear is TestLinearizable with Clear among the
// operations, one in nine: every key's history must be linearizable with
// each Clear deleting the key at some instant within its call.
func TestLinearizableWithClear(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	clients := max(4, 2*runtime.GOMAXPROCS(0))
	ops := append(append([]linOp{}, allLinOps...), linClear, linStore)
	for _, c := range constructors[int, int]() {
		t.Run(c.name, func(t *testing.T) {
			var clears uint64
			for round := range rounds {
				m := c.make()
				history := recordHistory(mapOp(m), ops, clients, 150, 3, uint64(round), nil)
				clears += m.Stats().Clears
				if res := porcupine.CheckOperationsTimeout(linModel, history, 20*time.Second); res != porcupine.Ok {
					t.Fatalf("round %d: history of %d operations is %s; want Ok", round, len(history), res)
				}
			}
			if _, isMap := c.make().(*mapguard.Map[int, int]); isMap && clears == 0 {
				t.Errorf("no Clear ran in %d histories", rounds)
			}
		})
	}
}

// TestLinearizabilityCheckerCatchesBugs makes sure the model can fail: a
// history in which a Load sees a value after a completed Delete is illegal.
func TestLinearizabilityCheckerCatchesBugs(t *testing.T) {
	history := []porcupine.Operation{
		{ClientId: 0, Input: linInput{op: linStore, key: 1, value: 7}, Call: 1, Output: linOutput{}, Return: 2},
		{ClientId: 0, Input: linInput{op: linDelete, key: 1}, Call: 3, Output: linOutput{}, Return: 4},
		{ClientId: 1, Input: linInput{op: linLoad, key: 1}, Call: 5, Output: linOutput{value: 7, ok: true}, Return: 6},
	}
	if porcupine.CheckOperations(linModel, history) {
		t.Fatal("porcupine accepted a Load that saw a deleted value")
	}
	history[2].Output = linOutput{}
	if !porcupine.CheckOperations(linModel, history) {
		t.Fatal("porcupine rejected a legal history")
	}
	// A Store that completed before a Clear began must be cleared; one
	// that overlaps it may survive.
	cleared := []porcupine.Operation{
		{ClientId: 0, Input: linInput{op: linStore, key: 1, value: 7}, Call: 1, Output: linOutput{}, Return: 2},
		{ClientId: 1, Input: linInput{op: linClear}, Call: 3, Output: linOutput{}, Return: 6},
		{ClientId: 0, Input: linInput{op: linLoad, key: 1}, Call: 7, Output: linOutput{value: 7, ok: true}, Return: 8},
	}
	if porcupine.CheckOperations(linModel, cleared) {
		t.Fatal("porcupine accepted a Load that saw a value stored before a completed Clear")
	}
	cleared[0].Call, cleared[0].Return = 4, 5 // the Store now overlaps the Clear
	if !porcupine.CheckOperations(linModel, cleared) {
		t.Fatal("porcupine rejected a Store that overlapped a Clear and survived it")
	}
}

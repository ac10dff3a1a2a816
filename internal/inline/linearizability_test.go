package inline_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mapguard/mapguard/internal/inline"
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
	linSwap
	linLoadOrCompute
)

var linOpNames = [...]string{"Load", "Store", "LoadOrStore", "LoadAndDelete", "Delete", "CompareAndSwap", "Compute", "Swap", "LoadOrCompute"}

type linInput struct {
	op    linOp
	key   int
	value int
	old   int // CompareAndSwap
}

type linOutput struct {
	value int
	ok    bool
}

// linState is one key's state in the sequential model.
type linState struct {
	value   int
	present bool
}

// computeStep is the deterministic Compute callback used in histories, as
// in the root package's test: add the input, and delete when the sum is a
// multiple of 5.
func computeStep(old int, loaded bool, add int) (int, inline.ComputeOp) {
	n := add
	if loaded {
		n = old + add
	}
	if n%5 == 0 {
		return 0, inline.DeleteOp
	}
	return n, inline.UpdateOp
}

// linModel is the sequential specification of one key of a map; histories
// are partitioned by key, since every recorded operation touches one key.
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(linInput).key
			byKey[k] = append(byKey[k], op)
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
		case linLoadOrStore, linLoadOrCompute:
			if s.present {
				return out == linOutput{value: s.value, ok: true}, s
			}
			return out == linOutput{value: in.value, ok: false}, linState{in.value, true}
		case linLoadAndDelete:
			if s.present {
				return out == linOutput{value: s.value, ok: true}, linState{}
			}
			return out == linOutput{}, s
		case linDelete:
			return true, linState{}
		case linCompareAndSwap:
			if s.present && s.value == in.old {
				return out.ok, linState{in.value, true}
			}
			return !out.ok, s
		case linCompute:
			v, op := computeStep(s.value, s.present, in.value)
			if op == inline.DeleteOp {
				return out == linOutput{}, linState{}
			}
			return out == linOutput{value: v, ok: true}, linState{v, true}
		case linSwap:
			if s.present {
				return out == linOutput{value: s.value, ok: true}, linState{in.value, true}
			}
			return out == linOutput{}, linState{in.value, true}
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		return fmt.Sprintf("%s(k=%d v=%d old=%d) -> %d, %v", linOpNames[in.op], in.key, in.value, in.old, out.value, out.ok)
	},
}

// recordHistory runs clients goroutines each doing perClient random
// operations on hotKeys keys of m, while churn grows and shrinks m's table
// with other keys, and returns the history.
func recordHistory(m *inline.Map[int, int], clients, perClient, hotKeys int, seed uint64) []porcupine.Operation {
	var clock atomic.Int64
	history := make([][]porcupine.Operation, clients)
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { churn(m, stop) })
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
				in := linInput{op: linOp(r.IntN(len(linOpNames))), key: r.IntN(hotKeys), value: r.IntN(9) + 1, old: r.IntN(4)}
				call := clock.Add(1)
				out := mapOp(m, in)
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

// mapOp runs one recorded operation on m.
func mapOp(m *inline.Map[int, int], in linInput) (out linOutput) {
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
	case linCompareAndSwap:
		out.ok = m.CompareAndSwap(in.key, in.old, in.value)
	case linCompute:
		out.value, out.ok = m.Compute(in.key, func(old int, loaded bool) (int, inline.ComputeOp) {
			return computeStep(old, loaded, in.value)
		})
	case linSwap:
		out.value, out.ok = m.Swap(in.key, in.value)
	case linLoadOrCompute:
		out.value, out.ok = m.LoadOrCompute(in.key, func() (int, bool) { return in.value, false })
	}
	return out
}

// churn grows and shrinks m's table with keys the clients never use, until
// stop is closed.
func churn(m *inline.Map[int, int], stop <-chan struct{}) {
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

// TestLinearizable records concurrent histories of single-key operations on
// three hot keys, with grows and shrinks running underneath, and checks
// each against the sequential model with porcupine.
func TestLinearizable(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	clients := max(4, 2*runtime.GOMAXPROCS(0))
	for _, collide := range []bool{false, true} {
		name := map[bool]string{false: "hash", true: "collide"}[collide]
		t.Run(name, func(t *testing.T) {
			var resizes uint64
			for round := 0; round < rounds || resizes == 0 && round < 5*rounds; round++ {
				m := mustNew[int, int](t, collide)
				history := recordHistory(m, clients, 150, 3, uint64(round))
				resizes += inline.Resizes(m)
				if res := porcupine.CheckOperationsTimeout(linModel, history, 20*time.Second); res != porcupine.Ok {
					t.Fatalf("round %d: history of %d operations is %s; want Ok", round, len(history), res)
				}
			}
			if resizes == 0 {
				t.Errorf("no resize ran under %d histories; the churner did not exercise resizing", rounds)
			}
		})
	}
}

// TestLinearizabilityCheckerCatchesBugs makes sure the model can fail: a
// history in which a Load sees a value after a completed Delete, or a Swap
// reports a value never stored, is illegal.
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
	history = append(history, porcupine.Operation{ClientId: 1, Input: linInput{op: linSwap, key: 1, value: 2}, Call: 7, Output: linOutput{value: 7, ok: true}, Return: 8})
	if porcupine.CheckOperations(linModel, history) {
		t.Fatal("porcupine accepted a Swap that saw a deleted value")
	}
}

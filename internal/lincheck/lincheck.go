// Package lincheck checks recorded histories of map operations for
// linearizability with porcupine (github.com/anishathalye/porcupine),
// against the sequential specification of a map.
//
// It is a module of its own so that the maps' module requires nothing: the
// maps' tests record histories and hand them to the lincheck command
// (cmd/lincheck), which this package's Check runs. The specification here
// is written independently of the maps' code; the one rule it shares with
// the tests is Compute's step (ComputeStep), which the recorded callbacks
// apply.
package lincheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// The operations a history records, as Op.Op names them.
const (
	Load           = "Load"
	Store          = "Store"
	LoadOrStore    = "LoadOrStore"
	LoadAndDelete  = "LoadAndDelete"
	Delete         = "Delete"
	CompareAndSwap = "CompareAndSwap"
	Compute        = "Compute"  // ComputeStep with Value as the addend
	Snapshot       = "Snapshot" // SnapshotMap.Snapshot; View holds its contents
	Clear          = "Clear"    // every key
)

// Op is one recorded operation: its input, its output, and the logical
// times it was called and returned.
type Op struct {
	Client int    `json:"client"`
	Op     string `json:"op"`
	Key    int    `json:"key"`
	Value  int    `json:"value"`          // Store, LoadOrStore, CompareAndSwap's new value, Compute's addend
	Old    int    `json:"old"`            // CompareAndSwap's expected value
	Out    int    `json:"out"`            // the value returned
	OK     bool   `json:"ok"`             // the bool returned
	View   string `json:"view,omitempty"` // Snapshot: "k=v;" for each present hot key, by key
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
}

// History is what the maps' tests hand to the lincheck command.
type History struct {
	// Model is "key" (single-key operations and Clear, checked key by
	// key) or "view" (single-key operations and Snapshot on HotKeys keys
	// 0..HotKeys-1, checked as one state).
	Model   string `json:"model"`
	HotKeys int    `json:"hot_keys,omitempty"`
	Ops     []Op   `json:"ops"`
}

// ComputeStep is the Compute callback the histories record: add the
// addend to the old value (or start from it), and delete the key when the
// sum is a multiple of 5.
func ComputeStep(old int, loaded bool, add int) (value int, del bool) {
	n := add
	if loaded {
		n = old + add
	}
	if n%5 == 0 {
		return 0, true
	}
	return n, false
}

type input struct {
	op              string
	key, value, old int
}

type output struct {
	value int
	ok    bool
	view  string
}

// keyState is one key's state in the sequential model.
type keyState struct {
	value   int
	present bool
}

// keyStep is the sequential specification of one key.
func keyStep(s keyState, in input, out output) (bool, keyState) {
	switch in.op {
	case Load:
		return out == output{value: s.value, ok: s.present} || (!s.present && out == output{}), s
	case Store:
		return true, keyState{in.value, true}
	case LoadOrStore:
		if s.present {
			return out == output{value: s.value, ok: true}, s
		}
		return out == output{value: in.value, ok: false}, keyState{in.value, true}
	case LoadAndDelete:
		if s.present {
			return out == output{value: s.value, ok: true}, keyState{}
		}
		return out == output{}, s
	case Delete, Clear:
		return true, keyState{}
	case CompareAndSwap:
		if s.present && s.value == in.old {
			return out.ok, keyState{in.value, true}
		}
		return !out.ok, s
	case Compute:
		v, del := ComputeStep(s.value, s.present, in.value)
		if del {
			return out == output{}, keyState{}
		}
		return out == output{value: v, ok: true}, keyState{v, true}
	}
	return false, s
}

func describe(in input, out output) string {
	if in.op == Snapshot {
		return "Snapshot() -> {" + out.view + "}"
	}
	return fmt.Sprintf("%s(k=%d v=%d old=%d) -> %d, %v", in.op, in.key, in.value, in.old, out.value, out.ok)
}

// keyModel checks histories key by key, since every operation but Clear
// touches one key; each key's history gets every Clear, a delete of that
// key somewhere within the Clear's call. (That checks each key against
// the contract "a concurrent write lands before the Clear, and is
// cleared, or after it", not that one instant serves all keys.)
var keyModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var clears []porcupine.Operation
		for _, op := range history {
			in := op.Input.(input)
			if in.op == Clear {
				clears = append(clears, op)
				continue
			}
			byKey[in.key] = append(byKey[in.key], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, append(ops, clears...))
		}
		return out
	},
	Init: func() any { return keyState{} },
	Step: func(state, in, out any) (bool, any) {
		return keyStep(state.(keyState), in.(input), out.(output))
	},
	DescribeOperation: func(in, out any) string { return describe(in.(input), out.(output)) },
}

// viewModel is the sequential specification of a whole map on hotKeys
// keys, for histories that mix single-key operations with Snapshot, whose
// output is the View's contents.
func viewModel(hotKeys int) porcupine.Model {
	encode := func(state []keyState) string {
		var b strings.Builder
		for k, s := range state {
			if s.present {
				fmt.Fprintf(&b, "%d=%d;", k, s.value)
			}
		}
		return b.String()
	}
	decode := func(s string) []keyState {
		st := make([]keyState, hotKeys)
		for kv := range strings.SplitSeq(s, ";") {
			var k, v int
			if _, err := fmt.Sscanf(kv, "%d=%d", &k, &v); err == nil {
				st[k] = keyState{v, true}
			}
		}
		return st
	}
	return porcupine.Model{
		Init: func() any { return "" },
		Step: func(state, inv, outv any) (bool, any) {
			st := decode(state.(string))
			in, out := inv.(input), outv.(output)
			if in.op == Snapshot {
				return out.view == encode(st), state
			}
			ok, next := keyStep(st[in.key], in, out)
			st[in.key] = next
			return ok, encode(st)
		},
		DescribeOperation: func(in, out any) string { return describe(in.(input), out.(output)) },
	}
}

// Check checks h for linearizability, giving up after timeout (the result
// is then porcupine.Unknown). It returns an error for a history it cannot
// check: an unknown model or operation, or a key outside the hot keys of a
// view history.
func Check(h History, timeout time.Duration) (porcupine.CheckResult, error) {
	var model porcupine.Model
	switch h.Model {
	case "key":
		model = keyModel
	case "view":
		if h.HotKeys < 1 {
			return porcupine.Unknown, fmt.Errorf("lincheck: a view history needs hot_keys >= 1, got %d", h.HotKeys)
		}
		model = viewModel(h.HotKeys)
	default:
		return porcupine.Unknown, fmt.Errorf("lincheck: unknown model %q (want key or view)", h.Model)
	}
	if len(h.Ops) == 0 {
		return porcupine.Unknown, fmt.Errorf("lincheck: the history holds no operation")
	}
	ops := make([]porcupine.Operation, len(h.Ops))
	for i, o := range h.Ops {
		switch o.Op {
		case Load, Store, LoadOrStore, LoadAndDelete, Delete, CompareAndSwap, Compute, Snapshot, Clear:
		default:
			return porcupine.Unknown, fmt.Errorf("lincheck: operation %d: unknown op %q", i, o.Op)
		}
		if h.Model == "view" && o.Op != Snapshot && (o.Key < 0 || o.Key >= h.HotKeys) {
			return porcupine.Unknown, fmt.Errorf("lincheck: operation %d: key %d outside the %d hot keys", i, o.Key, h.HotKeys)
		}
		if o.Return < o.Call {
			return porcupine.Unknown, fmt.Errorf("lincheck: operation %d returned (%d) before it was called (%d)", i, o.Return, o.Call)
		}
		ops[i] = porcupine.Operation{
			ClientId: o.Client,
			Input:    input{op: o.Op, key: o.Key, value: o.Value, old: o.Old},
			Output:   output{value: o.Out, ok: o.OK, view: o.View},
			Call:     o.Call,
			Return:   o.Return,
		}
	}
	return porcupine.CheckOperationsTimeout(model, ops, timeout), nil
}

package lincheck_test

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mapguard/mapguard/internal/lincheck"
)

func check(t *testing.T, h lincheck.History) porcupine.CheckResult {
	t.Helper()
	res, err := lincheck.Check(h, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCatchesBugs makes sure the key model can fail: a Load that sees a
// value after a completed Delete is illegal, and so is one that sees a
// value stored before a completed Clear.
func TestCatchesBugs(t *testing.T) {
	h := lincheck.History{Model: "key", Ops: []lincheck.Op{
		{Client: 0, Op: lincheck.Store, Key: 1, Value: 7, Call: 1, Return: 2},
		{Client: 0, Op: lincheck.Delete, Key: 1, Call: 3, Return: 4},
		{Client: 1, Op: lincheck.Load, Key: 1, Out: 7, OK: true, Call: 5, Return: 6},
	}}
	if check(t, h) != porcupine.Illegal {
		t.Fatal("accepted a Load that saw a deleted value")
	}
	h.Ops[2].Out, h.Ops[2].OK = 0, false
	if check(t, h) != porcupine.Ok {
		t.Fatal("rejected a legal history")
	}
	// A Store that completed before a Clear began must be cleared; one
	// that overlaps it may survive.
	cleared := lincheck.History{Model: "key", Ops: []lincheck.Op{
		{Client: 0, Op: lincheck.Store, Key: 1, Value: 7, Call: 1, Return: 2},
		{Client: 1, Op: lincheck.Clear, Call: 3, Return: 6},
		{Client: 0, Op: lincheck.Load, Key: 1, Out: 7, OK: true, Call: 7, Return: 8},
	}}
	if check(t, cleared) != porcupine.Illegal {
		t.Fatal("accepted a Load that saw a value stored before a completed Clear")
	}
	cleared.Ops[0].Call, cleared.Ops[0].Return = 4, 5 // the Store now overlaps the Clear
	if check(t, cleared) != porcupine.Ok {
		t.Fatal("rejected a Store that overlapped a Clear and survived it")
	}
	// Compute follows ComputeStep: 3 + 2 is 5, which deletes.
	compute := lincheck.History{Model: "key", Ops: []lincheck.Op{
		{Client: 0, Op: lincheck.Store, Key: 1, Value: 3, Call: 1, Return: 2},
		{Client: 0, Op: lincheck.Compute, Key: 1, Value: 2, Out: 5, OK: true, Call: 3, Return: 4},
	}}
	if check(t, compute) != porcupine.Illegal {
		t.Fatal("accepted a Compute that stored a multiple of 5")
	}
}

// TestCatchesTornSnapshot makes sure the view model can fail: a View that
// shows one key's new value and another key's old one, both written before
// the Snapshot began, is illegal.
func TestCatchesTornSnapshot(t *testing.T) {
	h := lincheck.History{Model: "view", HotKeys: 2, Ops: []lincheck.Op{
		{Client: 0, Op: lincheck.Store, Key: 0, Value: 1, Call: 1, Return: 2},
		{Client: 0, Op: lincheck.Store, Key: 1, Value: 1, Call: 3, Return: 4},
		{Client: 1, Op: lincheck.Snapshot, View: "0=1;", Call: 5, Return: 6},
	}}
	if check(t, h) != porcupine.Illegal {
		t.Fatal("accepted a torn View")
	}
	h.Ops[2].View = "0=1;1=1;"
	if check(t, h) != porcupine.Ok {
		t.Fatal("rejected a legal history")
	}
}

// TestRefusesWhatItCannotCheck: a history it cannot check is an error,
// never a verdict.
func TestRefusesWhatItCannotCheck(t *testing.T) {
	for name, h := range map[string]lincheck.History{
		"no model":        {Ops: []lincheck.Op{{Op: lincheck.Load}}},
		"no operations":   {Model: "key"},
		"unknown op":      {Model: "key", Ops: []lincheck.Op{{Op: "Swap"}}},
		"view, no keys":   {Model: "view", Ops: []lincheck.Op{{Op: lincheck.Load}}},
		"key out of view": {Model: "view", HotKeys: 2, Ops: []lincheck.Op{{Op: lincheck.Load, Key: 2}}},
		"return < call":   {Model: "key", Ops: []lincheck.Op{{Op: lincheck.Load, Call: 5, Return: 4}}},
	} {
		if _, err := lincheck.Check(h, time.Second); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
}

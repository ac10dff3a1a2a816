package checkthenact_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/mapguard/mapguard/analysis/checkthenact"
)

func TestCheckThenAct(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.RunWithSuggestedFixes(t, testdata, checkthenact.Analyzer, "checkthenact")
}

// TestRealBugs runs the analyzer over reproductions of lost updates
// shipped by real projects (each file names its source) and their fixed
// versions; checkthenactgocache is a library whose self-locking type is
// used from checkthenactreal, so its facts must cross the package
// boundary.
func TestRealBugs(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, checkthenact.Analyzer, "checkthenactgocache", "checkthenactreal")
}

// TestFreshReceiver pins nats-server's registerAccountNoLock: a helper
// whose callers all hold the lock, except a constructor calling it on
// the value it has just allocated, runs with the lock held (silent);
// a constructor that has started a goroutine first, and a caller handed
// the value, still count against it (reported).
func TestFreshReceiver(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, checkthenact.Analyzer, "checkthenactfresh")
}

// TestDoubleCheckedLocking pins bun's Tables.Get: a lock-free Load, then
// Lock, Load again and Store under the lock, is silent (the Store acts on
// the second check); a second check without the lock, or with a lock
// released before the Store, or of another key, is still reported.
func TestDoubleCheckedLocking(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, checkthenact.Analyzer, "checkthenactdcl")
}

// TestNothingLost pins the check-then-acts that lose nothing, found by
// running the analyzer over nats-server: a presence check then a Delete
// (updateAccountClaimsWithRefresh), and a cache fill of a bool computed
// from the key on a miss (pubAllowedFullCheck); the loaded value looked
// at before a Delete (getCachedRetainedMsg), a fresh pointer stored on a
// miss (go-zero's incrementCount) and fills into maps with other
// writers are still reported.
func TestNothingLost(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, checkthenact.Analyzer, "checkthenactfill")
}

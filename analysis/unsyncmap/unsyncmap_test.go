package unsyncmap_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/mapguard/mapguard/analysis/unsyncmap"
)

func TestUnsyncMap(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, unsyncmap.Analyzer, "unsyncmap")
}

// TestUnsyncMapFields checks maps in struct fields written by a goroutine
// started on a method, a worker function or a literal, and the code
// around them that must stay silent.
func TestUnsyncMapFields(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, unsyncmap.Analyzer, "unsyncmapfield")
}

// TestUnsyncMapRealBugs runs the reproductions of real crashes (each file
// names its issue) with their fixed versions, which must be silent.
func TestUnsyncMapRealBugs(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, unsyncmap.Analyzer, "unsyncmapreal")
}

// TestUnsyncMapRoots checks net/http handlers, Prometheus collectors and
// goroutines started in a loop writing a map at any call depth, and the
// locked, per-request and read-only code that must stay silent.
func TestUnsyncMapRoots(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, unsyncmap.Analyzer, "unsyncmaproots")
}

package lockset_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/mapguard/mapguard/analysis/lockset"
)

func testdata(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLockset checks the textbook shapes and the code around them that
// must stay silent.
func TestLockset(t *testing.T) {
	analysistest.Run(t, testdata(t), lockset.Analyzer, "lockset")
}

// TestLocksetRealBugs runs the reproductions of real crashes (each file
// names its issue) with their fixed versions, which must be silent.
func TestLocksetRealBugs(t *testing.T) {
	analysistest.Run(t, testdata(t), lockset.Analyzer, "locksetreal")
}

package rangelock_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/mapguard/mapguard/analysis/rangelock"
)

func testdata(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRangeLock(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelock")
}

// The real deadlocks, each before its fix (reported) and after it
// (silent). The sources are linked from each package's comment.

func TestNexGoPR37EachCallbackRemove(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelocknex/before", "rangelocknex/after")
}

func TestGorbacIssue21WalkHandlerAdd(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelockgorbac/before", "rangelockgorbac/after", "rangelockgorbac/gorbac")
}

func TestYaklangPR4440ForEachDelete(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelockomap/before", "rangelockomap/after")
}

func TestCache2goIssue43ForeachDelete(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelockcache2go/cache2go", "rangelockcache2go/before", "rangelockcache2go/after")
}

// Recursive read locking, each before its fix (reported) and after it
// (silent).

func TestNatsServerPR6527AccountInfoNameTag(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelocknatsacct/before", "rangelocknatsacct/after")
}

func TestNatsServerPR6899MultiLastSeqs(t *testing.T) {
	analysistest.Run(t, testdata(t), rangelock.Analyzer, "rangelocknatsmemstore/stree", "rangelocknatsmemstore/before", "rangelocknatsmemstore/after")
}

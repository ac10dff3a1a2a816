package suite_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"
	"golang.org/x/tools/go/analysis/passes/inspect"

	"github.com/mapguard/mapguard/analysis/suite"
)

// all runs every analyzer of the suite in one pass, so that analysistest
// checks the corpus against all their findings at once. Each analyzer
// requires only inspect, which all shares.
var all = &analysis.Analyzer{
	Name:     "mapvet",
	Doc:      "every mapvet analyzer",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run: func(pass *analysis.Pass) (any, error) {
		for _, a := range suite.Analyzers() {
			p := *pass
			p.Analyzer = a
			if _, err := a.Run(&p); err != nil {
				return nil, err
			}
		}
		return nil, nil
	},
}

// TestCorpus runs every analyzer over realistic code: the findings must
// be exactly those marked with want comments, no more.
func TestCorpus(t *testing.T) {
	testdata, err := filepath.Abs("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	analysistest.Run(t, testdata, all, "corpus")
}

func TestSuiteHasEveryAnalyzer(t *testing.T) {
	names := map[string]bool{}
	for _, a := range suite.Analyzers() {
		names[a.Name] = true
		if err := analysis.Validate([]*analysis.Analyzer{a}); err != nil {
			t.Errorf("%s: %v", a.Name, err)
		}
	}
	for _, want := range []string{"rangelock", "checkthenact", "unsyncmap", "mapcapture"} {
		if !names[want] {
			t.Errorf("suite lacks %s", want)
		}
	}
}

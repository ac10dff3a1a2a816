package suite_test

import (
	"go/types"
	"path/filepath"
	"reflect"
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
		// The analyzers' facts stay in this pass: the corpus is one
		// package, and each analyzer's own tests check its facts, so
		// the corpus checks findings only.
		type factKey struct {
			obj types.Object
			typ reflect.Type
		}
		facts := map[factKey]analysis.Fact{}
		for _, a := range suite.Analyzers() {
			p := *pass
			p.Analyzer = a
			p.ExportObjectFact = func(obj types.Object, f analysis.Fact) {
				facts[factKey{obj, reflect.TypeOf(f)}] = f
			}
			p.ImportObjectFact = func(obj types.Object, f analysis.Fact) bool {
				got, ok := facts[factKey{obj, reflect.TypeOf(f)}]
				if ok {
					reflect.ValueOf(f).Elem().Set(reflect.ValueOf(got).Elem())
				}
				return ok
			}
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
	for _, want := range []string{"rangelock", "checkthenact", "unsyncmap", "mapcapture", "lockset"} {
		if !names[want] {
			t.Errorf("suite lacks %s", want)
		}
	}
}

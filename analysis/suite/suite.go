// Package suite lists mapguard's analyzers, for cmd/mapvet and the
// golangci-lint plugin.
package suite

import (
	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/checkthenact"
	"github.com/mapguard/mapguard/analysis/lockset"
	"github.com/mapguard/mapguard/analysis/mapcapture"
	"github.com/mapguard/mapguard/analysis/rangelock"
	"github.com/mapguard/mapguard/analysis/unsyncmap"
)

// Analyzers returns every mapvet analyzer.
func Analyzers() []*analysis.Analyzer {
	return []*analysis.Analyzer{rangelock.Analyzer, checkthenact.Analyzer, unsyncmap.Analyzer, mapcapture.Analyzer, lockset.Analyzer}
}

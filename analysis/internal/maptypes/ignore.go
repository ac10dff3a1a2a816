package maptypes

import (
	"fmt"
	"go/token"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/tools/go/analysis"
)

// IgnoreDirective silences a finding on its line or the line below:
//
//	//mapvet:ignore unsyncmap the lab reproduces this crash on purpose
//
// Names after the directive (comma-separated) limit it to those analyzers;
// without names it silences all of them. Text after the names is the
// reason, for readers.
const IgnoreDirective = "//mapvet:ignore"

// Report reports d unless an ignore directive covers its line.
func Report(pass *analysis.Pass, d analysis.Diagnostic) {
	if ignored(pass, d.Pos) {
		return
	}
	pass.Report(d)
}

// Reportf is Report with a formatted message.
func Reportf(pass *analysis.Pass, pos token.Pos, format string, args ...any) {
	Report(pass, analysis.Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func ignored(pass *analysis.Pass, pos token.Pos) bool {
	p := pass.Fset.Position(pos)
	for _, f := range pass.Files {
		if pass.Fset.File(f.Pos()) != pass.Fset.File(pos) {
			continue
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				args, ok := directiveArgs(c.Text)
				if !ok {
					continue
				}
				line := pass.Fset.Position(c.Pos()).Line
				if line != p.Line && line != p.Line-1 {
					continue
				}
				if covers(args, pass.Analyzer.Name) {
					return true
				}
			}
		}
	}
	return false
}

// directiveArgs returns what follows the directive in comment text, if
// the comment is the directive: the directive alone, or followed by a
// space. "//mapvet:ignored" or "//mapvet:ignorelockset" is another word,
// not a directive that silences every analyzer.
func directiveArgs(text string) (string, bool) {
	args, ok := strings.CutPrefix(text, IgnoreDirective)
	if !ok || args == "" {
		return args, ok
	}
	r, _ := utf8.DecodeRuneInString(args)
	return args, unicode.IsSpace(r)
}

// covers reports whether the directive's arguments name analyzer, or name
// no analyzer at all.
func covers(args, analyzer string) bool {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return true
	}
	names := strings.Split(fields[0], ",")
	known := []string{"rangelock", "checkthenact", "unsyncmap", "mapcapture", "lockset"}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return true // the first word is the reason: no names given
		}
	}
	return slices.Contains(names, analyzer)
}

package maptypes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// The resource bounds of issue 21 for a hostile input: a parser given at
// most maxFuzzInput bytes allocates at most maxParseAlloc bytes and
// returns within maxParseTime. The time bound is the same under the race
// detector: the inputs are parsed in milliseconds, so a second leaves a
// hundredfold margin even at the detector's ten-fold slowdown.
const (
	maxFuzzInput  = 4 << 10
	maxParseAlloc = 64 << 20
	maxParseTime  = time.Second
)

// withinBounds runs parse once and fails t if it allocated more than
// maxParseAlloc bytes or ran longer than maxParseTime. TotalAlloc counts
// the whole process, so it must not run beside parallel tests. It is
// fuzzbound.Check (internal/fuzzbound in the maps' module), which the
// other parsers' fuzz tests share; a copy here keeps the analysis module
// free of a requirement on the maps' module for a test helper.
func withinBounds(t testing.TB, what string, parse func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	parse()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > maxParseAlloc {
		t.Fatalf("%s allocated %d bytes; want at most %d", what, grew, maxParseAlloc)
	}
	if took > maxParseTime {
		t.Fatalf("%s took %v; want at most %v", what, took, maxParseTime)
	}
}

// analyzers are mapvet's analyzers, which a directive may name, and one
// it does not know.
var analyzers = []string{"rangelock", "checkthenact", "unsyncmap", "mapcapture", "lockset", "newanalyzer"}

// silences is the directive's documented meaning: names after it
// (comma-separated) limit it to those analyzers; without names, or when
// the first word is not a list of analyzer names (it is the reason), it
// silences every analyzer. Text right after the directive, without a
// space, makes another word ("//mapvet:ignored"), which silences nothing.
func silences(args, analyzer string) bool {
	if r, _ := utf8.DecodeRuneInString(args); args != "" && !unicode.IsSpace(r) {
		return false
	}
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return true
	}
	names := strings.Split(fields[0], ",")
	for _, n := range names {
		if !slices.Contains(analyzers[:5], n) {
			return true
		}
	}
	return slices.Contains(names, analyzer)
}

// FuzzIgnoreDirective writes the directive with the fuzzed arguments
// (up to 4 KiB, larger ones skipped; made one line of valid Go comment
// text) on its own line above one declaration and at the end of the line
// of another, and reports a finding of one analyzer on each declaration
// and on one between them that no directive covers. Reporting stays
// within the resource bounds; the covered findings are silenced exactly
// when the documented meaning says, and the uncovered one never is.
func FuzzIgnoreDirective(f *testing.F) {
	// The example of the directive's documentation, and variations; the
	// odd ones (line breaks, invalid UTF-8, long lists) are files under
	// testdata/fuzz/FuzzIgnoreDirective.
	f.Add(" unsyncmap the lab reproduces this crash on purpose", uint8(2))
	f.Add(" unsyncmap the lab reproduces this crash on purpose", uint8(0))
	f.Add(" rangelock,lockset held on purpose", uint8(4))
	f.Add(" rangelock,lockset held on purpose", uint8(3))
	f.Add(" rangelock,nosuch reason", uint8(1))
	f.Add("", uint8(5))
	f.Add(" reason only", uint8(5))
	f.Add("unsyncmap", uint8(2))
	f.Add("d", uint8(4)) // "//mapvet:ignored" is not the directive
	f.Add("\t,,,", uint8(0))
	f.Fuzz(func(t *testing.T, args string, which uint8) {
		if len(args) > maxFuzzInput {
			t.Skip("over the 4 KiB bound")
		}
		// One line of comment text: no line breaks, and nothing the
		// Go scanner refuses in a comment.
		args = strings.Map(func(r rune) rune {
			switch r {
			case '\n', '\r', 0, '\uFEFF':
				return ' '
			}
			return r
		}, strings.ToValidUTF8(args, " "))
		directive := maptypes.IgnoreDirective + args
		src := "package p\n\n" + directive + "\nvar above int\nvar between int\nvar beside int " + directive + "\n"
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
		if err != nil {
			t.Fatalf("the directive %q does not make valid Go: %v", directive, err)
		}
		name := analyzers[int(which)%len(analyzers)]
		var reported []string
		pass := &analysis.Pass{
			Analyzer: &analysis.Analyzer{Name: name},
			Fset:     fset,
			Files:    []*ast.File{file},
			Report:   func(d analysis.Diagnostic) { reported = append(reported, d.Message) },
		}
		withinBounds(t, "Report", func() {
			for _, decl := range file.Decls {
				spec := decl.(*ast.GenDecl).Specs[0].(*ast.ValueSpec)
				maptypes.Reportf(pass, spec.Pos(), "%s", spec.Names[0].Name)
			}
		})
		var want []string
		if !silences(args, name) {
			want = append(want, "above")
		}
		want = append(want, "between")
		if !silences(args, name) {
			want = append(want, "beside")
		}
		if !slices.Equal(reported, want) {
			t.Fatalf("directive %q, analyzer %s: reported %q; want %q", directive, name, reported, want)
		}
	})
}

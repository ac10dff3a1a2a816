package unsyncmap

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// goStart is one goroutine a function starts: a go statement, or a call
// of a Go(func()) method (sync.WaitGroup.Go, errgroup.Group.Go) with a
// literal.
type goStart struct {
	at     ast.Node
	writes []mapWrite // unlocked writes through package-level or captured variables
}

// startedWrites returns the unlocked writes of the goroutine a go
// statement or a Go(literal) call starts, through package-level
// variables and variables of the starter (base basePkg or baseCaptured;
// scoped to at, every variable outside it counts as captured).
func startedWrites(sum *summarizer, call *ast.CallExpr, at ast.Node) []mapWrite {
	var ws []mapWrite
	if lit, ok := ast.Unparen(call.Fun).(*ast.FuncLit); ok {
		for _, w := range sum.literal(lit) {
			if w.base >= 0 {
				if w.base >= len(call.Args) {
					continue
				}
				base, v, path, ok := sum.chain(call.Args[w.base], nil, at)
				if !ok {
					continue
				}
				w.base, w.v, w.path = base, v, append(append([]*types.Var(nil), path...), w.path...)
			}
			ws = append(ws, w)
		}
	} else {
		ws = sum.call(call, nil, at, false)
	}
	out := ws[:0]
	for _, w := range ws {
		if !w.locked && (w.base == basePkg || w.base == baseCaptured) {
			out = append(out, w)
		}
	}
	return out
}

// checkSiblings reports two goroutines started by one function body that
// both write, with no lock, the same map reached from the starter's
// variables or a package-level variable, when the starter does not wait
// (receive, select, Wait, Lock) between starting them: they write it at
// once (pktstat's counting goroutine and its interval printer, which
// recomputes bitrates into the same map).
func checkSiblings(pass *analysis.Pass, sum *summarizer, body *ast.BlockStmt, reported map[token.Pos]bool) {
	var starts []goStart
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.GoStmt:
			if ws := startedWrites(sum, n.Call, n); len(ws) > 0 {
				starts = append(starts, goStart{at: n, writes: ws})
			}
			return false
		case *ast.CallExpr:
			sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Go" || len(n.Args) != 1 {
				return true
			}
			lit, ok := ast.Unparen(n.Args[0]).(*ast.FuncLit)
			if !ok {
				return true
			}
			if ws := startedWrites(sum, &ast.CallExpr{Fun: lit}, n); len(ws) > 0 {
				starts = append(starts, goStart{at: n, writes: ws})
			}
			return false
		}
		return true
	})
	for j := 1; j < len(starts); j++ {
		for i := 0; i < j; i++ {
			if waitsBetween(pass, body, starts[i].at.End(), starts[j].at.Pos()) {
				continue
			}
			if w1, w2, ok := sameMap(starts[i].writes, starts[j].writes); ok && !reported[starts[j].at.Pos()] {
				reported[starts[j].at.Pos()] = true
				maptypes.Reportf(pass, starts[j].at.Pos(), "this goroutine writes %s (%s) with no lock, and so does the goroutine started at line %d (%s), with no wait between their starts: fatal error: concurrent map writes; lock both sides, or use sync.Map or a mapguard map",
					w2.name(""), where(pass, starts[j].at.Pos(), w2.at), pass.Fset.Position(starts[i].at.Pos()).Line, where(pass, starts[j].at.Pos(), w1.at))
			}
		}
	}
}

// sameMap returns a write of each list to the same variable and field path.
func sameMap(a, b []mapWrite) (mapWrite, mapWrite, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.v != y.v || len(x.path) != len(y.path) {
				continue
			}
			same := true
			for i := range x.path {
				same = same && x.path[i] == y.path[i]
			}
			if same {
				return x, y, true
			}
		}
	}
	return mapWrite{}, mapWrite{}, false
}

// waitsBetween reports whether body, between from and to (outside
// function literals), receives from a channel, selects, calls Wait or
// takes a lock.
func waitsBetween(pass *analysis.Pass, body *ast.BlockStmt, from, to token.Pos) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil || found {
			return false
		}
		if n.End() <= from || n.Pos() >= to {
			return false // wholly outside: nothing inside it is between
		}
		inside := n.Pos() >= from
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.UnaryExpr:
			found = inside && n.Op == token.ARROW
		case *ast.SelectStmt:
			found = inside
		case *ast.CallExpr:
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
				found = inside
			}
			if _, d, _ := maptypes.IsLockCall(pass.TypesInfo, n); d > 0 {
				found = found || inside
			}
		}
		return !found
	})
	return found
}

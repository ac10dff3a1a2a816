package unsyncmap

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports builtin maps written by a goroutine and read by its
// starter without synchronization.
var Analyzer = &analysis.Analyzer{
	Name:     "unsyncmap",
	Doc:      "report a builtin map written inside a go statement's function and read after it without a lock or a channel/WaitGroup hand-off",
	URL:      "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/unsyncmap",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	decls := maptypes.FuncDecls(pass.Files, pass.TypesInfo)
	sum := newSummarizer(pass, decls)
	loopReported := map[*ast.GoStmt]bool{}
	otherReported := map[token.Pos]bool{}
	loop := func(l ast.Node, body *ast.BlockStmt, g *ast.GoStmt, fieldWritten map[fieldKey]token.Pos, signals bool) {
		if loopReported[g] {
			return
		}
		loopReported[g] = checkLoop(pass, l, body, g, fieldWritten, signals) || checkLoopWrites(pass, sum, l, body, g)
	}
	ins.WithStack([]ast.Node{(*ast.GoStmt)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		g := n.(*ast.GoStmt)
		fieldWritten, signals := goroutineFieldWrites(pass, decls, g)
		written := map[*types.Var]token.Pos{}
		body := goroutineBody(pass, decls, g)
		if body != nil && !locks(pass, body) {
			written = writtenMaps(pass, body)
		}
		// And the package variables written by same-package functions the
		// goroutine's function calls (one level).
		inspect := ast.Inspect
		if body == nil || locks(pass, body) {
			inspect = func(ast.Node, func(ast.Node) bool) {}
		}
		inspect(body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok {
				if fn, ok := pass.TypesInfo.Uses[id].(*types.Func); ok && decls[fn] != nil && decls[fn].Body != body {
					for v, pos := range writtenMaps(pass, decls[fn].Body) {
						if v.Parent() == v.Pkg().Scope() {
							written[v] = pos
						}
					}
				}
			}
			return true
		})
		if len(written) == 0 && len(fieldWritten) == 0 {
			// Still, goroutines started in a loop may write a map
			// deeper than the walks above look.
			for i := len(stack) - 1; i >= 0; i-- {
				switch f := stack[i].(type) {
				case *ast.FuncDecl, *ast.FuncLit:
					return true
				case *ast.RangeStmt:
					loop(f, f.Body, g, nil, false)
				case *ast.ForStmt:
					loop(f, f.Body, g, nil, false)
				}
			}
			return true
		}
		// The enclosing function's body, and the ranges over written
		// fields on the way to it: a worker pool started from inside a
		// range over the very map its workers write.
		var encl *ast.BlockStmt
		for i := len(stack) - 1; i >= 0 && encl == nil; i-- {
			switch f := stack[i].(type) {
			case *ast.FuncDecl:
				encl = f.Body
				checkOtherMethods(pass, decls, f, g, fieldWritten, otherReported)
			case *ast.FuncLit:
				encl = f.Body
			case *ast.RangeStmt:
				checkEnclosingRange(pass, decls, f, g, fieldWritten, signals)
				loop(f, f.Body, g, fieldWritten, signals)
			case *ast.ForStmt:
				loop(f, f.Body, g, fieldWritten, signals)
			}
		}
		if encl != nil {
			checkReads(pass, decls, encl, g, written, fieldWritten, signals)
		}
		return true
	})
	checkRoots(pass, sum, map[token.Pos]bool{})
	siblings := map[token.Pos]bool{}
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		switch f := n.(type) {
		case *ast.FuncDecl:
			if f.Body != nil {
				checkSiblings(pass, sum, f.Body, siblings)
				checkSends(pass, sum, f.Body)
			}
		case *ast.FuncLit:
			checkSiblings(pass, sum, f.Body, siblings)
			checkSends(pass, sum, f.Body)
		}
	})
	return nil, nil
}

// goroutineBody returns the body of the function g starts: a literal, or
// a function of this package called by name.
func goroutineBody(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, g *ast.GoStmt) *ast.BlockStmt {
	switch f := ast.Unparen(g.Call.Fun).(type) {
	case *ast.FuncLit:
		return f.Body
	case *ast.Ident:
		if fn, ok := pass.TypesInfo.Uses[f].(*types.Func); ok && decls[fn] != nil {
			return decls[fn].Body
		}
	}
	return nil
}

// writtenMaps returns the map variables declared outside body that body
// writes.
func writtenMaps(pass *analysis.Pass, body *ast.BlockStmt) map[*types.Var]token.Pos {
	out := map[*types.Var]token.Pos{}
	mapVar := func(e ast.Expr) *types.Var {
		id, ok := ast.Unparen(e).(*ast.Ident)
		if !ok {
			return nil
		}
		v, ok := pass.TypesInfo.Uses[id].(*types.Var)
		if !ok {
			return nil
		}
		if _, isMap := v.Type().Underlying().(*types.Map); !isMap {
			return nil
		}
		if body.Pos() <= v.Pos() && v.Pos() < body.End() {
			return nil // declared inside: not shared
		}
		return v
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				if ix, ok := ast.Unparen(l).(*ast.IndexExpr); ok {
					if v := mapVar(ix.X); v != nil {
						out[v] = n.Pos()
					}
				}
			}
		case *ast.IncDecStmt:
			if ix, ok := ast.Unparen(n.X).(*ast.IndexExpr); ok {
				if v := mapVar(ix.X); v != nil {
					out[v] = n.Pos()
				}
			}
		case *ast.CallExpr:
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && (id.Name == "delete" || id.Name == "clear") && len(n.Args) > 0 {
				if _, builtin := pass.TypesInfo.Uses[id].(*types.Builtin); builtin {
					if v := mapVar(n.Args[0]); v != nil {
						out[v] = n.Pos()
					}
				}
			}
		}
		return true
	})
	return out
}

// locks reports whether n calls Lock or RLock anywhere.
func locks(pass *analysis.Pass, n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if _, d, _ := maptypes.IsLockCall(pass.TypesInfo, c); d > 0 {
				found = true
			}
		}
		return !found
	})
	return found
}

// checkReads reports reads of the written maps in encl after g, unless
// something between g and the read orders them. One walk in source order
// does both: a read is ordered when a synchronization point (a channel
// receive, a select, a range over a channel, a Wait or a Lock) came
// before it.
func checkReads(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, encl *ast.BlockStmt, g *ast.GoStmt, written map[*types.Var]token.Pos, fieldWritten map[fieldKey]token.Pos, signals bool) {
	synced := false
	// fieldSynced: a hand-off that orders the goroutine's field writes.
	// A channel receive or a select counts only when the goroutine itself
	// signals: a receive from a channel only other goroutines send on
	// (Monitor.Listen's m.done, fed by the connection handlers) leaves the
	// accept loop's writes unordered.
	fieldSynced := false
	reported := map[*types.Var]bool{}
	fieldReported := map[fieldKey]bool{}
	fieldRead := func(k fieldKey, at token.Pos, how string) {
		w, ok := fieldWritten[k]
		if !ok || fieldSynced || fieldReported[k] {
			return
		}
		fieldReported[k] = true
		maptypes.Reportf(pass, at, "%s %s.%s while the goroutine started at line %d writes it (line %d), with no lock or channel/WaitGroup hand-off between: fatal error: concurrent map read and map write; wait for the goroutine, lock both sides, or use sync.Map or a mapguard map",
			how, k.obj.Name(), k.field.Name(), pass.Fset.Position(g.Pos()).Line, pass.Fset.Position(w).Line)
	}
	fields := newCollector(pass, decls)
	read := func(e ast.Expr, at token.Pos, how string) {
		if k, ok := fields.mapField(e, nil, nil); ok {
			fieldRead(k, at, how)
			return
		}
		id, ok := ast.Unparen(e).(*ast.Ident)
		if !ok {
			return
		}
		v, ok := pass.TypesInfo.Uses[id].(*types.Var)
		if !ok || reported[v] {
			return
		}
		if w, ok := written[v]; ok && !synced {
			reported[v] = true
			maptypes.Reportf(pass, at, "%s %s while the goroutine started at line %d writes it (line %d), with no lock or channel/WaitGroup hand-off between: fatal error: concurrent map read and map write; wait for the goroutine, lock both sides, or use sync.Map or a mapguard map",
				how, id.Name, pass.Fset.Position(g.Pos()).Line, pass.Fset.Position(w).Line)
		}
	}
	lhs := map[ast.Expr]bool{}
	ast.Inspect(encl, func(n ast.Node) bool {
		if n == nil || n.Pos() < g.End() {
			return true
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				synced = true
				fieldSynced = fieldSynced || signals
			}
		case *ast.SelectStmt:
			synced = true
			fieldSynced = fieldSynced || signals
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				lhs[l] = true
			}
		case *ast.RangeStmt:
			if _, isChan := pass.TypesInfo.TypeOf(n.X).Underlying().(*types.Chan); isChan {
				synced = true
				fieldSynced = fieldSynced || signals
			} else {
				read(n.X, n.Pos(), "range over")
			}
		case *ast.IndexExpr:
			if !lhs[n] {
				read(n.X, n.Pos(), "read of")
			}
		case *ast.CallExpr:
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
				synced, fieldSynced = true, true
			}
			if _, d, _ := maptypes.IsLockCall(pass.TypesInfo, n); d > 0 {
				synced, fieldSynced = true, true
			}
			if len(fieldWritten) > 0 && !fieldSynced {
				// A call of a same-package function or method that reads
				// a field the goroutine writes, with no lock of its own.
				if acc := readsOf(pass, decls, n); !acc.locks {
					for k := range acc.reads {
						if _, ok := fieldWritten[k]; ok {
							fieldRead(k, n.Pos(), "call of "+types.ExprString(n.Fun)+", which reads")
						}
					}
				}
			}
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && id.Name == "len" && len(n.Args) == 1 {
				if _, builtin := pass.TypesInfo.Uses[id].(*types.Builtin); builtin {
					read(n.Args[0], n.Pos(), "len of")
				}
			}
		}
		return true
	})
}

// checkEnclosingRange reports a range over a map field that the goroutine
// started inside its body writes: the next iteration reads the map while
// the goroutine may be writing it ("concurrent map iteration and map
// write"), unless the rest of the body waits for it.
func checkEnclosingRange(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, r *ast.RangeStmt, g *ast.GoStmt, fieldWritten map[fieldKey]token.Pos, signals bool) {
	k, ok := newCollector(pass, decls).mapField(r.X, nil, nil)
	if !ok {
		return
	}
	w, ok := fieldWritten[k]
	if !ok {
		return
	}
	if orderedAfter(pass, r.Body, g, signals) {
		return
	}
	maptypes.Reportf(pass, r.Pos(), "range over %s.%s starts, in its body, the goroutine at line %d that writes it (line %d): the next iteration reads the map while the goroutine writes it: fatal error: concurrent map iteration and map write; collect the keys first, lock both sides, or use sync.Map or a mapguard map",
		k.obj.Name(), k.field.Name(), pass.Fset.Position(g.Pos()).Line, pass.Fset.Position(w).Line)
}

// checkLoop reports a go statement in a loop whose goroutine writes a
// map field of a variable declared outside the loop: the goroutines of
// successive iterations write it at once ("concurrent map writes"),
// unless the loop body waits for each before the next.
func checkLoop(pass *analysis.Pass, loop ast.Node, body *ast.BlockStmt, g *ast.GoStmt, fieldWritten map[fieldKey]token.Pos, signals bool) bool {
	var first *fieldKey
	for k := range fieldWritten {
		if loop.Pos() <= k.obj.Pos() && k.obj.Pos() < loop.End() {
			continue // a variable of each iteration
		}
		if first == nil || fieldWritten[k] < fieldWritten[*first] {
			k := k
			first = &k
		}
	}
	if first == nil || orderedAfter(pass, body, g, signals) {
		return false
	}
	maptypes.Reportf(pass, g.Pos(), "go statement in a loop: each goroutine writes %s.%s (line %d) with no lock, so the goroutines of successive iterations write it at once: fatal error: concurrent map writes; lock the writes, wait for each goroutine, or use sync.Map or a mapguard map",
		first.obj.Name(), first.field.Name(), pass.Fset.Position(fieldWritten[*first]).Line)
	return true
}

// orderedAfter reports whether body, after g, waits for the goroutine g
// starts: a Wait call, a lock, or (when the goroutine signals) a
// channel receive or select.
func orderedAfter(pass *analysis.Pass, body *ast.BlockStmt, g *ast.GoStmt, signals bool) bool {
	ordered := false
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil || ordered || n.Pos() < g.End() {
			return !ordered
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.UnaryExpr:
			ordered = n.Op == token.ARROW && signals
		case *ast.SelectStmt:
			ordered = signals
		case *ast.CallExpr:
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
				ordered = true
			}
			if _, d, _ := maptypes.IsLockCall(pass.TypesInfo, n); d > 0 {
				ordered = true
			}
		}
		return !ordered
	})
	return ordered
}

package unsyncmap

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// holdsMap reports whether t is a map, or a struct or pointer to a struct
// with a map field: a value whose sending on a channel shares a map.
func holdsMap(t types.Type) bool {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	switch u := t.Underlying().(type) {
	case *types.Map:
		return true
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if _, ok := u.Field(i).Type().Underlying().(*types.Map); ok {
				return true
			}
		}
	}
	return false
}

// checkSends reports a map, or a pointer to a struct holding one, sent on
// a channel and written by the sender after the send (directly or
// through same-package calls): the receiving goroutine reads it while
// the sender writes. A reassignment of the variable, a channel receive,
// a select or a Wait after the send ends the check.
func checkSends(pass *analysis.Pass, sum *summarizer, body *ast.BlockStmt) {
	ast.Inspect(body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		send, ok := n.(*ast.SendStmt)
		if !ok {
			return true
		}
		id, ok := ast.Unparen(send.Value).(*ast.Ident)
		if !ok {
			return true
		}
		x, ok := pass.TypesInfo.Uses[id].(*types.Var)
		if !ok || !holdsMap(x.Type()) {
			return true
		}
		if _, isPtr := x.Type().Underlying().(*types.Pointer); !isPtr {
			if _, isMap := x.Type().Underlying().(*types.Map); !isMap {
				return true // a struct value is copied; its maps are shared, but rarely written after
			}
		}
		checkAfterSend(pass, sum, body, send, x)
		return true
	})
}

func checkAfterSend(pass *analysis.Pass, sum *summarizer, body *ast.BlockStmt, send *ast.SendStmt, x *types.Var) {
	stop := false
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil || stop {
			return false
		}
		if n.End() <= send.End() {
			return false
		}
		if n.Pos() < send.End() {
			return true // encloses the send: look inside
		}
		var at token.Pos
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.UnaryExpr:
			stop = n.Op == token.ARROW
		case *ast.SelectStmt:
			stop = true
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				if lid, ok := ast.Unparen(l).(*ast.Ident); ok && (pass.TypesInfo.Uses[lid] == x || pass.TypesInfo.Defs[lid] == x) {
					stop = true
				}
				if ix, ok := ast.Unparen(l).(*ast.IndexExpr); ok && rootedAt(sum, ix.X, x, send) {
					at = n.Pos()
				}
			}
		case *ast.IncDecStmt:
			if ix, ok := ast.Unparen(n.X).(*ast.IndexExpr); ok && rootedAt(sum, ix.X, x, send) {
				at = n.Pos()
			}
		case *ast.CallExpr:
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Wait" {
				stop = true
				break
			}
			if fid, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && (fid.Name == "delete" || fid.Name == "clear") && len(n.Args) > 0 {
				if _, builtin := pass.TypesInfo.Uses[fid].(*types.Builtin); builtin && rootedAt(sum, n.Args[0], x, send) {
					at = n.Pos()
					break
				}
			}
			for _, w := range sum.call(n, nil, send, false) {
				if w.v == x && !w.locked {
					at = n.Pos()
				}
			}
		}
		if at.IsValid() && !stop {
			stop = true
			maptypes.Reportf(pass, at, "write of %s's map after %s was sent on a channel at line %d: the receiver may read it while this writes: fatal error: concurrent map read and map write; send a copy, or stop writing after the send",
				x.Name(), x.Name(), pass.Fset.Position(send.Pos()).Line)
		}
		return !stop
	})
}

// rootedAt reports whether e (x, x.f, x.a.f) is a map reached from x.
func rootedAt(sum *summarizer, e ast.Expr, x *types.Var, scope ast.Node) bool {
	if _, isMap := sum.pass.TypesInfo.TypeOf(e).Underlying().(*types.Map); !isMap {
		return false
	}
	_, v, _, ok := sum.chain(e, nil, scope)
	return ok && v == x
}

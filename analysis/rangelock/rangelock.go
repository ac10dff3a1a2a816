package rangelock

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports self-deadlocking writes in iterations and callbacks.
var Analyzer = &analysis.Analyzer{
	Name:     "rangelock",
	Doc:      "report writes that deadlock because the surrounding iteration or callback holds the lock they need",
	URL:      "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/rangelock",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	decls := maptypes.FuncDecls(pass.Files, pass.TypesInfo)
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		var body *ast.BlockStmt
		switch f := n.(type) {
		case *ast.FuncDecl:
			body = f.Body
		case *ast.FuncLit:
			body = f.Body
		}
		if body != nil {
			checkLocksAroundRange(pass, decls, body)
		}
	})
	ins.Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		checkCallback(pass, n.(*ast.CallExpr))
	})
	return nil, nil
}

// held is a lock the scan has seen taken and not released.
type held struct {
	recv ast.Expr
	read bool
}

// checkLocksAroundRange scans body in source order, tracking which locks
// are held (deferred unlocks release nothing until the function returns),
// and reports a Lock of a held lock inside a range statement's body.
func checkLocksAroundRange(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, body *ast.BlockStmt) {
	var locks []held
	deferred := map[*ast.CallExpr]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.DeferStmt:
			deferred[n.Call] = true
		case *ast.RangeStmt:
			for _, h := range locks {
				reportLocksIn(pass, decls, n.Body, h)
			}
		case *ast.CallExpr:
			if deferred[n] {
				return true
			}
			recv, d, read := maptypes.IsLockCall(pass.TypesInfo, n)
			switch {
			case d > 0:
				locks = append(locks, held{recv, read})
			case d < 0:
				for i, h := range locks {
					if h.read == read && maptypes.SameExpr(pass.TypesInfo, h.recv, recv) {
						locks = append(locks[:i], locks[i+1:]...)
						break
					}
				}
			}
		}
		return true
	})
}

// reportLocksIn reports, inside a range body entered with h held, a
// write Lock of h's mutex, or a call of a same-package method on the
// mutex's owner that write-locks it.
func reportLocksIn(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, body *ast.BlockStmt, h held) {
	what := "write lock"
	if h.read {
		what = "read lock"
	}
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if recv, d, read := maptypes.IsLockCall(pass.TypesInfo, call); d > 0 && !(read && h.read) {
			if maptypes.SameExpr(pass.TypesInfo, recv, h.recv) {
				maptypes.Reportf(pass, call.Pos(), "%s inside a range over data guarded by %s, whose %s this goroutine holds: self-deadlock; release it before locking, or collect the changes and apply them after the loop",
					types.ExprString(call.Fun), types.ExprString(h.recv), what)
			}
			return true
		}
		if m := lockingMethod(pass, decls, call, h.recv); m != "" {
			maptypes.Reportf(pass, call.Pos(), "%s locks %s, whose %s this goroutine holds around the range: self-deadlock",
				types.ExprString(call.Fun), types.ExprString(h.recv), what)
		}
		return true
	})
}

// lockingMethod reports whether call is x.M(...) where x is the owner of
// the held mutex (mu is x.f for a field path f) and M, declared in this
// package, write-locks its receiver's f.
func lockingMethod(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, call *ast.CallExpr, mu ast.Expr) string {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	muSel, ok := ast.Unparen(mu).(*ast.SelectorExpr)
	if !ok || !maptypes.SameExpr(pass.TypesInfo, sel.X, muSel.X) {
		return ""
	}
	fn, ok := pass.TypesInfo.Uses[sel.Sel].(*types.Func)
	if !ok {
		return ""
	}
	fd := decls[fn]
	if fd == nil || fd.Recv == nil || len(fd.Recv.List) == 0 || len(fd.Recv.List[0].Names) == 0 || fd.Body == nil {
		return ""
	}
	recvName := fd.Recv.List[0].Names[0].Name
	found := ""
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok || found != "" {
			return found == ""
		}
		if r, d, read := maptypes.IsLockCall(pass.TypesInfo, c); d > 0 && !read {
			if rs, ok := ast.Unparen(r).(*ast.SelectorExpr); ok && rs.Sel.Name == muSel.Sel.Name {
				if id, ok := ast.Unparen(rs.X).(*ast.Ident); ok && id.Name == recvName {
					found = fn.Name()
				}
			}
		}
		return true
	})
	return found
}

// checkCallback reports a write to a concurrent-map inside its IterCb
// callback, and a call on an xsync or mapguard map inside its own Compute
// or LoadOrCompute callback.
func checkCallback(pass *analysis.Pass, call *ast.CallExpr) {
	recv, method, kind := maptypes.MethodCall(pass.TypesInfo, call)
	var lit *ast.FuncLit
	for _, a := range call.Args {
		if l, ok := ast.Unparen(a).(*ast.FuncLit); ok {
			lit = l
		}
	}
	if lit == nil {
		return
	}
	var forbidden func(method string) bool
	var why string
	switch {
	case kind == maptypes.Cmap && method == "IterCb":
		forbidden = func(m string) bool {
			switch m {
			case "Set", "SetIfAbsent", "Upsert", "Remove", "RemoveCb", "Pop", "MSet", "Clear":
				return true
			}
			return false
		}
		why = "IterCb holds the shard's read lock while the callback runs, so the write waits for itself"
	case (kind == maptypes.Xsync || kind == maptypes.Mapguard) && (method == "Compute" || method == "LoadOrCompute"):
		forbidden = func(m string) bool { return m != "Load" && m != "Size" }
		why = method + " runs the callback with the key's bucket locked; the library forbids using the same map there, and a write to that bucket deadlocks"
	default:
		return
	}
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		r, m, _ := maptypes.MethodCall(pass.TypesInfo, c)
		if r != nil && forbidden(m) && maptypes.SameExpr(pass.TypesInfo, r, recv) {
			maptypes.Reportf(pass, c.Pos(), "%s.%s inside the %s callback of the same map: %s", types.ExprString(r), m, method, why)
		}
		return true
	})
}

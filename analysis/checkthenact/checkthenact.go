package checkthenact

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports Load-then-Store and Load-then-Delete of one key.
var Analyzer = &analysis.Analyzer{
	Name:     "checkthenact",
	Doc:      "report a Load followed by a Store or Delete of the same key on a concurrent map, with no lock held in between",
	URL:      "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/checkthenact",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

// load is a Load call not yet followed by a write.
type load struct {
	call *ast.CallExpr
	recv ast.Expr
	key  ast.Expr
}

func run(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		var body *ast.BlockStmt
		switch f := n.(type) {
		case *ast.FuncDecl:
			body = f.Body
		case *ast.FuncLit:
			body = f.Body
		}
		if body != nil {
			checkBody(pass, body)
		}
	})
	return nil, nil
}

// checkBody scans one function body in source order (not entering nested
// function literals, which are checked on their own).
func checkBody(pass *analysis.Pass, body *ast.BlockStmt) {
	var (
		pending []load
		held    int // locks taken and not yet released, in source order
		stack   []ast.Node
	)
	deferred := map[*ast.CallExpr]bool{}
	paths := map[*ast.CallExpr][]ast.Node{} // each Load's enclosing nodes
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		parent := ast.Node(nil)
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		stack = append(stack, n)
		switch n := n.(type) {
		case *ast.FuncLit:
			stack = stack[:len(stack)-1]
			return false
		case *ast.DeferStmt:
			deferred[n.Call] = true
		case *ast.CallExpr:
			if deferred[n] {
				return true
			}
			if _, d, _ := maptypes.IsLockCall(pass.TypesInfo, n); d != 0 {
				held = max(held+d, 0)
				if d > 0 {
					pending = nil // a lock taken between the calls orders them
				}
				return true
			}
			recv, method, kind := maptypes.MethodCall(pass.TypesInfo, n)
			if kind == maptypes.None || len(n.Args) == 0 {
				return true
			}
			key := n.Args[0]
			switch {
			case isLoad(kind, method) && held == 0:
				if discarded(parent) {
					return true // a Load whose result nobody reads checks nothing
				}
				pending = append(pending, load{n, recv, key})
				paths[n] = append([]ast.Node(nil), stack...)
			case isStore(kind, method) || isDelete(kind, method):
				for _, l := range pending {
					if maptypes.SameExpr(pass.TypesInfo, l.recv, recv) && sameKey(pass, l.key, key) && !exclusive(paths[l.call], stack) {
						report(pass, l, n, method, kind)
						break
					}
				}
			}
		}
		return true
	})
}

// discarded reports whether a call whose parent is p has its results
// thrown away: an expression statement, or an assignment to blanks only.
func discarded(p ast.Node) bool {
	switch p := p.(type) {
	case *ast.ExprStmt:
		return true
	case *ast.AssignStmt:
		for _, l := range p.Lhs {
			if id, ok := l.(*ast.Ident); !ok || id.Name != "_" {
				return false
			}
		}
		return true
	}
	return false
}

// exclusive reports whether two paths from the function body part at an
// if statement (one in its body, the other in its else) or at a switch
// or select (different clauses): the two calls never both run in one
// pass.
func exclusive(a, b []ast.Node) bool {
	for i := 0; i+1 < len(a) && i+1 < len(b); i++ {
		if a[i] != b[i] {
			return false
		}
		if a[i+1] != b[i+1] {
			switch p := a[i].(type) {
			case *ast.IfStmt:
				inBody := func(n ast.Node) bool { return n == p.Body }
				return inBody(a[i+1]) != inBody(b[i+1]) && (a[i+1] == p.Else || b[i+1] == p.Else)
			case *ast.BlockStmt:
				_, ca := a[i+1].(*ast.CaseClause)
				_, cb := b[i+1].(*ast.CaseClause)
				_, sa := a[i+1].(*ast.CommClause)
				_, sb := b[i+1].(*ast.CommClause)
				return ca && cb || sa && sb
			}
			return false
		}
	}
	return false
}

func isLoad(k maptypes.Kind, m string) bool {
	return m == "Load" || k == maptypes.Cmap && m == "Get"
}

func isStore(k maptypes.Kind, m string) bool {
	return m == "Store" || k == maptypes.Cmap && m == "Set"
}

func isDelete(k maptypes.Kind, m string) bool {
	return m == "Delete" || k == maptypes.Cmap && m == "Remove"
}

// sameKey reports whether two key expressions are the same constant or
// the same variable.
func sameKey(pass *analysis.Pass, a, b ast.Expr) bool {
	ta, tb := pass.TypesInfo.Types[a], pass.TypesInfo.Types[b]
	if ta.Value != nil && tb.Value != nil {
		return ta.Value.ExactString() == tb.Value.ExactString()
	}
	return maptypes.SameExpr(pass.TypesInfo, a, b)
}

func report(pass *analysis.Pass, l load, write *ast.CallExpr, method string, kind maptypes.Kind) {
	atomic := "LoadOrStore or Compute"
	if isDelete(kind, method) {
		atomic = "LoadAndDelete or CompareAndDelete"
	}
	if kind == maptypes.Cmap {
		atomic = "SetIfAbsent, Upsert or RemoveCb"
	}
	d := analysis.Diagnostic{
		Pos: write.Pos(),
		End: write.End(),
		Message: fmt.Sprintf("%s of %s after a Load of the same key at line %d, with no lock held: another goroutine can write the key in between; use %s",
			method, exprText(l.recv), pass.Fset.Position(l.call.Pos()).Line, atomic),
	}
	if fix, ok := mechanicalFix(pass, l, write, method, kind); ok {
		d.SuggestedFixes = []analysis.SuggestedFix{fix}
	}
	maptypes.Report(pass, d)
}

func exprText(e ast.Expr) string {
	var b bytes.Buffer
	format.Node(&b, token.NewFileSet(), e)
	return b.String()
}

// mechanicalFix rewrites the two shapes whose atomic form is one call:
//
//	if _, ok := m.Load(k); !ok { m.Store(k, v) }  =>  m.LoadOrStore(k, v)
//	if _, ok := m.Load(k); ok { m.Delete(k) }     =>  m.LoadAndDelete(k)
func mechanicalFix(pass *analysis.Pass, l load, write *ast.CallExpr, method string, kind maptypes.Kind) (analysis.SuggestedFix, bool) {
	if kind == maptypes.Cmap {
		return analysis.SuggestedFix{}, false
	}
	var ifs *ast.IfStmt
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.IfStmt); ok && s.Init != nil && s.Init.Pos() <= l.call.Pos() && l.call.End() <= s.Init.End() {
				ifs = s
			}
			return ifs == nil
		})
	}
	if ifs == nil || ifs.Else != nil || len(ifs.Body.List) != 1 {
		return analysis.SuggestedFix{}, false
	}
	as, ok := ifs.Init.(*ast.AssignStmt)
	if !ok || len(as.Lhs) != 2 || len(as.Rhs) != 1 || ast.Unparen(as.Rhs[0]) != l.call {
		return analysis.SuggestedFix{}, false
	}
	if v, ok := as.Lhs[0].(*ast.Ident); !ok || v.Name != "_" {
		return analysis.SuggestedFix{}, false
	}
	okID, isID := as.Lhs[1].(*ast.Ident)
	st, isExpr := ifs.Body.List[0].(*ast.ExprStmt)
	if !isID || !isExpr || ast.Unparen(st.X) != write {
		return analysis.SuggestedFix{}, false
	}
	var newCall string
	switch cond := ast.Unparen(ifs.Cond).(type) {
	case *ast.UnaryExpr: // !ok
		if id, isOK := cond.X.(*ast.Ident); cond.Op != token.NOT || !isOK || id.Name != okID.Name || method != "Store" {
			return analysis.SuggestedFix{}, false
		}
		newCall = fmt.Sprintf("%s.LoadOrStore(%s, %s)", exprText(l.recv), exprText(write.Args[0]), exprText(write.Args[1]))
	case *ast.Ident: // ok
		if cond.Name != okID.Name || method != "Delete" {
			return analysis.SuggestedFix{}, false
		}
		newCall = fmt.Sprintf("%s.LoadAndDelete(%s)", exprText(l.recv), exprText(write.Args[0]))
	default:
		return analysis.SuggestedFix{}, false
	}
	return analysis.SuggestedFix{
		Message:   "Replace the check and the write with " + newCall,
		TextEdits: []analysis.TextEdit{{Pos: ifs.Pos(), End: ifs.End(), NewText: []byte(newCall)}},
	}, true
}

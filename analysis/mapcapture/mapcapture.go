package mapcapture

import (
	"go/ast"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports escaping closures that capture a map only to read
// constant keys.
var Analyzer = &analysis.Analyzer{
	Name:     "mapcapture",
	Doc:      "report closures that outlive their function and capture a whole map only to read it at constant keys",
	URL:      "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/mapcapture",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	ins.WithStack([]ast.Node{(*ast.FuncLit)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if push && escapes(pass, n.(*ast.FuncLit), stack) {
			check(pass, n.(*ast.FuncLit))
		}
		return true
	})
	return nil, nil
}

// escapes reports whether lit outlives the function creating it: it is
// returned, run by a go statement, or assigned to something other than a
// local variable (a field, a package variable, an element).
func escapes(pass *analysis.Pass, lit *ast.FuncLit, stack []ast.Node) bool {
	if len(stack) < 2 {
		return false
	}
	switch p := stack[len(stack)-2].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.CallExpr:
		if len(stack) >= 3 {
			if g, ok := stack[len(stack)-3].(*ast.GoStmt); ok && g.Call == p && p.Fun == lit {
				return true
			}
		}
	case *ast.AssignStmt:
		for i, r := range p.Rhs {
			if r != lit || i >= len(p.Lhs) {
				continue
			}
			switch l := ast.Unparen(p.Lhs[i]).(type) {
			case *ast.SelectorExpr, *ast.IndexExpr, *ast.StarExpr:
				return true
			case *ast.Ident:
				if v, ok := pass.TypesInfo.ObjectOf(l).(*types.Var); ok && v.Parent() == v.Pkg().Scope() {
					return true // a package variable
				}
			}
		}
	case *ast.KeyValueExpr, *ast.CompositeLit:
		return true // stored in a struct, slice or map literal
	}
	return false
}

// check reports each captured map that lit only reads at constant keys.
func check(pass *analysis.Pass, lit *ast.FuncLit) {
	type use struct {
		keys  []string
		other bool // any use but a constant-key read
	}
	uses := map[*types.Var]*use{}
	var order []*types.Var
	var stack []ast.Node
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		var parent, grand ast.Node
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		if len(stack) > 1 {
			grand = stack[len(stack)-2]
		}
		stack = append(stack, n)
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		v, ok := pass.TypesInfo.Uses[id].(*types.Var)
		if !ok || v.Parent() == v.Pkg().Scope() {
			return true // package variables are not captured
		}
		if _, isMap := v.Type().Underlying().(*types.Map); !isMap || (lit.Pos() <= v.Pos() && v.Pos() < lit.End()) {
			return true
		}
		u := uses[v]
		if u == nil {
			u = &use{}
			uses[v] = u
			order = append(order, v)
		}
		ix, isIndex := parent.(*ast.IndexExpr)
		if !isIndex || ix.X != id || pass.TypesInfo.Types[ix.Index].Value == nil || written(grand, ix) {
			u.other = true
			return true
		}
		u.keys = append(u.keys, types.ExprString(ix.Index))
		return true
	})
	for _, v := range order {
		if u := uses[v]; !u.other && len(u.keys) > 0 {
			slices.Sort(u.keys)
			maptypes.Reportf(pass, lit.Pos(), "closure outlives its function and captures the whole map %s to read only %s[%s]: the map stays reachable as long as the closure; read the value before creating the closure and capture that",
				v.Name(), v.Name(), strings.Join(slices.Compact(u.keys), "], "+v.Name()+"["))
		}
	}
}

// written reports whether the index expression, whose parent is p, is
// assigned to or incremented.
func written(p ast.Node, ix *ast.IndexExpr) bool {
	switch p := p.(type) {
	case *ast.AssignStmt:
		return slices.Contains(p.Lhs, ast.Expr(ix))
	case *ast.IncDecStmt:
		return true
	}
	return false
}

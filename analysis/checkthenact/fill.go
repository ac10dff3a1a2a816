package checkthenact

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// This file holds the two rules that tell a check-then-act that can lose
// nothing from a lost update:
//
//   - a Load whose value is thrown away, then a Delete of the key: the
//     check looked only at presence, and deleting is idempotent, so the
//     map ends as an atomic LoadAndDelete at the Delete would leave it.
//     Nothing the Load returned is acted on, so a value stored in between
//     is not mistaken for the one checked.
//   - a cache fill: a Store on a path where the loaded value was not
//     looked at (a miss), of a value with no identity (a bool, number or
//     string) that is not computed from the loaded value, into a map
//     whose every write in the package is such a fill or a Delete. Two
//     goroutines racing to fill store equal values, and no writer keeps
//     state in an entry that the fill could overwrite.

// loadValue returns the variables the value result of the Load call is
// bound to (v in v, ok := m.Load(k); v = m.Load(k)), empty when it is
// thrown away.
func loadValue(info *types.Info, parent ast.Node, call *ast.CallExpr) []types.Object {
	var lhs []ast.Expr
	switch p := parent.(type) {
	case *ast.AssignStmt:
		if len(p.Rhs) == 1 && ast.Unparen(p.Rhs[0]) == call {
			lhs = p.Lhs
		}
	case *ast.ValueSpec:
		if len(p.Values) == 1 && ast.Unparen(p.Values[0]) == call {
			for _, n := range p.Names {
				lhs = append(lhs, n)
			}
		}
	default:
		return nil
	}
	if len(lhs) == 0 {
		return nil
	}
	id, ok := lhs[0].(*ast.Ident)
	if !ok || id.Name == "_" {
		return nil
	}
	if obj := info.ObjectOf(id); obj != nil {
		return []types.Object{obj}
	}
	return nil
}

// derived returns the local variables of body computed, directly or
// through other locals, from the seeds (v := x.(T); n := v + 1). It is
// flow-insensitive: an assignment anywhere in body counts.
func derived(info *types.Info, body ast.Node, seeds []types.Object) map[types.Object]bool {
	set := map[types.Object]bool{}
	for _, o := range seeds {
		set[o] = true
	}
	if len(set) == 0 {
		return set
	}
	for changed := true; changed; {
		changed = false
		add := func(lhs []ast.Expr, rhs []ast.Expr) {
			from := false
			for _, r := range rhs {
				if mentions(info, r, set) {
					from = true
				}
			}
			if !from {
				return
			}
			for _, l := range lhs {
				if id, ok := ast.Unparen(l).(*ast.Ident); ok {
					if obj := info.ObjectOf(id); obj != nil && !set[obj] {
						set[obj], changed = true, true
					}
				}
			}
		}
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				add(n.Lhs, n.Rhs)
			case *ast.ValueSpec:
				lhs := make([]ast.Expr, len(n.Names))
				for i, id := range n.Names {
					lhs[i] = id
				}
				add(lhs, n.Values)
			case *ast.RangeStmt:
				add([]ast.Expr{n.Key, n.Value}, []ast.Expr{n.X})
			case *ast.TypeSwitchStmt:
				// switch x := v.(type): each clause's x is an implicit object.
				if as, ok := n.Assign.(*ast.AssignStmt); ok && len(as.Rhs) == 1 && mentions(info, as.Rhs[0], set) {
					for _, c := range n.Body.List {
						if obj := info.Implicits[c]; obj != nil && !set[obj] {
							set[obj], changed = true, true
						}
					}
				}
			}
			return true
		})
	}
	return set
}

// mentions reports whether e uses one of the variables in set.
func mentions(info *types.Info, e ast.Node, set map[types.Object]bool) bool {
	if e == nil || len(set) == 0 {
		return false
	}
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && set[info.Uses[id]] {
			found = true
		}
		return !found
	})
	return found
}

// noIdentity reports whether e's value is a bool, number or string: two
// equal ones are interchangeable, unlike two pointers, slices, maps or
// structs that callers may go on to change.
func noIdentity(info *types.Info, e ast.Expr) bool {
	t := info.TypeOf(e)
	if t == nil {
		return false
	}
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0
}

// mapVar returns the unexported struct field or package-level variable
// that recv (c.perms.pcache, cache) names, or nil: only for those does
// the package hold every write.
func mapVar(info *types.Info, recv ast.Expr) *types.Var {
	var v *types.Var
	switch x := ast.Unparen(recv).(type) {
	case *ast.SelectorExpr:
		if sel := info.Selections[x]; sel != nil {
			if sel.Kind() == types.FieldVal {
				v, _ = sel.Obj().(*types.Var)
			}
		} else {
			return nil // pkg.v: another package's variable
		}
	case *ast.Ident:
		v, _ = info.Uses[x].(*types.Var)
		if v != nil && (v.Parent() == nil || v.Parent() != v.Pkg().Scope()) {
			return nil // a local or a parameter: its writers are not all here
		}
	}
	if v == nil || v.Exported() {
		return nil
	}
	return v.Origin() // one field for every instance of a generic type
}

// fills caches, per map variable, whether every use of it in the package
// is a method call, and every write one is a fill (a Store or Set of a
// value with no identity not computed from a Load of the same map in the
// same function) or a Delete, Remove, LoadAndDelete or Clear.
type fills struct {
	pass *analysis.Pass
	memo map[*types.Var]bool
}

func (f *fills) fillOnly(v *types.Var) bool {
	if v == nil {
		return false
	}
	if ok, seen := f.memo[v]; seen {
		return ok
	}
	ok := f.scan(v)
	f.memo[v] = ok
	return ok
}

func (f *fills) scan(v *types.Var) bool {
	info := f.pass.TypesInfo
	ok := true
	for _, file := range f.pass.Files {
		var funcs []ast.Node // enclosing function bodies, innermost last
		var stack []ast.Node
		ast.Inspect(file, func(n ast.Node) bool {
			if !ok {
				return false
			}
			if n == nil {
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if len(funcs) > 0 && funcs[len(funcs)-1] == top {
					funcs = funcs[:len(funcs)-1]
				}
				return true
			}
			switch n.(type) {
			case *ast.FuncDecl, *ast.FuncLit:
				funcs = append(funcs, n)
			}
			stack = append(stack, n)
			var use ast.Expr
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if fv, isVar := info.ObjectOf(x.Sel).(*types.Var); !isVar || fv.Origin() != v {
					return true
				}
				use = x
			case *ast.Ident:
				if iv, isVar := info.Uses[x].(*types.Var); !isVar || iv.Origin() != v {
					return true
				}
				if len(stack) > 1 {
					if p, isSel := stack[len(stack)-2].(*ast.SelectorExpr); isSel && p.Sel == x {
						return true // seen as the selector
					}
				}
				use = x
			default:
				return true
			}
			// The use must be the receiver of a method call: m.Method(...).
			if len(stack) < 3 {
				ok = false
				return false
			}
			sel, isSel := stack[len(stack)-2].(*ast.SelectorExpr)
			call, isCall := stack[len(stack)-3].(*ast.CallExpr)
			if !isSel || !isCall || sel.X != use || call.Fun != sel {
				ok = false
				return false
			}
			_, method, kind := maptypes.MethodCall(info, call)
			switch {
			case kind == maptypes.None:
				ok = false
			case isStore(kind, method):
				var body ast.Node = file
				if len(funcs) > 0 {
					body = funcs[len(funcs)-1]
				}
				if len(call.Args) < 2 || !noIdentity(info, call.Args[1]) || mentions(info, call.Args[1], derived(info, body, loadsOf(info, body, v))) {
					ok = false
				}
			case isLoad(kind, method), isDelete(kind, method), readOnly(method),
				method == "LoadAndDelete", method == "LoadOrStore", method == "Clear":
			default:
				ok = false // Swap, CompareAndSwap, Compute, Upsert: writes from what is there
			}
			return ok
		})
	}
	return ok
}

// readOnly reports whether a method of a concurrent map only reads it.
func readOnly(method string) bool {
	switch method {
	case "Range", "All", "Len", "Size", "Count", "Has", "Keys", "Items", "IsEmpty", "IterBuffered", "Iter":
		return true
	}
	return false
}

// loadsOf returns the variables that the value results of the Loads of v
// in body are bound to.
func loadsOf(info *types.Info, body ast.Node, v *types.Var) []types.Object {
	var out []types.Object
	var stack []ast.Node
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		if call, ok := n.(*ast.CallExpr); ok && len(stack) > 0 {
			if recv, method, kind := maptypes.MethodCall(info, call); recv != nil && isLoad(kind, method) && mapVar(info, recv) == v {
				out = append(out, loadValue(info, stack[len(stack)-1], call)...)
			}
		}
		stack = append(stack, n)
		return true
	})
	return out
}

// isFill reports whether store, a Store after the read l on this path,
// is a cache fill: l's value was not looked at on the way (the miss
// path), and the value stored has no identity, is not computed from l's
// value, and goes into a map every write of which is such a fill.
func isFill(pass *analysis.Pass, f *fills, l load, store *ast.CallExpr, recv ast.Expr) bool {
	if l.used || len(store.Args) < 2 {
		return false
	}
	v := store.Args[1]
	return noIdentity(pass.TypesInfo, v) && !mentions(pass.TypesInfo, v, l.vals) && f.fillOnly(mapVar(pass.TypesInfo, recv))
}

func setOf(objs []types.Object) map[types.Object]bool {
	m := map[types.Object]bool{}
	for _, o := range objs {
		m[o] = true
	}
	return m
}

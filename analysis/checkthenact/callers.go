package checkthenact

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// site is one call of an unexported function of the package.
type site struct {
	caller *types.Func // the enclosing function declaration; nil in a function literal
	call   *ast.CallExpr
	held   map[lockKey]hold // write locks held at the call, in the caller's terms
	// fresh: the call's receiver is a value the caller allocated itself
	// (x := &T{...}, new(T), T{...}) and the caller starts no goroutine,
	// as a constructor does before it returns the value: nothing else
	// can reach the value yet, so the call needs no lock.
	fresh bool
}

// entryLocks returns, for each unexported function or method of the
// package that is only ever called (never used as a value), the write
// locks every one of its call sites holds, restated in its own terms
// (c.mu for its receiver c). Such a function runs with those locks held
// from its first statement: "must be called with c.mu held".
func entryLocks(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, epoch *int) map[*types.Func][]lockKey {
	sites := map[*types.Func][]site{}
	called := map[*ast.Ident]bool{}
	collect := func(caller *types.Func, body *ast.BlockStmt) {
		fresh := freshVars(pass.TypesInfo, body)
		w := &walker{info: pass.TypesInfo, epoch: epoch}
		w.visit = func(n ast.Node, _ []ast.Node, s *state) {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return
			}
			fn, _ := typeutil.Callee(pass.TypesInfo, call).(*types.Func)
			if fn == nil || decls[fn.Origin()] == nil || fn.Exported() {
				return
			}
			switch f := ast.Unparen(call.Fun).(type) {
			case *ast.Ident:
				called[f] = true
			case *ast.SelectorExpr:
				called[f.Sel] = true
			case *ast.IndexExpr: // generic instantiation f[T](...)
				if id, ok := f.X.(*ast.Ident); ok {
					called[id] = true
				}
			}
			held := map[lockKey]hold{}
			for k, h := range s.held {
				if !h.read {
					held[k] = h
				}
			}
			st := site{caller: caller, call: call, held: held}
			if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
				if id, ok := ast.Unparen(sel.X).(*ast.Ident); ok && fresh[pass.TypesInfo.Uses[id]] {
					st.fresh = true
				}
			}
			sites[fn.Origin()] = append(sites[fn.Origin()], st)
		}
		w.body(body, &state{held: map[lockKey]hold{}})
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				fn, _ := pass.TypesInfo.Defs[n.Name].(*types.Func)
				collect(fn, n.Body)
			case *ast.FuncLit:
				collect(nil, n.Body)
			}
			return true
		})
	}
	usedOtherwise := map[*types.Func]bool{}
	for id, obj := range pass.TypesInfo.Uses {
		if fn, ok := obj.(*types.Func); ok && !called[id] {
			usedOtherwise[fn.Origin()] = true
		}
	}

	memo := map[*types.Func][]lockKey{}
	busy := map[*types.Func]bool{}
	var entry func(fn *types.Func) []lockKey
	entry = func(fn *types.Func) []lockKey {
		if ks, ok := memo[fn]; ok {
			return ks
		}
		if fn == nil || usedOtherwise[fn] || len(sites[fn]) == 0 || busy[fn] {
			return nil
		}
		busy[fn] = true
		defer delete(busy, fn)
		var common map[lockKey]bool
		for _, st := range sites[fn] {
			if st.fresh {
				continue // the caller owns the value: no other goroutine can race it
			}
			here := map[lockKey]bool{}
			for k := range st.held {
				if t, ok := translate(pass.TypesInfo, k, st.call, fn); ok {
					here[t] = true
				}
			}
			if st.caller != fn {
				for _, k := range entry(st.caller) {
					if t, ok := translate(pass.TypesInfo, k, st.call, fn); ok {
						here[t] = true
					}
				}
			} else {
				continue // a recursive call adds no caller of its own
			}
			if common == nil {
				common = here
				continue
			}
			for k := range common {
				if !here[k] {
					delete(common, k)
				}
			}
		}
		var ks []lockKey
		for k := range common {
			ks = append(ks, k)
		}
		memo[fn] = ks
		return ks
	}
	out := map[*types.Func][]lockKey{}
	for fn := range decls {
		if ks := entry(fn); len(ks) > 0 {
			out[fn] = ks
		}
	}
	return out
}

// freshVars returns the local variables body initialises with a value it
// allocates (x := &T{...}, x := new(T), x := T{...}) when body starts no
// goroutine, and nil otherwise. Function literals in body count as part
// of it: a go statement in one also shares the values.
func freshVars(info *types.Info, body *ast.BlockStmt) map[types.Object]bool {
	if body == nil {
		return nil
	}
	fresh := map[types.Object]bool{}
	started := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			started = true
		case *ast.AssignStmt:
			if n.Tok != token.DEFINE || len(n.Lhs) != len(n.Rhs) {
				return true
			}
			for i, l := range n.Lhs {
				id, ok := l.(*ast.Ident)
				if ok && allocates(info, n.Rhs[i]) {
					if obj := info.Defs[id]; obj != nil {
						fresh[obj] = true
					}
				}
			}
		}
		return true
	})
	if started {
		return nil
	}
	return fresh
}

// allocates reports whether e is &T{...}, new(T) or T{...}.
func allocates(info *types.Info, e ast.Expr) bool {
	switch e := ast.Unparen(e).(type) {
	case *ast.CompositeLit:
		return true
	case *ast.UnaryExpr:
		_, ok := ast.Unparen(e.X).(*ast.CompositeLit)
		return e.Op == token.AND && ok
	case *ast.CallExpr:
		id, ok := ast.Unparen(e.Fun).(*ast.Ident)
		if !ok {
			return false
		}
		b, ok := info.Uses[id].(*types.Builtin)
		return ok && b.Name() == "new"
	}
	return false
}

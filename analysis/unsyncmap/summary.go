package unsyncmap

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Bases of a summarized map write: the function's receiver, one of its
// parameters (index >= 0), a package-level variable, or a variable a
// function literal captures from the code around it.
const (
	baseRecv     = -1
	basePkg      = -2
	baseCaptured = -3
)

// mapWrite is a write (index assignment, ++, delete, clear) of a map that
// a function reaches through its receiver, a parameter, a package-level
// variable or a captured variable, followed by a chain of struct fields:
// recv.a.f[k] = v is {base: baseRecv, path: [a, f]}.
type mapWrite struct {
	base   int
	v      *types.Var   // the package-level or captured variable
	path   []*types.Var // struct fields from the base to the map
	locked bool         // some lock is held at the write (or at the call reaching it)
	at     token.Pos    // the write itself, possibly in a callee
}

// summarizer computes, once per same-package function, the map writes it
// makes through its receiver and parameters, following same-package calls
// to any depth (RacerD-style summaries: a callee's writes through its
// parameters become the caller's writes through the arguments it passes).
type summarizer struct {
	pass  *analysis.Pass
	decls map[*types.Func]*ast.FuncDecl
	memo  map[*ast.FuncDecl][]mapWrite
	busy  map[*ast.FuncDecl]bool
}

func newSummarizer(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl) *summarizer {
	return &summarizer{pass: pass, decls: decls, memo: map[*ast.FuncDecl][]mapWrite{}, busy: map[*ast.FuncDecl]bool{}}
}

// of returns the summary of a declared function.
func (s *summarizer) of(decl *ast.FuncDecl) []mapWrite {
	if w, ok := s.memo[decl]; ok {
		return w
	}
	if s.busy[decl] || decl.Body == nil {
		return nil // recursion: the outer walk sees the writes
	}
	s.busy[decl] = true
	params := map[*types.Var]int{}
	if fn, ok := s.pass.TypesInfo.Defs[decl.Name].(*types.Func); ok {
		sig := fn.Type().(*types.Signature)
		if sig.Recv() != nil {
			params[sig.Recv()] = baseRecv
		}
		for i := 0; i < sig.Params().Len(); i++ {
			params[sig.Params().At(i)] = i
		}
	}
	w := s.body(decl.Body, params, nil)
	delete(s.busy, decl)
	s.memo[decl] = w
	return w
}

// literal returns the writes of a function literal: through its
// parameters, package-level variables, and the variables it captures.
func (s *summarizer) literal(lit *ast.FuncLit) []mapWrite {
	params := map[*types.Var]int{}
	if sig, ok := s.pass.TypesInfo.TypeOf(lit).(*types.Signature); ok {
		for i := 0; i < sig.Params().Len(); i++ {
			params[sig.Params().At(i)] = i
		}
	}
	return s.body(lit.Body, params, lit)
}

// chain resolves e (x.a.b, *x, &x.a, a package-level variable) to a base
// and a field path. scope, when not nil, is a function literal: variables
// declared outside it (and not package-level) are captured.
func (s *summarizer) chain(e ast.Expr, params map[*types.Var]int, scope ast.Node) (base int, v *types.Var, path []*types.Var, ok bool) {
	switch x := ast.Unparen(e).(type) {
	case *ast.StarExpr:
		return s.chain(x.X, params, scope)
	case *ast.UnaryExpr:
		if x.Op != token.AND {
			return 0, nil, nil, false
		}
		return s.chain(x.X, params, scope)
	case *ast.SelectorExpr:
		sel := s.pass.TypesInfo.Selections[x]
		if sel == nil {
			// A qualified identifier: another package's variable.
			return 0, nil, nil, false
		}
		if sel.Kind() != types.FieldVal {
			return 0, nil, nil, false
		}
		f, _ := sel.Obj().(*types.Var)
		base, v, path, ok := s.chain(x.X, params, scope)
		if !ok {
			return 0, nil, nil, false
		}
		return base, v, append(append([]*types.Var(nil), path...), f), true
	case *ast.Ident:
		v, ok := s.pass.TypesInfo.Uses[x].(*types.Var)
		if !ok {
			return 0, nil, nil, false
		}
		if i, ok := params[v]; ok {
			return i, nil, nil, true
		}
		if v.Pkg() != nil && v.Parent() == v.Pkg().Scope() {
			return basePkg, v, nil, true
		}
		if scope != nil && (v.Pos() < scope.Pos() || v.Pos() >= scope.End()) {
			return baseCaptured, v, nil, true
		}
	}
	return 0, nil, nil, false
}

// body summarizes the writes of one function body in source order,
// tracking whether a lock is held: Lock or RLock on a mutex holds it, an
// Unlock of the same mutex releases it unless deferred or on a path that
// returns right after.
func (s *summarizer) body(body *ast.BlockStmt, params map[*types.Var]int, scope ast.Node) []mapWrite {
	var out []mapWrite
	// holding counts the locks taken on each mutex (by its expression):
	// unlocking o.mu does not release mset.mu.
	holding := map[string]int{}
	held := false
	// Unlocks that end an early-return branch do not release the lock
	// for the code after the branch.
	branchUnlock := map[*ast.CallExpr]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		b, ok := n.(*ast.BlockStmt)
		if !ok || len(b.List) == 0 {
			return true
		}
		switch b.List[len(b.List)-1].(type) {
		case *ast.ReturnStmt, *ast.BranchStmt:
			for _, st := range b.List {
				if es, ok := st.(*ast.ExprStmt); ok {
					if c, ok := ast.Unparen(es.X).(*ast.CallExpr); ok {
						branchUnlock[c] = true
					}
				}
			}
		}
		return true
	})
	write := func(e ast.Expr, at token.Pos) {
		if _, isMap := s.pass.TypesInfo.TypeOf(e).Underlying().(*types.Map); !isMap {
			return
		}
		base, v, path, ok := s.chain(e, params, scope)
		if !ok {
			return
		}
		out = append(out, mapWrite{base: base, v: v, path: path, locked: held, at: at})
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit, *ast.GoStmt:
			// Runs later or elsewhere: not part of this call.
			return false
		case *ast.DeferStmt:
			return false
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				if ix, ok := ast.Unparen(l).(*ast.IndexExpr); ok {
					write(ix.X, n.Pos())
				}
			}
		case *ast.IncDecStmt:
			if ix, ok := ast.Unparen(n.X).(*ast.IndexExpr); ok {
				write(ix.X, n.Pos())
			}
		case *ast.CallExpr:
			if recv, d, _ := maptypes.IsLockCall(s.pass.TypesInfo, n); d > 0 {
				holding[types.ExprString(recv)]++
			} else if d < 0 && !branchUnlock[n] && holding[types.ExprString(recv)] > 0 {
				holding[types.ExprString(recv)]--
			}
			held = false
			for _, c := range holding {
				held = held || c > 0
			}
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && (id.Name == "delete" || id.Name == "clear") && len(n.Args) > 0 {
				if _, builtin := s.pass.TypesInfo.Uses[id].(*types.Builtin); builtin {
					write(n.Args[0], n.Pos())
				}
			}
			out = append(out, s.call(n, params, scope, held)...)
		}
		return true
	})
	return out
}

// call maps the summary of a same-package callee onto the caller: writes
// through the callee's receiver or parameters become writes through the
// caller's expressions passed for them.
func (s *summarizer) call(call *ast.CallExpr, params map[*types.Var]int, scope ast.Node, held bool) []mapWrite {
	var fn *types.Func
	var recv ast.Expr
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		fn, _ = s.pass.TypesInfo.Uses[f].(*types.Func)
	case *ast.SelectorExpr:
		if sel := s.pass.TypesInfo.Selections[f]; sel != nil && sel.Kind() == types.MethodVal {
			fn, _ = sel.Obj().(*types.Func)
			recv = f.X
		} else {
			fn, _ = s.pass.TypesInfo.Uses[f.Sel].(*types.Func)
		}
	}
	if fn == nil || s.decls[fn.Origin()] == nil {
		return nil
	}
	sig := fn.Origin().Type().(*types.Signature)
	if sig.Variadic() && len(call.Args) > sig.Params().Len() {
		return nil
	}
	var out []mapWrite
	for _, w := range s.of(s.decls[fn.Origin()]) {
		var arg ast.Expr
		switch {
		case w.base == basePkg:
			w.locked = w.locked || held
			out = append(out, w)
			continue
		case w.base == baseRecv:
			arg = recv
		case w.base >= 0 && w.base < len(call.Args):
			arg = call.Args[w.base]
		}
		if arg == nil {
			continue
		}
		base, v, path, ok := s.chain(arg, params, scope)
		if !ok {
			continue
		}
		out = append(out, mapWrite{
			base:   base,
			v:      v,
			path:   append(append([]*types.Var(nil), path...), w.path...),
			locked: w.locked || held,
			at:     w.at,
		})
	}
	return out
}

// name spells a write's map for a message: recv.a.f, store.stats.
func (w mapWrite) name(recv string) string {
	s := recv
	if w.v != nil {
		s = w.v.Name()
	}
	for _, f := range w.path {
		s += "." + f.Name()
	}
	return s
}

// where names the position at for a message about code at from: "line
// N" in the same file, "file.go:N" in another.
func where(pass *analysis.Pass, from, at token.Pos) string {
	f, a := pass.Fset.Position(from), pass.Fset.Position(at)
	if f.Filename == a.Filename {
		return fmt.Sprintf("line %d", a.Line)
	}
	return fmt.Sprintf("%s:%d", filepath.Base(a.Filename), a.Line)
}

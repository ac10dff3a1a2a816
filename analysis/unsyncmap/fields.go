package unsyncmap

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// fieldKey names a map-typed struct field reached through a variable:
// obj.field.
type fieldKey struct {
	obj   *types.Var
	field *types.Var
}

// fieldAccesses is what a piece of code does to map fields: the fields it
// writes and reads (with a position to cite), and whether it takes any
// lock, in which case its accesses are lockset's business, not ours.
type fieldAccesses struct {
	writes map[fieldKey]token.Pos
	reads  map[fieldKey]token.Pos
	locks  bool
	// signals: the code itself (not a goroutine it starts) sends on a
	// channel, closes one or calls Done, so a receive in its starter may
	// be ordered after its writes.
	signals bool
}

// collector gathers fieldAccesses over same-package code, following calls
// a bounded number of levels deep.
type collector struct {
	pass  *analysis.Pass
	decls map[*types.Func]*ast.FuncDecl
	out   fieldAccesses
}

func newCollector(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl) *collector {
	return &collector{pass: pass, decls: decls, out: fieldAccesses{
		writes: map[fieldKey]token.Pos{},
		reads:  map[fieldKey]token.Pos{},
	}}
}

// resolve maps a variable of the code being walked to the caller's
// variable it stands for. bind == nil means the walked code is the
// caller's own (a function literal): a variable declared inside scope is
// local to it and not shared.
func resolve(v *types.Var, bind map[*types.Var]*types.Var, scope ast.Node) *types.Var {
	if bind != nil {
		return bind[v]
	}
	if scope != nil && scope.Pos() <= v.Pos() && v.Pos() < scope.End() {
		return nil
	}
	return v
}

// mapField returns the key of e when e is v.f with f a map-typed struct
// field and v a variable that resolves to a caller's variable.
func (c *collector) mapField(e ast.Expr, bind map[*types.Var]*types.Var, scope ast.Node) (fieldKey, bool) {
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	if !ok {
		return fieldKey{}, false
	}
	id, ok := ast.Unparen(sel.X).(*ast.Ident)
	if !ok {
		return fieldKey{}, false
	}
	f, ok := c.pass.TypesInfo.Uses[sel.Sel].(*types.Var)
	if !ok || !f.IsField() {
		return fieldKey{}, false
	}
	if _, isMap := f.Type().Underlying().(*types.Map); !isMap {
		return fieldKey{}, false
	}
	v, ok := c.pass.TypesInfo.Uses[id].(*types.Var)
	if !ok {
		return fieldKey{}, false
	}
	if v = resolve(v, bind, scope); v == nil {
		return fieldKey{}, false
	}
	return fieldKey{v, f}, true
}

// callee returns the declaration a call reaches in this package and the
// binding of its receiver and parameters to the caller's variables (only
// arguments that are plain variables are bound).
func (c *collector) callee(call *ast.CallExpr, bind map[*types.Var]*types.Var, scope ast.Node) (*ast.FuncDecl, map[*types.Var]*types.Var) {
	var fn *types.Func
	var recv ast.Expr
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		fn, _ = c.pass.TypesInfo.Uses[f].(*types.Func)
	case *ast.SelectorExpr:
		if s := c.pass.TypesInfo.Selections[f]; s != nil && s.Kind() == types.MethodVal {
			fn, _ = s.Obj().(*types.Func)
			recv = f.X
		} else {
			fn, _ = c.pass.TypesInfo.Uses[f.Sel].(*types.Func)
		}
	}
	if fn == nil || c.decls[fn.Origin()] == nil {
		return nil, nil
	}
	decl := c.decls[fn.Origin()]
	sig := fn.Origin().Type().(*types.Signature)
	b := map[*types.Var]*types.Var{}
	arg := func(e ast.Expr) *types.Var {
		for {
			switch x := ast.Unparen(e).(type) {
			case *ast.UnaryExpr:
				if x.Op != token.AND {
					return nil
				}
				e = x.X
			case *ast.StarExpr:
				e = x.X
			case *ast.Ident:
				v, ok := c.pass.TypesInfo.Uses[x].(*types.Var)
				if !ok {
					return nil
				}
				return resolve(v, bind, scope)
			default:
				return nil
			}
		}
	}
	if recv != nil && sig.Recv() != nil {
		if v := arg(recv); v != nil {
			b[sig.Recv()] = v
		}
	}
	for i, a := range call.Args {
		if i < sig.Params().Len() {
			if v := arg(a); v != nil {
				b[sig.Params().At(i)] = v
			}
		}
	}
	if len(b) == 0 {
		return nil, nil
	}
	return decl, b
}

// walk records the map-field accesses of body, whose variables map to
// the caller's through bind (nil: body is the caller's own literal,
// scoped by scope), and of the same-package functions it calls, depth
// levels further.
func (c *collector) walk(body ast.Node, bind map[*types.Var]*types.Var, scope ast.Node, depth int, inGo bool) {
	if body == nil {
		return
	}
	lhs := map[ast.Expr]bool{}
	var gos []*ast.GoStmt // go statements met so far: their code signals no one here
	nested := func(n ast.Node) bool {
		if inGo {
			return true
		}
		for _, g := range gos {
			if g.Pos() <= n.Pos() && n.End() <= g.End() {
				return true
			}
		}
		return false
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			gos = append(gos, n)
		case *ast.SendStmt:
			if !nested(n) {
				c.out.signals = true
			}
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				lhs[l] = true
				if ix, ok := ast.Unparen(l).(*ast.IndexExpr); ok {
					if k, ok := c.mapField(ix.X, bind, scope); ok {
						c.out.writes[k] = n.Pos()
					}
				}
			}
		case *ast.IncDecStmt:
			if ix, ok := ast.Unparen(n.X).(*ast.IndexExpr); ok {
				lhs[n.X] = true
				if k, ok := c.mapField(ix.X, bind, scope); ok {
					c.out.writes[k] = n.Pos()
				}
			}
		case *ast.IndexExpr:
			if !lhs[n] {
				if k, ok := c.mapField(n.X, bind, scope); ok {
					c.out.reads[k] = n.Pos()
				}
			}
		case *ast.RangeStmt:
			if k, ok := c.mapField(n.X, bind, scope); ok {
				c.out.reads[k] = n.Pos()
			}
		case *ast.CallExpr:
			if _, d, _ := maptypes.IsLockCall(c.pass.TypesInfo, n); d > 0 {
				c.out.locks = true
			}
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sel.Sel.Name == "Done" && !nested(n) {
				c.out.signals = true
			}
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && id.Name == "close" && !nested(n) {
				c.out.signals = true
			}
			if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && len(n.Args) > 0 {
				if _, builtin := c.pass.TypesInfo.Uses[id].(*types.Builtin); builtin {
					if k, ok := c.mapField(n.Args[0], bind, scope); ok {
						switch id.Name {
						case "delete", "clear":
							c.out.writes[k] = n.Pos()
						case "len":
							c.out.reads[k] = n.Pos()
						}
					}
				}
			}
			if depth > 0 {
				if decl, b := c.callee(n, bind, scope); decl != nil && decl.Body != body {
					c.walk(decl.Body, b, nil, depth-1, nested(n))
				}
			}
		}
		return true
	})
}

// goroutineFieldWrites returns the map fields, reached through variables
// of the starting function, that the function g starts writes (directly
// or one call deeper), or nil when it takes a lock anywhere; and whether
// that code signals (sends, closes, calls Done), without which a channel
// receive in the starter does not order the writes before the read.
func goroutineFieldWrites(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, g *ast.GoStmt) (map[fieldKey]token.Pos, bool) {
	c := newCollector(pass, decls)
	if lit, ok := ast.Unparen(g.Call.Fun).(*ast.FuncLit); ok {
		// go func() { obj.f[k] = v; obj.method() }(): the literal's own
		// accesses, its callees' and theirs.
		c.walk(lit.Body, nil, lit, 2, false)
	} else {
		// go obj.method(args), go worker(obj, args): the callee with its
		// receiver and parameters bound to the starter's variables.
		decl, b := c.callee(g.Call, nil, nil)
		if decl == nil {
			return nil, false
		}
		c.walk(decl.Body, b, nil, 1, false)
	}
	if c.out.locks {
		return nil, false
	}
	return c.out.writes, c.out.signals
}

// readsOf returns the map fields that n reads, directly or through the
// same-package function it calls (and one call deeper), and whether
// that code takes a lock.
func readsOf(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, call *ast.CallExpr) fieldAccesses {
	c := newCollector(pass, decls)
	if decl, b := c.callee(call, nil, nil); decl != nil {
		c.walk(decl.Body, b, nil, 1, false)
	}
	return c.out
}

// checkOtherMethods reports, when starter is a method whose goroutine g
// writes a map field of the receiver, the exported methods of the same
// type that read that field with no lock: callers run them while the
// goroutine writes (a Start or Run method whose loop fills r.f, and a
// Stats or List method ranging over it).
func checkOtherMethods(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, starter *ast.FuncDecl, g *ast.GoStmt, fieldWritten map[fieldKey]token.Pos, reported map[token.Pos]bool) {
	if starter.Recv == nil || len(fieldWritten) == 0 {
		return
	}
	fn, ok := pass.TypesInfo.Defs[starter.Name].(*types.Func)
	if !ok {
		return
	}
	recv := fn.Type().(*types.Signature).Recv()
	named := recvNamed(recv)
	if named == nil {
		return
	}
	written := map[*types.Var]token.Pos{}
	for k, pos := range fieldWritten {
		if k.obj == recv {
			written[k.field] = pos
		}
	}
	if len(written) == 0 {
		return
	}
	for m, decl := range decls {
		sig := m.Type().(*types.Signature)
		if decl == starter || !m.Exported() || sig.Recv() == nil || recvNamed(sig.Recv()) != named || decl.Body == nil {
			continue
		}
		c := newCollector(pass, decls)
		c.walk(decl.Body, map[*types.Var]*types.Var{sig.Recv(): recv}, nil, 1, false)
		if c.out.locks {
			continue
		}
		for k, at := range c.out.reads {
			w, ok := written[k.field]
			if !ok || k.obj != recv || reported[at] {
				continue
			}
			reported[at] = true
			maptypes.Reportf(pass, at, "%s.%s reads %s.%s with no lock while the goroutine %s.%s starts at line %d writes it (line %d): fatal error: concurrent map read and map write; lock both sides, or use sync.Map or a mapguard map",
				named.Obj().Name(), m.Name(), recv.Name(), k.field.Name(), named.Obj().Name(), starter.Name.Name, pass.Fset.Position(g.Pos()).Line, pass.Fset.Position(w).Line)
		}
	}
}

func recvNamed(recv *types.Var) *types.Named {
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, _ := t.(*types.Named)
	if n != nil {
		n = n.Origin()
	}
	return n
}

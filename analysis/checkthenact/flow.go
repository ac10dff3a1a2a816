package checkthenact

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// lockKey names a mutex by the variable at its root and the fields
// from there: c.mu is {c, ".mu"}, an embedded mutex locked as c.Lock()
// is {c, ""}, a package-level mu is {mu, ""}. A mutex reached some other
// way (s.locks[k], getMu()) has no root and is named by its text.
type lockKey struct {
	root types.Object
	path string
}

// hold is one acquisition of a lock: epoch tells two acquisitions of the
// same mutex apart, so that a lock released and taken again between two
// calls does not count as held across both.
type hold struct {
	epoch int
	read  bool
}

// state is what the walker knows at one point of a function body, on
// every path that reaches it.
type state struct {
	held    map[lockKey]hold
	pending []load // reads not yet followed by a write
	dead    bool   // no path reaches this point (after return or panic)
}

func (s *state) clone() *state {
	c := &state{held: make(map[lockKey]hold, len(s.held)), pending: append([]load(nil), s.pending...), dead: s.dead}
	for k, h := range s.held {
		c.held[k] = h
	}
	return c
}

// merge sets s to the join of the branches that reach it: a lock is
// held afterwards only if every live branch holds the same acquisition
// of it; a pending read is pending if any live branch has it.
func (s *state) merge(branches ...*state) {
	var live []*state
	for _, b := range branches {
		if !b.dead {
			live = append(live, b)
		}
	}
	if len(live) == 0 {
		s.dead, s.held, s.pending = true, map[lockKey]hold{}, nil
		return
	}
	held := map[lockKey]hold{}
	for k, h := range live[0].held {
		all := true
		for _, b := range live[1:] {
			if bh, ok := b.held[k]; !ok || bh != h {
				all = false
				break
			}
		}
		if all {
			held[k] = h
		}
	}
	seen := map[*ast.CallExpr]int{}
	var pending []load
	for _, b := range live {
		for _, l := range b.pending {
			if i, ok := seen[l.call]; ok {
				pending[i].used = pending[i].used || l.used // looked at on some path
				continue
			}
			seen[l.call] = len(pending)
			pending = append(pending, l)
		}
	}
	s.dead, s.held, s.pending = false, held, pending
}

// writeHeld returns the write locks held, for a read to remember.
func (s *state) writeHeld() map[lockKey]int {
	m := map[lockKey]int{}
	for k, h := range s.held {
		if !h.read {
			m[k] = h.epoch
		}
	}
	return m
}

// walker visits a function body statement by statement, tracking the
// locks held on every path (Lock and RLock calls, their Unlocks; a
// deferred Unlock keeps the lock to the end). It does not enter function
// literals, which run at another time. visit sees every node of every
// simple statement and expression, in source order, with its ancestors
// within that statement (innermost last), after the locks taken before
// it.
type walker struct {
	info   *types.Info
	epoch  *int
	visit  func(n ast.Node, stack []ast.Node, s *state)
	breaks []bool // for each enclosing breakable statement: whether it is a switch or select
}

func (w *walker) body(b *ast.BlockStmt, s *state) {
	if b != nil {
		w.stmts(b.List, s)
	}
}

func (w *walker) stmts(list []ast.Stmt, s *state) {
	for _, st := range list {
		w.stmt(st, s)
	}
}

func (w *walker) stmt(st ast.Stmt, s *state) {
	if st == nil || s.dead {
		return
	}
	switch st := st.(type) {
	case *ast.BlockStmt:
		w.stmts(st.List, s)
	case *ast.LabeledStmt:
		w.stmt(st.Stmt, s)
	case *ast.IfStmt:
		w.stmt(st.Init, s)
		w.node(st.Cond, s)
		then, els := s.clone(), s.clone()
		w.stmt(st.Body, then)
		w.stmt(st.Else, els)
		s.merge(then, els)
	case *ast.ForStmt:
		w.stmt(st.Init, s)
		w.node(st.Cond, s)
		w.breaks = append(w.breaks, false)
		b := s.clone()
		w.stmt(st.Body, b)
		w.stmt(st.Post, b)
		w.breaks = w.breaks[:len(w.breaks)-1]
		if st.Cond == nil && !hasBreak(st.Body) {
			s.dead = true // for {} without break never falls through
			return
		}
		s.merge(s.clone(), b)
	case *ast.RangeStmt:
		w.visitRange(st, s)
		w.breaks = append(w.breaks, false)
		b := s.clone()
		w.stmt(st.Body, b)
		w.breaks = w.breaks[:len(w.breaks)-1]
		s.merge(s.clone(), b)
	case *ast.SwitchStmt:
		w.stmt(st.Init, s)
		w.node(st.Tag, s)
		w.clauses(st.Body, s, false)
	case *ast.TypeSwitchStmt:
		w.stmt(st.Init, s)
		w.stmt(st.Assign, s)
		w.clauses(st.Body, s, false)
	case *ast.SelectStmt:
		w.clauses(st.Body, s, true)
	case *ast.ReturnStmt:
		w.node(st, s)
		s.dead = true
	case *ast.BranchStmt:
		if st.Tok == token.BREAK && st.Label == nil && len(w.breaks) > 0 && w.breaks[len(w.breaks)-1] {
			return // leaves the switch: its clause ends here as if it fell off the end
		}
		if st.Tok != token.FALLTHROUGH {
			s.dead = true // continues elsewhere; approximated as leaving this path
		}
	case *ast.DeferStmt, *ast.GoStmt:
		// The call runs later (or elsewhere): no lock it takes is taken now.
	case *ast.ExprStmt:
		w.node(st, s)
		if isPanic(w.info, st.X) {
			s.dead = true
		}
	default: // assignments, declarations, sends, inc/dec
		w.node(st, s)
	}
}

// clauses walks the clauses of a switch or select; a switch without a
// default also falls through with the state before it.
func (w *walker) clauses(body *ast.BlockStmt, s *state, isSelect bool) {
	w.breaks = append(w.breaks, true)
	defer func() { w.breaks = w.breaks[:len(w.breaks)-1] }()
	var outs []*state
	hasDefault := isSelect
	for _, c := range body.List {
		b := s.clone()
		switch c := c.(type) {
		case *ast.CaseClause:
			if c.List == nil {
				hasDefault = true
			}
			for _, e := range c.List {
				w.node(e, b)
			}
			w.stmts(c.Body, b)
		case *ast.CommClause:
			w.stmt(c.Comm, b)
			w.stmts(c.Body, b)
		}
		outs = append(outs, b)
	}
	if !hasDefault {
		outs = append(outs, s.clone())
	}
	s.merge(outs...)
}

// visitRange shows the range statement itself to visit (so that a range
// over a map is seen as a read of it), then its operand.
func (w *walker) visitRange(st *ast.RangeStmt, s *state) {
	w.visit(st, nil, s)
	w.node(st.X, s)
}

// node visits the nodes of one simple statement or expression in source
// order, applying each Lock and Unlock call as it passes it.
func (w *walker) node(n ast.Node, s *state) {
	if n == nil || s.dead {
		return
	}
	var stack []ast.Node
	ast.Inspect(n, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		if call, ok := n.(*ast.CallExpr); ok {
			w.lockCall(call, s)
		}
		w.visit(n, stack, s)
		stack = append(stack, n)
		return true
	})
}

func (w *walker) lockCall(call *ast.CallExpr, s *state) {
	recv, d, read := maptypes.IsLockCall(w.info, call)
	if d == 0 {
		return
	}
	k := keyOf(w.info, recv)
	if d > 0 {
		*w.epoch++
		s.held[k] = hold{epoch: *w.epoch, read: read}
	} else {
		delete(s.held, k)
	}
}

// keyOf names the mutex (or any variable) e denotes.
func keyOf(info *types.Info, e ast.Expr) lockKey {
	if k, ok := symbolic(info, e); ok {
		return k
	}
	return lockKey{path: types.ExprString(e)}
}

// symbolic returns the variable at the root of e (x, x.f.g, *x, pkg.v)
// and the field path from it, or false for anything else.
func symbolic(info *types.Info, e ast.Expr) (lockKey, bool) {
	path := ""
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			obj, ok := info.ObjectOf(x).(*types.Var)
			if !ok {
				return lockKey{}, false
			}
			return lockKey{root: obj, path: path}, true
		case *ast.SelectorExpr:
			if sel := info.Selections[x]; sel != nil {
				if sel.Kind() != types.FieldVal {
					return lockKey{}, false
				}
				path = "." + x.Sel.Name + path
				e = x.X
				continue
			}
			if obj, ok := info.Uses[x.Sel].(*types.Var); ok { // pkg.v
				return lockKey{root: obj, path: path}, true
			}
			return lockKey{}, false
		case *ast.StarExpr:
			e = x.X
		default:
			return lockKey{}, false
		}
	}
}

// translate restates k, a lock named in a caller, in the terms of the
// callee reached by call: a package-level variable is itself; a path
// from the expression passed as the receiver or an argument becomes the
// same path from the callee's receiver or parameter.
func translate(info *types.Info, k lockKey, call *ast.CallExpr, fn *types.Func) (lockKey, bool) {
	if k.root == nil {
		return lockKey{}, false
	}
	if v, ok := k.root.(*types.Var); ok && !v.IsField() && v.Parent() != nil && v.Parent() == v.Pkg().Scope() {
		return k, true
	}
	sig := fn.Type().(*types.Signature)
	var pairs []struct {
		arg   ast.Expr
		param *types.Var
	}
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sig.Recv() != nil {
		pairs = append(pairs, struct {
			arg   ast.Expr
			param *types.Var
		}{sel.X, sig.Recv()})
	}
	for i, a := range call.Args {
		if i < sig.Params().Len() {
			pairs = append(pairs, struct {
				arg   ast.Expr
				param *types.Var
			}{a, sig.Params().At(i)})
		}
	}
	for _, p := range pairs {
		ak, ok := symbolic(info, p.arg)
		if !ok || ak.root != k.root || p.param.Name() == "" || p.param.Name() == "_" {
			continue
		}
		if k.path == ak.path || strings.HasPrefix(k.path, ak.path+".") {
			return lockKey{root: p.param, path: k.path[len(ak.path):]}, true
		}
	}
	return lockKey{}, false
}

func isPanic(info *types.Info, e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == "panic"
}

// hasBreak reports whether body has a break that may leave the loop it
// belongs to (an unlabeled break outside nested loops, switches and
// selects, or any labeled break).
func hasBreak(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit, *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
			ast.Inspect(n, func(m ast.Node) bool {
				if b, ok := m.(*ast.BranchStmt); ok && b.Tok == token.BREAK && b.Label != nil {
					found = true
				}
				return !found
			})
			return false
		case *ast.BranchStmt:
			if n.Tok == token.BREAK {
				found = true
			}
		}
		return !found
	})
	return found
}

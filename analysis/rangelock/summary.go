package rangelock

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// lockFact summarises, for one function, the locks a call of it takes
// before it returns and the func parameters it calls while holding one.
// Locks are named from a root (the receiver or a parameter) by a field
// path, embedded fields included, so that a caller can rename them into
// its own variables.
type lockFact struct {
	Locks    []Effect
	Calls    []Effect
	Releases []Effect
}

// Releases are the locks a call releases without taking them (the
// caller holds them, and they stay released when it returns).
//
// Effect is one entry of a lockFact. Root is -1 for the receiver and the
// parameter's index otherwise; Path the dotted field path from the root to
// the mutex ("" when the root is the mutex). For Calls, Param is the index
// of the func parameter called while the lock is held. CondParam, when not
// -1, is the index of a bool parameter that must equal CondWant for the
// lock to be taken (if needLock { mu.Lock() }).
type Effect struct {
	Root      int
	Path      string
	Read      bool
	Param     int
	CondParam int
	CondWant  bool
}

// AFact marks lockFact as a go/analysis fact.
func (*lockFact) AFact() {}

// String writes the fact as analysistest expects it: "Lock(recv.mu)",
// "RLock(p0.RWMutex) if p2", "calls p1 under RLock(recv.mu)".
func (f *lockFact) String() string {
	var parts []string
	for _, e := range f.Locks {
		parts = append(parts, e.lock())
	}
	for _, e := range f.Calls {
		parts = append(parts, fmt.Sprintf("calls p%d under %s", e.Param, e.lock()))
	}
	for _, e := range f.Releases {
		parts = append(parts, "releases "+e.lock())
	}
	return strings.Join(parts, "; ")
}

func (e Effect) lock() string {
	root := fmt.Sprintf("p%d", e.Root)
	if e.Root == -1 {
		root = "recv"
	}
	if e.Path != "" {
		root += "." + e.Path
	}
	kind := "Lock"
	if e.Read {
		kind = "RLock"
	}
	s := kind + "(" + root + ")"
	if e.CondParam >= 0 {
		not := ""
		if !e.CondWant {
			not = "!"
		}
		s += fmt.Sprintf(" if %sp%d", not, e.CondParam)
	}
	return s
}

// loc is a mutex named from a variable: root.path.
type loc struct {
	root types.Object
	path string
}

func (l loc) String() string {
	if l.path == "" {
		return l.root.Name()
	}
	return l.root.Name() + "." + l.path
}

// cond is a bool parameter that must have a value for a lock to be taken.
type cond struct {
	param types.Object
	want  bool
}

// acquire is a lock a body takes now: at pos (the call that takes it,
// directly or through a callee), written as text.
type acquire struct {
	at   loc
	read bool
	cond *cond
	call *ast.CallExpr
}

// callUnder is a call of a func-typed variable while at is held.
type callUnder struct {
	fn   types.Object
	at   loc
	read bool
	cond *cond
}

// heldLock is a lock the walk has seen taken and not yet released.
type heldLock struct {
	at    loc
	read  bool
	cond  *cond
	text  string
	relck bool // re-taken after an Unlock of a lock the function expected held
}

// effects is what walking a body found.
type effects struct {
	acquires []acquire
	calls    []callUnder
}

// analysis state shared by the walks of one package.
type state struct {
	pass  *analysis.Pass
	decls map[*types.Func]*ast.FuncDecl
	local map[*types.Func]*lockFact
}

// factOf returns the summary of fn: computed for this package, imported
// for another.
func (s *state) factOf(fn *types.Func) *lockFact {
	fn = fn.Origin()
	if f, ok := s.local[fn]; ok {
		return f
	}
	if fn.Pkg() == s.pass.Pkg {
		return nil
	}
	var f lockFact
	if s.pass.ImportObjectFact(fn, &f) {
		return &f
	}
	return nil
}

// resolve names x as root.path when x is a variable or a chain of field
// selections from one (through *, & and parentheses); ok is false
// otherwise.
func resolve(info *types.Info, x ast.Expr) (loc, bool) {
	switch e := ast.Unparen(x).(type) {
	case *ast.Ident:
		obj, ok := info.Uses[e].(*types.Var)
		if !ok {
			if d, ok := info.Defs[e].(*types.Var); ok {
				return loc{root: d}, true
			}
			return loc{}, false
		}
		return loc{root: obj}, true
	case *ast.StarExpr:
		return resolve(info, e.X)
	case *ast.UnaryExpr:
		return resolve(info, e.X)
	case *ast.SelectorExpr:
		sel := info.Selections[e]
		if sel == nil || sel.Kind() != types.FieldVal {
			return loc{}, false
		}
		base, ok := resolve(info, e.X)
		if !ok {
			return loc{}, false
		}
		names := embeddedNames(info.TypeOf(e.X), sel.Index())
		names = append(names, e.Sel.Name)
		return base.join(strings.Join(names, ".")), true
	}
	return loc{}, false
}

func (l loc) join(p string) loc {
	switch {
	case p == "":
		return l
	case l.path == "":
		return loc{l.root, p}
	}
	return loc{l.root, l.path + "." + p}
}

// embeddedNames returns the names of the embedded fields a selection with
// index path idx goes through from a value of type t (all but the last
// index).
func embeddedNames(t types.Type, idx []int) []string {
	var names []string
	for _, i := range idx[:len(idx)-1] {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		st, ok := t.Underlying().(*types.Struct)
		if !ok || i >= st.NumFields() {
			return names
		}
		f := st.Field(i)
		names = append(names, f.Name())
		t = f.Type()
	}
	return names
}

// lockLoc resolves the mutex a Lock/Unlock call acts on: x.Lock() names
// x, and the embedded fields the method is promoted through.
func lockLoc(info *types.Info, call *ast.CallExpr) (loc, bool) {
	sel := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	base, ok := resolve(info, sel.X)
	if !ok {
		return loc{}, false
	}
	s := info.Selections[sel]
	return base.join(strings.Join(embeddedNames(info.TypeOf(sel.X), s.Index()), ".")), true
}

// walker scans a body in source order, tracking the locks held.
type walker struct {
	s        *state
	params   map[types.Object]bool // bool parameters that may guard a Lock
	held     []heldLock
	expected map[loc]bool // unlocked without being taken: the caller holds them
	unlocks  []heldLock   // those unlocks, in order
	stack    []ast.Node
	joins    map[ast.Node]*join // branching statements and loops being walked
	branches map[ast.Node]*join // their branch blocks and loop bodies
	out      effects
	// onAcquire, when set, is told of each acquisition with the locks held
	// just before it and whether it is inside a range statement's body.
	onAcquire func(a acquire, held []heldLock, inRange bool)
	// onCall, when set, is told of each call with the locks held.
	onCall func(call *ast.CallExpr, held []heldLock)
}

// join is the lock state around a branching statement (if, switch,
// select) or a loop: each branch starts from the locks held before it,
// and after it only the locks held at the end of every branch that falls
// through (and before it, since a branch may not run) are held.
type join struct {
	loop    bool
	started bool
	before  []heldLock
	result  []heldLock
}

// walk scans body. Function literals (they run later, or when called),
// go statements (the goroutine runs later) and deferred calls (they run at
// return) are skipped, except that a deferred Unlock is not a release.
//
// The locks held are those held on every path: a branch that returns or
// continues does not release or take a lock for the code after it, and a
// lock taken in one branch only (or in a loop body that may not run) is
// not held after it, unless a bool parameter guards it (if needLock
// { mu.Lock() }), which the lock's condition records.
func (w *walker) walk(body ast.Node) {
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil {
			w.leave(w.stack[len(w.stack)-1])
			w.stack = w.stack[:len(w.stack)-1]
			return true
		}
		switch n.(type) {
		case *ast.FuncLit, *ast.GoStmt, *ast.DeferStmt:
			return false
		}
		w.enter(n)
		if call, ok := n.(*ast.CallExpr); ok {
			w.call(call)
		}
		w.stack = append(w.stack, n)
		return true
	})
}

// enter records n when it is a branching statement, a loop, or one of
// their branches, and restores the locks held where a branch starts.
func (w *walker) enter(n ast.Node) {
	switch n.(type) {
	case *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
		w.addJoin(n, false)
	case *ast.ForStmt, *ast.RangeStmt:
		w.addJoin(n, true)
	}
	var j *join
	if k := len(w.stack); k > 0 {
		switch p := w.stack[k-1].(type) {
		case *ast.IfStmt:
			if n == p.Body || n == p.Else {
				j = w.joins[p]
			}
		case *ast.ForStmt:
			if n == p.Body {
				j = w.joins[p]
			}
		case *ast.RangeStmt:
			if n == p.Body {
				j = w.joins[p]
			}
		case *ast.BlockStmt:
			switch n.(type) {
			case *ast.CaseClause, *ast.CommClause:
				if k > 1 {
					j = w.joins[w.stack[k-2]]
				}
			}
		}
	}
	if j == nil {
		return
	}
	if !j.started {
		j.started = true
		j.before = slices.Clone(w.held)
		j.result = slices.Clone(w.held)
	}
	w.held = slices.Clone(j.before)
	if w.branches == nil {
		w.branches = map[ast.Node]*join{}
	}
	w.branches[n] = j
}

func (w *walker) addJoin(n ast.Node, loop bool) {
	if w.joins == nil {
		w.joins = map[ast.Node]*join{}
	}
	w.joins[n] = &join{loop: loop}
}

// leave merges the locks held at the end of a branch into its statement's
// result, and sets the locks held after a branching statement or loop.
func (w *walker) leave(n ast.Node) {
	// An else-if is both a branching statement and a branch of the
	// outer if: its own result first.
	if j := w.joins[n]; j != nil && !j.loop && j.started {
		w.held = j.result
	}
	if j := w.branches[n]; j != nil {
		if !terminates(n) {
			j.result = meet(j.result, j.before, w.held)
		}
		if j.loop {
			w.held = j.result
		}
	}
}

// meet returns the locks of result also held in end, plus those a bool
// parameter guards that end took beyond before.
func meet(result, before, end []heldLock) []heldLock {
	var out []heldLock
	has := func(hs []heldLock, h heldLock) bool {
		return slices.ContainsFunc(hs, func(x heldLock) bool { return x.at == h.at && x.read == h.read })
	}
	for _, h := range result {
		if has(end, h) {
			out = append(out, h)
		}
	}
	for _, h := range end {
		if h.cond != nil && !has(before, h) && !has(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// terminates reports whether a branch ends by leaving the function or the
// loop iteration (return, continue, panic), so that its locks never reach
// the code after its statement. A break is not counted: it reaches the
// code after the loop or switch.
func terminates(n ast.Node) bool {
	var list []ast.Stmt
	switch b := n.(type) {
	case *ast.BlockStmt:
		list = b.List
	case *ast.CaseClause:
		list = b.Body
	case *ast.CommClause:
		list = b.Body
	}
	if len(list) == 0 {
		return false
	}
	switch s := list[len(list)-1].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.BranchStmt:
		return s.Tok.String() == "continue"
	case *ast.ExprStmt:
		if c, ok := s.X.(*ast.CallExpr); ok {
			if id, ok := ast.Unparen(c.Fun).(*ast.Ident); ok && id.Name == "panic" {
				return true
			}
		}
	}
	return false
}

// condition returns the bool parameter guarding the node on top of the
// stack, if any.
func (w *walker) condition() *cond {
	for i := len(w.stack) - 2; i >= 0; i-- {
		ifs, ok := w.stack[i].(*ast.IfStmt)
		if !ok {
			continue
		}
		want := true
		switch w.stack[i+1] {
		case ifs.Body:
		case ifs.Else:
			want = false
		default:
			continue
		}
		x := ast.Unparen(ifs.Cond)
		if u, ok := x.(*ast.UnaryExpr); ok && u.Op.String() == "!" {
			want = !want
			x = ast.Unparen(u.X)
		}
		if id, ok := x.(*ast.Ident); ok {
			if obj := w.s.pass.TypesInfo.Uses[id]; obj != nil && w.params[obj] {
				return &cond{obj, want}
			}
		}
	}
	return nil
}

func (w *walker) inRange() bool {
	for i := len(w.stack) - 1; i >= 1; i-- {
		if rs, ok := w.stack[i-1].(*ast.RangeStmt); ok && w.stack[i] == rs.Body {
			return true
		}
	}
	return false
}

func (w *walker) call(call *ast.CallExpr) {
	info := w.s.pass.TypesInfo
	if w.onCall != nil {
		w.onCall(call, slices.Clone(w.held))
	}
	if _, d, read := maptypes.IsLockCall(info, call); d != 0 {
		l, ok := lockLoc(info, call)
		if !ok {
			return
		}
		if d < 0 {
			w.release(l, read)
			return
		}
		text := types.ExprString(ast.Unparen(call.Fun).(*ast.SelectorExpr).X)
		h := heldLock{at: l, read: read, cond: w.condition(), text: text, relck: w.expected[l]}
		if !h.relck {
			w.acquired(acquire{at: l, read: read, cond: h.cond, call: call})
		}
		w.held = append(w.held, h)
		return
	}
	// A call of a func-typed variable (a parameter, usually).
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
		if v, ok := info.Uses[id].(*types.Var); ok {
			if _, ok := v.Type().Underlying().(*types.Signature); ok {
				for _, h := range w.held {
					w.out.calls = append(w.out.calls, callUnder{fn: v, at: h.at, read: h.read, cond: h.cond})
				}
			}
		}
		if _, ok := info.Uses[id].(*types.Var); ok {
			return
		}
	}
	fn, recv := callee(info, call)
	if fn == nil {
		return
	}
	f := w.s.factOf(fn)
	if f == nil {
		return
	}
	c := w.condition()
	for _, e := range f.Locks {
		l, ok := argLoc(info, call, recv, e)
		if !ok {
			continue
		}
		ec := c
		if ec == nil {
			ec = w.argCond(call, e)
		}
		if ec == nil && condUnknown(info, call, e) {
			ec = &cond{} // depends on a value we cannot see
		}
		w.acquired(acquire{at: l, read: e.Read, cond: ec, call: call})
	}
	for _, e := range f.Releases {
		if l, ok := argLoc(info, call, recv, e); ok && e.CondParam < 0 {
			w.release(l, e.Read)
		}
	}
	// Func parameters of ours passed on to a callee that calls them under
	// one of its locks.
	for _, e := range f.Calls {
		if e.Param >= len(call.Args) {
			continue
		}
		id, ok := ast.Unparen(call.Args[e.Param]).(*ast.Ident)
		if !ok {
			continue
		}
		v, ok := info.Uses[id].(*types.Var)
		if !ok {
			continue
		}
		if l, ok := argLoc(info, call, recv, e); ok {
			w.out.calls = append(w.out.calls, callUnder{fn: v, at: l, read: e.Read, cond: c})
		}
	}
}

// release records an unlock of l: of a lock the walk holds, or else of
// one the caller is expected to hold.
func (w *walker) release(l loc, read bool) {
	for i, h := range w.held {
		if h.at == l && h.read == read {
			w.held = slices.Delete(w.held, i, i+1)
			return
		}
	}
	if w.expected == nil {
		w.expected = map[loc]bool{}
	}
	w.expected[l] = true
	w.unlocks = append(w.unlocks, heldLock{at: l, read: read})
}

// argCond turns a callee's condition on its parameter into one on ours
// when we pass our own bool parameter through.
func (w *walker) argCond(call *ast.CallExpr, e Effect) *cond {
	if e.CondParam < 0 || e.CondParam >= len(call.Args) {
		return nil
	}
	if id, ok := ast.Unparen(call.Args[e.CondParam]).(*ast.Ident); ok {
		if obj := w.s.pass.TypesInfo.Uses[id]; obj != nil && w.params[obj] {
			return &cond{obj, e.CondWant}
		}
	}
	return nil
}

func (w *walker) acquired(a acquire) {
	if w.onAcquire != nil {
		w.onAcquire(a, slices.Clone(w.held), w.inRange())
	}
	w.out.acquires = append(w.out.acquires, a)
}

// callee returns the function or method a call invokes statically, and
// the receiver expression of a method call.
func callee(info *types.Info, call *ast.CallExpr) (*types.Func, ast.Expr) {
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		fn, _ := info.Uses[f].(*types.Func)
		return fn, nil
	case *ast.IndexExpr: // generic function instantiated explicitly
		if id, ok := ast.Unparen(f.X).(*ast.Ident); ok {
			fn, _ := info.Uses[id].(*types.Func)
			return fn, nil
		}
	case *ast.SelectorExpr:
		fn, ok := info.Uses[f.Sel].(*types.Func)
		if !ok {
			return nil, nil
		}
		if s := info.Selections[f]; s != nil && s.Kind() == types.MethodVal {
			if _, isIface := s.Recv().Underlying().(*types.Interface); isIface {
				return nil, nil
			}
			return fn, f.X
		}
		return fn, nil // a package-qualified function
	}
	return nil, nil
}

// condUnknown reports whether e is conditional on a parameter whose
// argument at call is not a constant.
func condUnknown(info *types.Info, call *ast.CallExpr, e Effect) bool {
	if e.CondParam < 0 || e.CondParam >= len(call.Args) {
		return false
	}
	tv, ok := info.Types[call.Args[e.CondParam]]
	return !ok || tv.Value == nil || tv.Value.Kind() != constant.Bool
}

// argLoc renames a callee's effect into the caller's variables: the
// receiver expression or the argument for the effect's root, unless the
// effect's condition is a constant the call does not meet.
func argLoc(info *types.Info, call *ast.CallExpr, recv ast.Expr, e Effect) (loc, bool) {
	if e.CondParam >= 0 && e.CondParam < len(call.Args) {
		if tv, ok := info.Types[call.Args[e.CondParam]]; ok && tv.Value != nil && tv.Value.Kind() == constant.Bool {
			if constant.BoolVal(tv.Value) != e.CondWant {
				return loc{}, false
			}
		}
	}
	var x ast.Expr
	switch {
	case e.Root == -1:
		x = recv
	case e.Root < len(call.Args):
		x = call.Args[e.Root]
	}
	if x == nil {
		return loc{}, false
	}
	base, ok := resolve(info, x)
	if !ok {
		return loc{}, false
	}
	return base.join(e.Path), true
}

// summarize computes the fact of one function declaration.
func (s *state) summarize(fd *ast.FuncDecl) *lockFact {
	info := s.pass.TypesInfo
	index := map[types.Object]int{}
	params := map[types.Object]bool{}
	if fd.Recv != nil {
		for _, f := range fd.Recv.List {
			for _, n := range f.Names {
				index[info.Defs[n]] = -1
			}
		}
	}
	i := 0
	for _, f := range fd.Type.Params.List {
		if len(f.Names) == 0 {
			i++
			continue
		}
		for _, n := range f.Names {
			obj := info.Defs[n]
			index[obj] = i
			if b, ok := obj.Type().Underlying().(*types.Basic); ok && b.Kind() == types.Bool {
				params[obj] = true
			}
			i++
		}
	}
	w := &walker{s: s, params: params}
	w.walk(fd.Body)
	f := &lockFact{}
	condOf := func(c *cond) (int, bool) {
		if c == nil {
			return -1, false
		}
		return index[c.param], c.want
	}
	for _, a := range w.out.acquires {
		r, ok := index[a.at.root]
		if !ok {
			continue
		}
		if a.cond != nil && a.cond.param == nil {
			continue // taken or not depending on a value we cannot see
		}
		cp, cw := condOf(a.cond)
		e := Effect{Root: r, Path: a.at.path, Read: a.read, Param: -1, CondParam: cp, CondWant: cw}
		if !slices.Contains(f.Locks, e) {
			f.Locks = append(f.Locks, e)
		}
	}
	// The caller's locks released and not taken again before the end.
	for _, u := range w.unlocks {
		r, ok := index[u.at.root]
		if !ok || slices.ContainsFunc(w.held, func(h heldLock) bool { return h.at == u.at && h.read == u.read }) {
			continue
		}
		e := Effect{Root: r, Path: u.at.path, Read: u.read, Param: -1, CondParam: -1}
		if !slices.Contains(f.Releases, e) {
			f.Releases = append(f.Releases, e)
		}
	}
	for _, c := range w.out.calls {
		r, ok := index[c.at.root]
		p, isParam := index[c.fn]
		if !ok || !isParam || p < 0 {
			continue
		}
		cp, cw := condOf(c.cond)
		e := Effect{Root: r, Path: c.at.path, Read: c.read, Param: p, CondParam: cp, CondWant: cw}
		if !slices.Contains(f.Calls, e) {
			f.Calls = append(f.Calls, e)
		}
	}
	return f
}

// summarizeAll computes the facts of the package's functions, repeating
// until they stop changing (a callee declared after its caller, or
// recursion), and exports the non-empty ones.
func (s *state) summarizeAll() {
	s.local = map[*types.Func]*lockFact{}
	fns := make([]*types.Func, 0, len(s.decls))
	for fn := range s.decls {
		fns = append(fns, fn)
	}
	slices.SortFunc(fns, func(a, b *types.Func) int { return int(a.Pos() - b.Pos()) })
	for round := 0; round < 8; round++ {
		changed := false
		for _, fn := range fns {
			fd := s.decls[fn]
			if fd.Body == nil {
				continue
			}
			f := s.summarize(fd)
			old := s.local[fn]
			if old == nil || !equalFacts(old, f) {
				s.local[fn] = f
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for _, fn := range fns {
		if f := s.local[fn]; f != nil && (len(f.Locks) > 0 || len(f.Calls) > 0 || len(f.Releases) > 0) {
			s.pass.ExportObjectFact(fn, f)
		}
	}
}

func equalFacts(a, b *lockFact) bool {
	return slices.Equal(a.Locks, b.Locks) && slices.Equal(a.Calls, b.Calls) && slices.Equal(a.Releases, b.Releases)
}

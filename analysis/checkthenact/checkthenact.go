package checkthenact

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"slices"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports Load-then-Store and Load-then-Delete of one key, and
// a read then a write of one key on a self-locking map type.
var Analyzer = &analysis.Analyzer{
	Name:      "checkthenact",
	Doc:       "report a Load followed by a Store or Delete of the same key on a concurrent map, with no lock held in between",
	URL:       "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/checkthenact",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       run,
	FactTypes: []analysis.Fact{(*lockedOp)(nil)},
}

// load is a read of a key (a Load, or a read method of a self-locking
// map type) not yet followed by a write.
type load struct {
	call   *ast.CallExpr
	recv   ast.Expr
	key    ast.Expr
	method string          // the read's name
	op     *lockedOp       // the read's fact, for a self-locking type; nil for a concurrent map
	held   map[lockKey]int // write locks held at the read, by acquisition
	// bound are the variables the read's value is bound to, vals those
	// and the locals computed from them; used records whether one of vals
	// was read on the way from the read to this point of the path.
	bound []types.Object
	vals  map[types.Object]bool
	used  bool
}

func run(pass *analysis.Pass) (any, error) {
	epoch := 0
	exportLockedOps(pass, &epoch)
	decls := maptypes.FuncDecls(pass.Files, pass.TypesInfo)
	entry := entryLocks(pass, decls, &epoch)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	f := &fills{pass: pass, memo: map[*types.Var]bool{}}
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		var (
			body  *ast.BlockStmt
			held  []lockKey
			owner types.Object
		)
		switch f := n.(type) {
		case *ast.FuncDecl:
			body = f.Body
			if fn, ok := pass.TypesInfo.Defs[f.Name].(*types.Func); ok {
				held = entry[fn]
			}
			owner = loopConfined(pass.TypesInfo, f)
		case *ast.FuncLit:
			body = f.Body
		}
		if body != nil {
			checkBody(pass, f, body, held, owner, &epoch)
		}
	})
	return nil, nil
}

// checkBody walks one function body (not entering nested function
// literals, which are checked on their own) and reports each write that
// follows a read of the same key on the same map, on some path, unless
// one write lock is held from before the read to after the write without
// being released in between. entry are the locks every caller holds.
// A read of a map reached through owner, the receiver of a method
// documented as running on its receiver's own loop, is not a check.
func checkBody(pass *analysis.Pass, f *fills, body *ast.BlockStmt, entry []lockKey, owner types.Object, epoch *int) {
	s := &state{held: map[lockKey]hold{}}
	for _, k := range entry {
		*epoch++
		s.held[k] = hold{epoch: *epoch}
	}
	w := &walker{info: pass.TypesInfo, epoch: epoch}
	w.visit = func(n ast.Node, stack []ast.Node, s *state) {
		if id, ok := n.(*ast.Ident); ok {
			if obj := pass.TypesInfo.Uses[id]; obj != nil {
				for i := range s.pending {
					if s.pending[i].vals[obj] {
						s.pending[i].used = true
					}
				}
			}
			return
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return
		}
		parent := ast.Node(nil)
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		recv, method, kind := maptypes.MethodCall(pass.TypesInfo, call)
		if recv == nil || len(call.Args) == 0 {
			return
		}
		var op *lockedOp
		if kind == maptypes.None {
			op = methodFact(pass, call)
			if op == nil || op.Key >= len(call.Args) {
				return
			}
		}
		key := call.Args[0]
		if op != nil {
			key = call.Args[op.Key]
		}
		switch {
		case op != nil && !op.Write, op == nil && isLoad(kind, method):
			if discarded(parent) {
				return // a read whose result nobody looks at checks nothing
			}
			if ownedBy(pass.TypesInfo, recv, owner) {
				return // the receiver's own loop is the only writer here
			}
			// A read of the key supersedes an earlier one on this path: the
			// write acts on what the latest check saw (double-checked
			// locking: a lock-free Load, then Lock and Load again).
			s.pending = slices.DeleteFunc(s.pending, func(l load) bool {
				return (l.op == nil) == (op == nil) && maptypes.SameExpr(pass.TypesInfo, l.recv, recv) && sameKey(pass, l.key, key)
			})
			l := load{call: call, recv: recv, key: key, method: method, op: op, held: s.writeHeld()}
			if op == nil {
				l.bound = loadValue(pass.TypesInfo, parent, call)
				l.vals = derived(pass.TypesInfo, body, l.bound)
			}
			s.pending = append(s.pending, l)
		case op != nil && op.Write, op == nil && (isStore(kind, method) || isDelete(kind, method)):
			for _, l := range s.pending {
				if (l.op == nil) != (op == nil) || !maptypes.SameExpr(pass.TypesInfo, l.recv, recv) || !sameKey(pass, l.key, key) {
					continue
				}
				if op != nil && (l.op.Lock != op.Lock || !overlap(l.op.Maps, op.Maps)) {
					continue
				}
				if heldAcross(l.held, s) {
					continue
				}
				if op == nil && isDelete(kind, method) && !mentions(pass.TypesInfo, body, setOf(l.bound)) {
					continue // a presence check, then an idempotent Delete: nothing is lost
				}
				if op == nil && isStore(kind, method) && isFill(pass, f, l, call, recv) {
					continue
				}
				report(pass, l, call, method, kind)
				break
			}
		}
	}
	w.body(body, s)
}

// methodFact returns the lockedOp fact of the method call calls, if any.
func methodFact(pass *analysis.Pass, call *ast.CallExpr) *lockedOp {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	s := pass.TypesInfo.Selections[sel]
	if s == nil || s.Kind() != types.MethodVal {
		return nil
	}
	fn, ok := s.Obj().(*types.Func)
	if !ok {
		return nil
	}
	var f lockedOp
	if !pass.ImportObjectFact(fn.Origin(), &f) {
		return nil
	}
	return &f
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// heldAcross reports whether a write lock held at a read (by acquisition)
// is still held, by the same acquisition, now.
func heldAcross(atRead map[lockKey]int, now *state) bool {
	for k, e := range atRead {
		if h, ok := now.held[k]; ok && !h.read && h.epoch == e {
			return true
		}
	}
	return false
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
	if l.op != nil {
		maptypes.Report(pass, analysis.Diagnostic{
			Pos: write.Pos(),
			End: write.End(),
			Message: fmt.Sprintf("%s of %s after %s of the same key at line %d, with no lock held across both: each call locks %s on its own, so another goroutine can write the key in between; check and write in one method under one lock",
				method, exprText(l.recv), l.method, pass.Fset.Position(l.call.Pos()).Line, heldName(exprText(l.recv), l.op.Lock)),
		})
		return
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

// heldName names the mutex at path from the value recv, for messages.
func heldName(recv, path string) string {
	if path == "" {
		return recv + "'s mutex"
	}
	return recv + path
}

func exprText(e ast.Expr) string {
	var b bytes.Buffer
	format.Node(&b, token.NewFileSet(), e)
	return b.String()
}

// mechanicalFix rewrites the shape whose atomic form is one call:
//
//	if _, ok := m.Load(k); !ok { m.Store(k, v) }  =>  m.LoadOrStore(k, v)
//
// (The presence check then Delete, whose form would be LoadAndDelete, is
// not reported: see fill.go.)
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
	default:
		return analysis.SuggestedFix{}, false
	}
	return analysis.SuggestedFix{
		Message:   "Replace the check and the write with " + newCall,
		TextEdits: []analysis.TextEdit{{Pos: ifs.Pos(), End: ifs.End(), NewText: []byte(newCall)}},
	}, true
}

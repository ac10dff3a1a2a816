package rangelock

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports self-deadlocking writes in iterations and callbacks.
var Analyzer = &analysis.Analyzer{
	Name:      "rangelock",
	Doc:       "report writes that deadlock because the surrounding iteration or callback holds the lock they need",
	URL:       "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/rangelock",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	FactTypes: []analysis.Fact{new(lockFact)},
	Run:       run,
}

func run(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	s := &state{pass: pass, decls: maptypes.FuncDecls(pass.Files, pass.TypesInfo)}
	s.summarizeAll()
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		var body *ast.BlockStmt
		switch f := n.(type) {
		case *ast.FuncDecl:
			body = f.Body
		case *ast.FuncLit:
			body = f.Body
		}
		if body == nil {
			return
		}
		w := &walker{s: s}
		w.onAcquire = func(a acquire, held []heldLock, inRange bool) {
			if inRange {
				reportSelfLock(pass, a, held)
			}
		}
		w.onCall = func(call *ast.CallExpr, _ []heldLock) {
			checkCallbackArgs(s, call)
		}
		w.walk(body)
	})
	ins.Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		checkCallback(pass, n.(*ast.CallExpr))
	})
	return nil, nil
}

// conflicts reports whether taking a (read if read) deadlocks while h is
// held by the same goroutine: any lock under a write lock, a write lock
// under a read lock.
func conflicts(at loc, read bool, h heldLock) bool {
	return h.at == at && !(read && h.read)
}

func lockKind(read bool) string {
	if read {
		return "read lock"
	}
	return "write lock"
}

// reportSelfLock reports a, taken inside a range body, when the goroutine
// already holds the same mutex.
func reportSelfLock(pass *analysis.Pass, a acquire, held []heldLock) {
	for _, h := range held {
		if !conflicts(a.at, a.read, h) {
			continue
		}
		if _, d, _ := maptypes.IsLockCall(pass.TypesInfo, a.call); d > 0 {
			maptypes.Reportf(pass, a.call.Pos(), "%s inside a range over data guarded by %s, whose %s this goroutine holds: self-deadlock; release it before locking, or collect the changes and apply them after the loop",
				types.ExprString(a.call.Fun), h.text, lockKind(h.read))
		} else {
			maptypes.Reportf(pass, a.call.Pos(), "%s locks %s, whose %s this goroutine holds around the range: self-deadlock",
				types.ExprString(a.call.Fun), h.text, lockKind(h.read))
		}
		return
	}
}

// checkCallbackArgs reports a callback passed to a function that calls it
// while holding a lock (an iterator helper such as Each or Foreach), when
// the callback takes the same lock: directly, or through a method of the
// value that owns it.
func checkCallbackArgs(s *state, call *ast.CallExpr) {
	info := s.pass.TypesInfo
	fn, recv := callee(info, call)
	if fn == nil {
		return
	}
	f := s.factOf(fn)
	if f == nil {
		return
	}
	for _, e := range f.Calls {
		if e.Param >= len(call.Args) {
			continue
		}
		held, ok := argLoc(info, call, recv, e)
		if !ok {
			continue
		}
		h := heldLock{at: held, read: e.Read}
		why := fmt.Sprintf("whose %s %s holds while it calls this callback: self-deadlock; collect the changes in the callback and apply them after %s returns",
			lockKind(e.Read), fn.Name(), fn.Name())
		switch arg := ast.Unparen(call.Args[e.Param]).(type) {
		case *ast.FuncLit:
			w := &walker{s: s}
			w.walk(arg.Body)
			for _, a := range w.out.acquires {
				if conflicts(a.at, a.read, h) {
					maptypes.Reportf(s.pass, a.call.Pos(), "%s locks %s, %s", types.ExprString(a.call.Fun), held, why)
				}
			}
		case *ast.SelectorExpr: // a method value
			sel := info.Selections[arg]
			m, ok := info.Uses[arg.Sel].(*types.Func)
			if sel == nil || sel.Kind() != types.MethodVal || !ok {
				continue
			}
			mf := s.factOf(m)
			if mf == nil {
				continue
			}
			for _, me := range mf.Locks {
				if me.Root != -1 || me.CondParam >= 0 {
					continue
				}
				l, ok := resolve(info, arg.X)
				if ok && conflicts(l.join(me.Path), me.Read, h) {
					maptypes.Reportf(s.pass, arg.Pos(), "%s locks %s, %s", types.ExprString(arg), held, why)
					break
				}
			}
		}
	}
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

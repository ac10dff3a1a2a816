package rangelock

import (
	"go/ast"
	"go/build"
	"go/types"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports self-deadlocking locks in iterations and callbacks, and
// recursive read locking.
var Analyzer = &analysis.Analyzer{
	Name:      "rangelock",
	Doc:       "report locks that deadlock because the surrounding iteration or callback holds the lock they need, and recursive read locks",
	URL:       "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/rangelock",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	FactTypes: []analysis.Fact{new(lockFact)},
	Run:       run,
}

func run(pass *analysis.Pass) (any, error) {
	if inGOROOT(pass) {
		// The standard library's locks are its own: no caller holds them
		// (sync.Map's internal mutex), and none of its functions calls a
		// callback under a lock. Skipping it keeps facts and time down.
		return nil, nil
	}
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
		var found findings
		w := &walker{s: s}
		w.onAcquire = func(a acquire, held []heldLock, inRange bool) {
			for _, h := range held {
				switch {
				case inRange && conflicts(a.at, a.read, h):
					found.add(a, h)
					return
				case recursiveRead(a, h):
					found.add(a, h)
					return
				}
			}
		}
		w.onCall = func(call *ast.CallExpr, _ []heldLock) {
			checkCallbackArgs(s, call)
		}
		w.walk(body)
		for _, f := range found {
			reportSelfLock(pass, f)
		}
	})
	ins.Preorder([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node) {
		checkCallback(pass, n.(*ast.CallExpr))
	})
	return nil, nil
}

// goroot is the standard library's source directory.
var goroot = filepath.Join(build.Default.GOROOT, "src") + string(filepath.Separator)

// inGOROOT reports whether the package is part of the standard library.
func inGOROOT(pass *analysis.Pass) bool {
	if len(pass.Files) == 0 {
		return false
	}
	return strings.HasPrefix(pass.Fset.File(pass.Files[0].Pos()).Name(), goroot)
}

// conflicts reports whether taking a (read if read) deadlocks while h is
// held by the same goroutine: any lock under a write lock, a write lock
// under a read lock.
func conflicts(at loc, read bool, h heldLock) bool {
	return h.at == at && !(read && h.read)
}

// recursiveRead reports whether a read-locks a mutex whose read lock the
// goroutine holds unconditionally: sync.RWMutex forbids it, since a Lock
// waiting in between blocks the second RLock, and the Lock waits for the
// first.
func recursiveRead(a acquire, h heldLock) bool {
	return a.read && h.read && h.at == a.at && a.cond == nil && h.cond == nil
}

func lockKind(read bool) string {
	if read {
		return "read lock"
	}
	return "write lock"
}

// finding is one call that takes a lock the goroutine holds: the read
// and write locks it takes of held.
type finding struct {
	call *ast.CallExpr
	held heldLock
	// deadlock: a lock that waits for held (a write lock under any lock,
	// any lock under a write lock); recursive: a second read lock.
	deadlock, recursive bool
}

type findings []finding

// add records a under h, merging the locks one call takes (a method that
// read-locks, then write-locks).
func (fs *findings) add(a acquire, h heldLock) {
	d, r := conflicts(a.at, a.read, h), recursiveRead(a, h)
	for i := range *fs {
		f := &(*fs)[i]
		if f.call == a.call && f.held.at == h.at {
			f.deadlock = f.deadlock || d
			f.recursive = f.recursive || r
			return
		}
	}
	*fs = append(*fs, finding{call: a.call, held: h, deadlock: d, recursive: r})
}

// recursiveRisk says why a second read lock deadlocks.
const recursiveRisk = "recursive read locking, forbidden by sync.RWMutex: it deadlocks as soon as another goroutine calls Lock in between (a blocked Lock call excludes new readers)"

// reportSelfLock reports a call that locks a mutex the goroutine holds:
// a lock inside a range body under the same mutex, or a second read lock.
func reportSelfLock(pass *analysis.Pass, f finding) {
	fun := types.ExprString(f.call.Fun)
	_, d, _ := maptypes.IsLockCall(pass.TypesInfo, f.call)
	switch {
	case f.deadlock && d > 0:
		maptypes.Reportf(pass, f.call.Pos(), "%s inside a range over data guarded by %s, whose %s this goroutine holds: self-deadlock; release it before locking, or collect the changes and apply them after the loop",
			fun, f.held.text, lockKind(f.held.read))
	case f.deadlock && f.recursive:
		maptypes.Reportf(pass, f.call.Pos(), "%s read-locks and write-locks %s, whose read lock this goroutine holds around the range: the write lock is a self-deadlock, the read lock %s",
			fun, f.held.text, recursiveRisk)
	case f.deadlock:
		maptypes.Reportf(pass, f.call.Pos(), "%s locks %s, whose %s this goroutine holds around the range: self-deadlock",
			fun, f.held.text, lockKind(f.held.read))
	case d > 0:
		maptypes.Reportf(pass, f.call.Pos(), "%s read-locks %s again while this goroutine holds its read lock: %s; take the read lock once",
			fun, f.held.text, recursiveRisk)
	default:
		maptypes.Reportf(pass, f.call.Pos(), "%s read-locks %s, whose read lock this goroutine already holds: %s; call a variant that expects the lock held",
			fun, f.held.text, recursiveRisk)
	}
}

// checkCallbackArgs reports a callback passed to a function that calls it
// while holding a lock (an iterator helper such as Each or Foreach), when
// the callback takes the same lock: for writing, or for reading again,
// directly or through a method of the value that owns it.
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
		if e.Param >= len(call.Args) || condUnknown(info, call, e) {
			continue
		}
		held, ok := argLoc(info, call, recv, e)
		if !ok {
			continue
		}
		h := heldLock{at: held, read: e.Read}
		report := func(pos ast.Node, fun string, deadlock, recursive bool) {
			name := fn.Name()
			switch {
			case deadlock && recursive:
				maptypes.Reportf(s.pass, pos.Pos(), "%s read-locks and write-locks %s, whose read lock %s holds while it calls this callback: the write lock is a self-deadlock, the read lock %s; collect the changes in the callback and apply them after %s returns",
					fun, held, name, recursiveRisk, name)
			case deadlock:
				maptypes.Reportf(s.pass, pos.Pos(), "%s locks %s, whose %s %s holds while it calls this callback: self-deadlock; collect the changes in the callback and apply them after %s returns",
					fun, held, lockKind(e.Read), name, name)
			default:
				maptypes.Reportf(s.pass, pos.Pos(), "%s read-locks %s, whose read lock %s holds while it calls this callback: %s; use the values %s passes, or read after %s returns",
					fun, held, name, recursiveRisk, name, name)
			}
		}
		switch arg := ast.Unparen(call.Args[e.Param]).(type) {
		case *ast.FuncLit:
			w := &walker{s: s}
			var found findings
			w.onAcquire = func(a acquire, _ []heldLock, _ bool) {
				if conflicts(a.at, a.read, h) || recursiveRead(a, h) {
					found.add(a, h)
				}
			}
			w.walk(arg.Body)
			for _, f := range found {
				report(f.call, types.ExprString(f.call.Fun), f.deadlock, f.recursive)
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
			var deadlock, recursive bool
			for _, me := range mf.Locks {
				if me.Root != -1 || me.CondParam >= 0 {
					continue
				}
				l, ok := resolve(info, arg.X)
				if !ok {
					continue
				}
				a := acquire{at: l.join(me.Path), read: me.Read}
				deadlock = deadlock || conflicts(a.at, a.read, h)
				recursive = recursive || recursiveRead(a, h)
			}
			if deadlock || recursive {
				report(arg, types.ExprString(arg), deadlock, recursive)
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

package checkthenact

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// lockedOp is the fact that a method of a self-locking map type (one
// whose exported methods all take the value's own mutex around every
// access to a map field) reads or blindly writes one key of that map,
// under that mutex, and releases it before returning. Two such calls in
// a row are two critical sections, as a sync.Map Load and Store are.
type lockedOp struct {
	Write bool     // stores the key without reading it; else only reads it and returns a result
	Key   int      // index of the key parameter
	Param string   // its name, for messages
	Maps  []string // the map fields, as .items
	Lock  string   // the mutex, as .mu ("" for an embedded one)
}

// AFact marks lockedOp as a fact.
func (*lockedOp) AFact() {}

func (f *lockedOp) String() string {
	verb := "reads"
	if f.Write {
		verb = "writes"
	}
	return fmt.Sprintf("%s %s[%s] under %s", verb, strings.Join(f.Maps, ","), f.Param, lockName(f.Lock))
}

func lockName(path string) string {
	if path == "" {
		return "its embedded mutex"
	}
	return strings.TrimPrefix(path, ".")
}

// access is one use of a map field reached from a method's receiver.
type access struct {
	method *types.Func
	path   string   // .items
	key    ast.Expr // the index, nil for a use of the whole map (len, range)
	write  bool     // assigns (or deletes) the key, or replaces the map
	read   bool     // reads the key or the map
	assign bool     // a plain assignment m[k] = v
	locks  map[string]bool
	wlocks map[string]bool // the write-locked subset
}

// exportLockedOps finds the package's self-locking map types and exports
// a lockedOp fact on each of their methods that reads or blindly writes
// one key of the map under the type's mutex.
func exportLockedOps(pass *analysis.Pass, epoch *int) {
	byType := map[*types.TypeName][]access{}
	decls := map[*types.Func]*ast.FuncDecl{}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Body == nil || len(fd.Recv.List) != 1 || len(fd.Recv.List[0].Names) != 1 {
				continue
			}
			fn, _ := pass.TypesInfo.Defs[fd.Name].(*types.Func)
			recv, _ := pass.TypesInfo.Defs[fd.Recv.List[0].Names[0]].(*types.Var)
			tn := recvTypeName(recv)
			if fn == nil || recv == nil || tn == nil {
				continue
			}
			decls[fn] = fd
			byType[tn] = append(byType[tn], methodAccesses(pass, fn, recv, fd, epoch)...)
		}
	}
	for _, accs := range byType {
		maps := map[string][]access{}
		for _, a := range accs {
			maps[a.path] = append(maps[a.path], a)
		}
		facts := map[*types.Func]*lockedOp{}
		for path, as := range maps {
			lock, ok := guardingLock(as)
			if !ok {
				continue
			}
			byMethod := map[*types.Func][]access{}
			for _, a := range as {
				byMethod[a.method] = append(byMethod[a.method], a)
			}
			for fn, ms := range byMethod {
				op, ok := classify(pass, fn, decls[fn], ms, lock)
				if !ok {
					continue
				}
				if prev := facts[fn]; prev != nil {
					if prev.Write != op.Write || prev.Key != op.Key || prev.Lock != op.Lock {
						facts[fn] = &lockedOp{Key: -1} // two maps, two roles: no fact
						continue
					}
					prev.Maps = append(prev.Maps, path)
					slices.Sort(prev.Maps)
					continue
				}
				op.Maps = []string{path}
				facts[fn] = op
			}
		}
		for fn, op := range facts {
			if op.Key >= 0 {
				pass.ExportObjectFact(fn, op)
			}
		}
	}
}

// recvTypeName returns the named type a receiver has, through a pointer
// and type arguments.
func recvTypeName(v *types.Var) *types.TypeName {
	if v == nil {
		return nil
	}
	t := v.Type()
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return nil
	}
	return n.Origin().Obj()
}

// methodAccesses lists the uses of map fields reached from the receiver
// in one method, with the receiver's locks held at each.
func methodAccesses(pass *analysis.Pass, fn *types.Func, recv *types.Var, fd *ast.FuncDecl, epoch *int) []access {
	var out []access
	w := &walker{info: pass.TypesInfo, epoch: epoch}
	w.visit = func(n ast.Node, stack []ast.Node, s *state) {
		var x ast.Expr
		parent := ast.Node(nil)
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		switch n := n.(type) {
		case *ast.RangeStmt:
			x, parent = n.X, n
		case *ast.SelectorExpr:
			if _, isRange := parent.(*ast.RangeStmt); isRange {
				return // seen with the range statement
			}
			x = n
		default:
			return
		}
		if _, isMap := types.Unalias(pass.TypesInfo.TypeOf(x)).Underlying().(*types.Map); !isMap {
			return
		}
		k, ok := symbolic(pass.TypesInfo, x)
		if !ok || k.root != recv || k.path == "" {
			return
		}
		a := access{method: fn, path: k.path, read: true, locks: map[string]bool{}, wlocks: map[string]bool{}}
		for lk, h := range s.held {
			if lk.root == recv {
				a.locks[lk.path] = true
				if !h.read {
					a.wlocks[lk.path] = true
				}
			}
		}
		var grand ast.Node
		if len(stack) > 1 {
			grand = stack[len(stack)-2]
		}
		switch p := parent.(type) {
		case *ast.IndexExpr:
			if p.X != x {
				break
			}
			a.key = p.Index
			switch g := grand.(type) {
			case *ast.AssignStmt:
				if slices.Contains(g.Lhs, ast.Expr(p)) {
					a.write = true
					a.read = g.Tok != token.ASSIGN && g.Tok != token.DEFINE
					a.assign = !a.read
				}
			case *ast.IncDecStmt:
				a.write = true
			}
		case *ast.CallExpr:
			if id, ok := ast.Unparen(p.Fun).(*ast.Ident); ok && len(p.Args) == 2 && p.Args[0] == x {
				if b, ok := pass.TypesInfo.Uses[id].(*types.Builtin); ok && b.Name() == "delete" {
					a.key, a.write, a.read = p.Args[1], true, false
				}
			}
		case *ast.AssignStmt:
			if slices.Contains(p.Lhs, x) {
				a.write, a.read = true, false // the whole map replaced
			}
		}
		out = append(out, a)
	}
	w.body(fd.Body, &state{held: map[lockKey]hold{}})
	return out
}

// guardingLock returns the receiver's mutex held at every access of the
// map by an exported method (write-locked at every write), or false if
// there is none: then the type does not lock the map itself. Unexported
// methods may access it unlocked: they are helpers called with the lock
// held.
func guardingLock(as []access) (string, bool) {
	var common map[string]bool
	for _, a := range as {
		if !a.method.Exported() {
			continue
		}
		locks := a.locks
		if a.write {
			locks = a.wlocks
		}
		if common == nil {
			common = map[string]bool{}
			for l := range locks {
				common[l] = true
			}
			continue
		}
		for l := range common {
			if !locks[l] {
				delete(common, l)
			}
		}
	}
	if len(common) == 0 {
		return "", false
	}
	ls := make([]string, 0, len(common))
	for l := range common {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	return ls[0], true
}

// classify decides whether a method's accesses to one map make it a read
// of a key (every access a read under lock, the key a parameter, a
// result returned) or a blind write of one (a plain assignment under the
// write lock, and no read of that key).
func classify(pass *analysis.Pass, fn *types.Func, fd *ast.FuncDecl, ms []access, lock string) (*lockedOp, bool) {
	sig := fn.Type().(*types.Signature)
	for _, a := range ms {
		if !a.locks[lock] || a.write && !a.wlocks[lock] {
			return nil, false // this method accesses the map unlocked
		}
	}
	if releases(pass, fd, lock) {
		return nil, false
	}
	writes, reads := -1, -1
	for _, a := range ms {
		p := keyParam(pass, sig, a.key)
		switch {
		case a.assign && p >= 0:
			if writes >= 0 && writes != p {
				return nil, false
			}
			writes = p
		case a.write:
			if a.key == nil {
				return nil, false // replaces or clears the whole map
			}
		case a.key != nil:
			if p < 0 {
				return nil, false // reads a key not given as a parameter
			}
			if reads >= 0 && reads != p {
				return nil, false
			}
			reads = p
		}
	}
	switch {
	case writes >= 0 && reads != writes:
		return &lockedOp{Write: true, Key: writes, Param: sig.Params().At(writes).Name(), Lock: lock}, true
	case writes < 0 && reads >= 0 && sig.Results().Len() > 0 && onlyReads(ms):
		return &lockedOp{Key: reads, Param: sig.Params().At(reads).Name(), Lock: lock}, true
	}
	return nil, false
}

func onlyReads(ms []access) bool {
	for _, a := range ms {
		if a.write {
			return false
		}
	}
	return true
}

// keyParam returns the index of the only parameter the key expression
// mentions, or -1.
func keyParam(pass *analysis.Pass, sig *types.Signature, key ast.Expr) int {
	if key == nil {
		return -1
	}
	found := -1
	ast.Inspect(key, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		for i := range sig.Params().Len() {
			if pass.TypesInfo.Uses[id] == sig.Params().At(i) {
				if found >= 0 && found != i {
					found = -2
				} else if found != -2 {
					found = i
				}
			}
		}
		return true
	})
	if found < 0 {
		return -1
	}
	return found
}

// releases reports whether the method unlocks its mutex without a defer
// and takes it again: then it is two critical sections, not one.
func releases(pass *analysis.Pass, fd *ast.FuncDecl, lock string) bool {
	locks := 0
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		if _, ok := n.(*ast.DeferStmt); ok {
			return false
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || len(call.Args) != 0 || (sel.Sel.Name != "Lock" && sel.Sel.Name != "RLock") {
			return true
		}
		if k, ok := symbolic(pass.TypesInfo, sel.X); ok && k.path == lock {
			locks++
		}
		return true
	})
	return locks > 1
}

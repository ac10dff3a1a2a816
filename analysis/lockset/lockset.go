package lockset

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// Analyzer reports accesses of a builtin-map struct field made without
// the mutex that guards it everywhere else.
var Analyzer = &analysis.Analyzer{
	Name:     "lockset",
	Doc:      "report a builtin map struct field read or written without the mutex that guards its other accesses (or under a read lock only, for a write)",
	URL:      "https://pkg.go.dev/github.com/mapguard/mapguard/analysis/lockset",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

// minEvidence is the number of accesses that must hold one mutex before
// it is taken to guard the field: a single locked access is as likely a
// coincidence (a lock taken for another field) as a convention.
const minEvidence = 2

// Lock modes in a lockset.
const (
	readMode  = 1
	writeMode = 2
)

// lockKey names one mutex by the path to it (c.mu, s.cache.mu) and the
// object at the root of that path, so that shadowed names differ.
type lockKey struct {
	root types.Object
	path string
}

// state is the set of mutexes held on every path to a point, with their
// mode; dead marks a point no path reaches (after return or panic).
type state struct {
	held map[lockKey]int
	dead bool
}

func (s state) copy() state {
	m := make(map[lockKey]int, len(s.held))
	for k, v := range s.held {
		m[k] = v
	}
	return state{held: m, dead: s.dead}
}

// meet is what holds on both paths: the intersection, at the weaker mode.
func meet(a, b state) state {
	if a.dead {
		return b.copy()
	}
	if b.dead {
		return a.copy()
	}
	m := map[lockKey]int{}
	for k, v := range a.held {
		if w, ok := b.held[k]; ok {
			m[k] = min(v, w)
		}
	}
	return state{held: m}
}

// opKind is what an access does to the map.
type opKind int

const (
	opRead opKind = iota
	opRange
	opLen
	opWrite
	opDelete
	opClear
)

func (o opKind) String() string {
	return [...]string{"read of", "range over", "len of", "write to", "delete from", "clear of"}[o]
}

func (o opKind) writes() bool { return o >= opWrite }

// access is one read or write of a map field.
type access struct {
	field *types.Var
	base  ast.Expr // the struct value: c in c.items
	pos   token.Pos
	op    opKind
	held  map[string]int // mutex field name -> mode, for base's mutexes held here
	unit  *unit
	fresh bool // the base was created by this function and not yet published
}

// unit is one function body analysed on its own: a declaration, or a
// function literal that does not run where it is written.
type unit struct {
	decl      *ast.FuncDecl
	lit       *ast.FuncLit
	obj       *types.Func // nil for literals
	parent    *unit       // the declaration a literal is written in
	root      bool        // can run concurrently with other code by itself
	later     bool        // a literal that runs at an unknown time (callback)
	deferred  bool        // a literal deferred by its parent: runs at the parent's return
	argument  bool        // a literal passed to a call: runs with at most the call's locks, unless the call can lock the value
	handed    lockables   // for an argument literal: what the call hands its callee that it could lock
	assumeAll bool        // called with the locks held: documented, named, or every caller holds them
	declared  bool        // documented or named as called with the locks held
	ignore    bool        // +checklocksignore
	entry     map[lockKey]int
	calls     []*types.Func
	accesses  []*access
	published map[types.Object]token.Pos
	fromParam map[types.Object]bool // locals taken from a plain value a caller handed in
	// For a function with deferred or argument literals: the locks held
	// on every path to its returns, and at each defer statement or call
	// that hands a literal over.
	exit    state
	deferAt map[*ast.FuncLit]state
}

func (u *unit) body() *ast.BlockStmt {
	if u.decl != nil {
		return u.decl.Body
	}
	return u.lit.Body
}

func (u *unit) reachable(reach map[*types.Func]bool) bool {
	for v := u; v != nil; v = v.parent {
		if v.root || (v.obj != nil && reach[v.obj]) {
			return true
		}
	}
	return false
}

// callSite is a same-package call seen with some locks held, recorded so
// that a helper whose every caller holds a lock counts as holding it.
type callSite struct {
	callee *types.Func
	top    bool           // the receiver is a value still under construction
	held   map[string]int // callee-side path (recv.mu) -> mode
	caller *unit
	pos    token.Pos
	recv   ast.Expr       // the receiver expression of a method call
	recvMu map[string]int // the receiver's mutex fields held at the call
	any    bool           // some lock is held at the call
}

type checker struct {
	pass     *analysis.Pass
	info     *types.Info
	structs  map[*types.Struct]*structInfo
	units    []*unit
	byFunc   map[*types.Func]*unit
	escaping map[*types.Func]bool // referenced other than by a call
	sites    map[*types.Func][]callSite
	goFuncs  map[*types.Func]bool
	starters map[*types.Func]bool      // functions that start goroutines, directly or through a callee
	prodRun  map[*types.Func]bool      // started by go or used as a value outside _test.go files
	callers  map[*types.Func][]callPos // the package's calls outside _test.go files
	// aliases maps a local variable that only ever holds a map field
	// (m := c.items) to that field's selector.
	aliases map[types.Object]*ast.SelectorExpr
	// effects caches lockEffects per method.
	effects map[*types.Func]map[string]int
	// lockFuncs maps a local variable that only ever holds one function
	// literal (accLock := func() { ... }) to it.
	lockFuncs map[types.Object]*ast.FuncLit
	// replaced holds the map fields some function other than a
	// constructor assigns a whole new map (copy-on-write), and snapshots
	// the aliases of them taken under a lock of their value: the reader's
	// own copy of the pointer, not the live map.
	replaced  map[*types.Var]bool
	snapshots map[types.Object]bool
}

// callPos is one call of a function: the calling unit and the position.
type callPos struct {
	caller *unit
	pos    token.Pos
}

// structInfo is a struct type with map fields and mutex fields.
type structInfo struct {
	mutexes  []*types.Var
	embedded map[*types.Var]bool
	guards   map[*types.Var]string // +checklocks annotations: field -> mutex name
}

func run(pass *analysis.Pass) (any, error) {
	c := &checker{
		pass:      pass,
		info:      pass.TypesInfo,
		structs:   map[*types.Struct]*structInfo{},
		byFunc:    map[*types.Func]*unit{},
		escaping:  map[*types.Func]bool{},
		sites:     map[*types.Func][]callSite{},
		goFuncs:   map[*types.Func]bool{},
		prodRun:   map[*types.Func]bool{},
		aliases:   map[types.Object]*ast.SelectorExpr{},
		effects:   map[*types.Func]map[string]int{},
		lockFuncs: map[types.Object]*ast.FuncLit{},
		replaced:  map[*types.Var]bool{},
		snapshots: map[types.Object]bool{},
	}
	c.findStructs()
	if len(c.structs) == 0 {
		return nil, nil
	}
	c.findReplaced()
	c.findUnits()
	c.findStarters()
	// Walk every unit; repeat while helpers learn from their callers
	// which locks they are called with (a few rounds suffice: each round
	// reaches one more level of helpers).
	for range 4 {
		c.sites = map[*types.Func][]callSite{}
		for _, u := range c.units {
			u.accesses = nil
			u.calls = nil
			c.walkUnit(u)
		}
		if !c.inferEntries() {
			break
		}
	}
	c.report()
	return nil, nil
}

func isBuiltinMap(t types.Type) bool {
	_, ok := t.Underlying().(*types.Map)
	return ok && maptypes.Of(t) == maptypes.None
}

// findStructs records the package's struct types that have a builtin map
// field and a mutex field, with their +checklocks annotations.
func (c *checker) findStructs() {
	for _, f := range c.pass.Files {
		if c.isTest(f.Pos()) {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			st, ok := n.(*ast.StructType)
			if !ok {
				return true
			}
			t, ok := c.info.TypeOf(st).(*types.Struct)
			if !ok {
				return true
			}
			si := &structInfo{embedded: map[*types.Var]bool{}, guards: map[*types.Var]string{}}
			hasMap := false
			for i := 0; i < t.NumFields(); i++ {
				fv := t.Field(i)
				switch {
				case maptypes.IsMutex(fv.Type()):
					si.mutexes = append(si.mutexes, fv)
					if fv.Embedded() {
						si.embedded[fv] = true
					}
				case isBuiltinMap(fv.Type()):
					hasMap = true
				}
			}
			if !hasMap || len(si.mutexes) == 0 {
				return true
			}
			for _, fl := range st.Fields.List {
				guard := annotation(fl.Doc, fl.Comment, "+checklocks:")
				if guard == "" {
					continue
				}
				for _, name := range fl.Names {
					if v, ok := c.info.Defs[name].(*types.Var); ok {
						si.guards[v] = guard
					}
				}
			}
			c.structs[t] = si
			return true
		})
	}
}

// annotation returns the word after prefix in the comment groups.
func annotation(groups ...any) string {
	prefix := groups[len(groups)-1].(string)
	for _, g := range groups[:len(groups)-1] {
		cg, _ := g.(*ast.CommentGroup)
		if cg == nil {
			continue
		}
		for _, cm := range cg.List {
			text := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(cm.Text, "//"), "/*"))
			if rest, ok := strings.CutPrefix(text, prefix); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					return f[0]
				}
			}
		}
	}
	return ""
}

func (c *checker) isTest(pos token.Pos) bool {
	return strings.HasSuffix(c.pass.Fset.Position(pos).Filename, "_test.go")
}

// findUnits indexes the package's function bodies, decides which run
// concurrently on their own, and which are documented as called with the
// locks held.
func (c *checker) findUnits() {
	for _, f := range c.pass.Files {
		if c.isTest(f.Pos()) {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			obj, _ := c.info.Defs[fd.Name].(*types.Func)
			u := &unit{decl: fd, obj: obj}
			name := fd.Name.Name
			u.root = ast.IsExported(name) || isHandler(c.info, obj)
			u.declared = strings.HasSuffix(name, "Locked") || strings.HasSuffix(name, "_locked") ||
				strings.HasSuffix(name, "NoLock") || documentedHeld(fd.Doc) || openingComment(f, fd)
			u.assumeAll = u.declared
			// A function whose locking depends on a parameter
			// (match(subject, doLock bool)) locks or not as its callers
			// say; the lockset of its body is not one thing.
			u.ignore = annotationPresent(fd.Doc, "+checklocksignore") || lockFlag(c.info, fd)
			// Decoding into a value happens before it is shared.
			switch name {
			case "UnmarshalJSON", "UnmarshalYAML", "UnmarshalText", "UnmarshalBinary", "GobDecode", "Decode", "init":
				u.ignore = true
			}
			c.units = append(c.units, u)
			if obj != nil {
				c.byFunc[obj] = u
			}
			c.findLits(fd.Body, u)
			c.findAliases(fd.Body)
		}
	}
	// Functions started by go or passed as values (callbacks, handlers)
	// run on their own.
	for _, f := range c.pass.Files {
		// A test's go s.Start() says nothing about whether the program
		// runs Start concurrently with the rest of the value's code.
		prod := !c.isTest(f.Pos())
		escape := func(fn *types.Func) {
			if fn != nil {
				c.escaping[fn] = true
				c.prodRun[fn] = c.prodRun[fn] || prod
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				if fn := c.calleeOf(n.Call); fn != nil {
					c.goFuncs[fn] = true
					c.prodRun[fn] = c.prodRun[fn] || prod
				}
			case *ast.CallExpr:
				// The callee position is not a value use.
				for _, a := range n.Args {
					escape(c.funcValue(a))
				}
			case *ast.AssignStmt:
				for _, r := range n.Rhs {
					escape(c.funcValue(r))
				}
			case *ast.CompositeLit:
				for _, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						e = kv.Value
					}
					escape(c.funcValue(e))
				}
			}
			return true
		})
	}
	for _, u := range c.units {
		if u.obj != nil && (c.goFuncs[u.obj] || c.escaping[u.obj]) {
			u.root = true
		}
	}
}

// findLits adds a unit for each function literal in body that does not
// run right where it is written: go statements (concurrent), deferred and
// stored or passed literals (later). Literals called on the spot are
// walked inline with their caller.
func (c *checker) findLits(body ast.Node, parent *unit) {
	inline := map[*ast.FuncLit]bool{}
	goLit := map[*ast.FuncLit]bool{}
	deferLit := map[*ast.FuncLit]bool{}
	argLit := map[*ast.FuncLit]lockables{}
	deferred := map[*ast.CallExpr]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			if l, ok := ast.Unparen(n.Call.Fun).(*ast.FuncLit); ok {
				goLit[l] = true
			}
			deferred[n.Call] = true
		case *ast.DeferStmt:
			if l, ok := ast.Unparen(n.Call.Fun).(*ast.FuncLit); ok {
				deferLit[l] = true
			}
			deferred[n.Call] = true
		case *ast.CallExpr:
			if l, ok := ast.Unparen(n.Fun).(*ast.FuncLit); ok && !deferred[n] {
				inline[l] = true
			}
			if !deferred[n] {
				h := c.handsLockable(n)
				for _, a := range n.Args {
					if l, ok := ast.Unparen(a).(*ast.FuncLit); ok {
						argLit[l] = h
					}
				}
			}
		case *ast.FuncLit:
			if inline[n] {
				return true
			}
			u := &unit{lit: n, parent: parent}
			u.root = goLit[n] || isHandlerSig(c.info, c.info.TypeOf(n))
			// A deferred literal runs when its parent returns, with the
			// locks held both where it was deferred and at the return.
			u.deferred = deferLit[n]
			// A literal passed to a call runs, now or later, with at
			// most the locks held at the call, unless the callee is
			// handed the value (or a mutex) and may lock it around the
			// literal: a filter passed to another type's
			// JoinedUsersForRoom, time.AfterFunc.
			h, isArg := argLit[n]
			u.argument = isArg && !u.root
			u.handed = h
			u.later = !u.root && !u.deferred && !u.argument
			c.units = append(c.units, u)
			c.findLits(n.Body, u)
			return false
		}
		return true
	})
}

// lockables is what a call hands its callee that the callee could lock
// around a callback: struct types with a guarded map, or any mutex.
type lockables struct {
	structs map[*types.Struct]bool
	mutex   bool
}

// may reports whether a callee handed h may hold base's mutex.
func (h lockables) may(info *types.Info, base ast.Expr) bool {
	return h.mutex || h.structs[structOf(info.TypeOf(base))]
}

func structOf(t types.Type) *types.Struct {
	if t == nil {
		return nil
	}
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		t = n.Origin()
	}
	st, _ := t.Underlying().(*types.Struct)
	return st
}

// later reports whether an access sits in a literal whose caller's
// locks are unknown at the access: a stored callback, or one handed to
// a callee that may lock the access's value around it.
func (a *access) later(info *types.Info) bool {
	return a.unit.later || (a.unit.argument && a.unit.handed.may(info, a.base))
}

// handsLockable returns what a call hands its callee (as receiver or
// argument) that it could lock around a callback it is given: a value of
// a struct type with a guarded map, or a mutex (c.Range(func(k, v) {
// ... }), withLock(&c.mu, func() { ... })).
func (c *checker) handsLockable(call *ast.CallExpr) lockables {
	h := lockables{structs: map[*types.Struct]bool{}}
	vals := append([]ast.Expr(nil), call.Args...)
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		if s := c.info.Selections[sel]; s != nil && s.Kind() == types.MethodVal {
			vals = append(vals, sel.X)
		}
	}
	for _, v := range vals {
		t := c.info.TypeOf(v)
		if t == nil {
			continue
		}
		if st := structOf(t); st != nil && c.structs[st] != nil {
			h.structs[st] = true
		}
		if maptypes.IsMutex(t) {
			h.mutex = true
		}
	}
	return h
}

// funcValue returns the same-package function e names, when e is a
// function used as a value (f, c.method).
func (c *checker) funcValue(e ast.Expr) *types.Func {
	var id *ast.Ident
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = x
	case *ast.SelectorExpr:
		id = x.Sel
	default:
		return nil
	}
	fn, ok := c.info.Uses[id].(*types.Func)
	if !ok || fn.Pkg() != c.pass.Pkg {
		return nil
	}
	return fn
}

// calleeOf returns the same-package function or method call calls.
func (c *checker) calleeOf(call *ast.CallExpr) *types.Func {
	return c.funcValue(call.Fun)
}

func isHandlerSig(info *types.Info, t types.Type) bool {
	sig, ok := t.(*types.Signature)
	if !ok || sig.Params().Len() != 2 {
		return false
	}
	return typeName(sig.Params().At(0).Type()) == "net/http.ResponseWriter" &&
		typeName(sig.Params().At(1).Type()) == "*net/http.Request"
}

func isHandler(info *types.Info, fn *types.Func) bool {
	if fn == nil {
		return false
	}
	return fn.Name() == "ServeHTTP" || isHandlerSig(info, fn.Type()) ||
		(fn.Name() == "Collect" && fn.Type().(*types.Signature).Recv() != nil)
}

func typeName(t types.Type) string {
	return types.TypeString(t, nil)
}

// documentedHeld reports whether a doc comment says the function expects
// its caller to hold the lock ("must be called with c.mu held", "caller
// must hold mu", "+checklocks:mu").
func documentedHeld(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	if annotation(doc, "+checklocks:") != "" || annotation(doc, "+checklocksread:") != "" {
		return true
	}
	t := strings.ToLower(doc.Text())
	for _, w := range []string{"not be held", "not held", "must not", "should not", "without holding", "without the lock"} {
		if strings.Contains(t, w) {
			return false // "Lock MUST NOT be held on entry."
		}
	}
	if !strings.Contains(t, "held") && !strings.Contains(t, "locked") && !strings.Contains(t, "hold") {
		return false
	}
	if strings.Contains(t, "held") && (strings.Contains(t, "lock") || strings.Contains(t, "mu")) {
		return true // "Lock should be held."
	}
	for _, w := range []string{"called with", "caller must", "callers must", "caller holds", "must hold", "assumes", "requires", "expects", "while holding", "with the lock", "lock is held", "lock held"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// openingComment reports whether a comment before the first statement
// of fd's body says the lock is already held ("// already locked",
// "// caller holds c.mu").
func openingComment(f *ast.File, fd *ast.FuncDecl) bool {
	end := fd.Body.Rbrace
	if len(fd.Body.List) > 0 {
		end = fd.Body.List[0].Pos()
	}
	for _, cg := range f.Comments {
		if cg.Pos() < fd.Body.Lbrace || cg.Pos() >= end {
			continue
		}
		t := strings.ToLower(cg.Text())
		for _, w := range []string{"already locked", "already held", "already holds", "lock held", "locked by caller", "lock is held"} {
			if strings.Contains(t, w) {
				return true
			}
		}
		if documentedHeld(cg) {
			return true
		}
	}
	return false
}

// lockFlag reports whether fd has a bool parameter named for a lock
// (doLock, needLock, locked).
func lockFlag(info *types.Info, fd *ast.FuncDecl) bool {
	for _, f := range fd.Type.Params.List {
		if t, ok := info.TypeOf(f.Type).(*types.Basic); !ok || t.Kind() != types.Bool {
			continue
		}
		for _, n := range f.Names {
			if strings.Contains(strings.ToLower(n.Name), "lock") {
				return true
			}
		}
	}
	return false
}

func annotationPresent(doc *ast.CommentGroup, word string) bool {
	if doc == nil {
		return false
	}
	for _, cm := range doc.List {
		if strings.Contains(cm.Text, word) {
			return true
		}
	}
	return false
}

// mapField returns the struct info and field when e is x.f for a
// builtin-map field f of a recorded struct.
func (c *checker) mapField(e ast.Expr) (*ast.SelectorExpr, *types.Var, *structInfo) {
	if id, ok := ast.Unparen(e).(*ast.Ident); ok {
		if obj := c.info.Uses[id]; c.aliases[obj] != nil && !c.snapshots[obj] {
			e = c.aliases[obj]
		}
	}
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	if !ok {
		return nil, nil, nil
	}
	s := c.info.Selections[sel]
	if s == nil || s.Kind() != types.FieldVal || len(s.Index()) != 1 {
		return nil, nil, nil
	}
	v := s.Obj().(*types.Var)
	if !isBuiltinMap(v.Type()) {
		return nil, nil, nil
	}
	// A generic type's methods see an instance (Cache[K, V]) with its
	// own copy of the fields: group accesses by the declared field.
	v = v.Origin()
	recv := s.Recv()
	if p, ok := recv.Underlying().(*types.Pointer); ok {
		recv = p.Elem()
	}
	if n, ok := recv.(*types.Named); ok {
		recv = n.Origin()
	}
	st, ok := recv.Underlying().(*types.Struct)
	if !ok {
		return nil, nil, nil
	}
	si := c.structs[st]
	if si == nil {
		return nil, nil, nil
	}
	return sel, v, si
}

// rootObj returns the object at the root of a path expression (c in
// c.a.b), or nil when the path goes through a call or an index.
func (c *checker) rootObj(e ast.Expr) types.Object {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			return c.info.ObjectOf(x)
		case *ast.SelectorExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// lockOf returns the mutex a Lock/Unlock call acts on and its delta and
// mode: c.mu for c.mu.Lock(), c.Mutex for c.Lock() through an embedded
// sync.Mutex.
func (c *checker) lockOf(call *ast.CallExpr) (lockKey, int, bool, bool) {
	recv, d, read := maptypes.IsLockCall(c.info, call)
	if d == 0 {
		return lockKey{}, 0, false, false
	}
	root := c.rootObj(recv)
	if root == nil {
		return lockKey{}, 0, false, false
	}
	path := types.ExprString(recv)
	sel := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if s := c.info.Selections[sel]; s != nil && len(s.Index()) > 1 {
		t := c.info.TypeOf(recv)
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		st, ok := t.Underlying().(*types.Struct)
		if !ok {
			return lockKey{}, 0, false, false
		}
		path += "." + st.Field(s.Index()[0]).Name()
	}
	return lockKey{root: root, path: path}, d, read, true
}

// walkUnit walks one body from its entry lockset.
func (c *checker) walkUnit(u *unit) {
	if u.published == nil {
		u.published = c.publications(u)
		u.fromParam = c.handedIn(u)
	}
	st := state{held: map[lockKey]int{}}
	for k, v := range u.entry {
		st.held[k] = v
	}
	if u.deferred {
		at, ok := u.parent.deferAt[u.lit]
		if !ok {
			at = state{dead: true}
		}
		if in := meet(u.parent.exit, at); !in.dead {
			st = in
		}
	}
	if u.argument {
		if at, ok := u.parent.deferAt[u.lit]; ok && !at.dead {
			st = at.copy()
		}
	}
	u.exit = state{dead: true}
	u.deferAt = map[*ast.FuncLit]state{}
	w := &walker{c: c, u: u}
	if end := w.block(u.body().List, st); !end.dead {
		u.exit = meet(u.exit, end)
	}
}

// findReplaced records the copy-on-write map fields: some function
// other than a constructor assigns the field a whole map (c.limits =
// newLimits), and every function that writes into it in place also
// assigns it (filling the new map before anyone can read it). A reader
// that copied such a field's pointer under the lock holds a map no
// writer touches any more.
func (c *checker) findReplaced() {
	assigns := map[*types.Var]map[*ast.FuncDecl]bool{}
	inPlace := map[*types.Var]map[*ast.FuncDecl]bool{}
	note := func(m map[*types.Var]map[*ast.FuncDecl]bool, f *types.Var, fd *ast.FuncDecl) {
		if m[f] == nil {
			m[f] = map[*ast.FuncDecl]bool{}
		}
		m[f][fd] = true
	}
	for _, f := range c.pass.Files {
		if c.isTest(f.Pos()) {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || isCreationName(fd.Name.Name) {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					for _, l := range n.Lhs {
						if ix, ok := ast.Unparen(l).(*ast.IndexExpr); ok {
							if _, f, _ := c.mapField(ix.X); f != nil {
								note(inPlace, f, fd)
							}
						} else if _, f, _ := c.mapField(l); f != nil {
							note(assigns, f, fd)
						}
					}
				case *ast.IncDecStmt:
					if ix, ok := ast.Unparen(n.X).(*ast.IndexExpr); ok {
						if _, f, _ := c.mapField(ix.X); f != nil {
							note(inPlace, f, fd)
						}
					}
				case *ast.CallExpr:
					if id, ok := ast.Unparen(n.Fun).(*ast.Ident); ok && (id.Name == "delete" || id.Name == "clear") && len(n.Args) > 0 {
						if _, f, _ := c.mapField(n.Args[0]); f != nil {
							note(inPlace, f, fd)
						}
					}
				}
				return true
			})
		}
	}
	for f, fds := range assigns {
		cow := true
		for fd := range inPlace[f] {
			cow = cow && fds[fd]
		}
		c.replaced[f] = cow
	}
}

func isCreationName(name string) bool {
	return strings.HasPrefix(name, "New") || strings.HasPrefix(name, "new") || name == "init"
}

// findAliases records the local variables of body that hold a map field
// and nothing else: defined once from it (m := c.items), never assigned
// again or taken the address of. A function that also assigns the field
// itself (m := c.items; c.items = map[K]V{}) is swapping in a new map and
// owns the old one, so its variables are not aliases.
func (c *checker) findAliases(body *ast.BlockStmt) {
	cand := map[types.Object]*ast.SelectorExpr{}
	lits := map[types.Object]*ast.FuncLit{}
	bad := map[types.Object]bool{}
	swapped := map[*types.Var]bool{}
	field := func(e ast.Expr) *types.Var {
		sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
		if !ok {
			return nil
		}
		s := c.info.Selections[sel]
		if s == nil || s.Kind() != types.FieldVal || !isBuiltinMap(s.Obj().Type()) {
			return nil
		}
		return s.Obj().(*types.Var).Origin()
	}
	define := func(id *ast.Ident, rhs ast.Expr) {
		obj := c.info.Defs[id]
		if obj == nil {
			return
		}
		if sel, f, _ := c.mapField(rhs); f != nil && sel == ast.Unparen(rhs) && c.rootObj(sel.X) != nil {
			cand[obj] = sel
		}
		if lit, ok := ast.Unparen(rhs).(*ast.FuncLit); ok {
			lits[obj] = lit
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if f := field(l); f != nil {
					swapped[f] = true
				}
				id, ok := l.(*ast.Ident)
				if !ok {
					continue
				}
				if n.Tok == token.DEFINE && c.info.Defs[id] != nil && len(n.Lhs) == len(n.Rhs) {
					define(id, n.Rhs[i])
					continue
				}
				if obj := c.info.Uses[id]; obj != nil {
					bad[obj] = true
				}
			}
		case *ast.ValueSpec:
			if len(n.Names) == len(n.Values) {
				for i, id := range n.Names {
					define(id, n.Values[i])
				}
			}
		case *ast.UnaryExpr:
			if id, ok := ast.Unparen(n.X).(*ast.Ident); ok && n.Op == token.AND {
				bad[c.info.Uses[id]] = true
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok && n.Tok == token.ASSIGN {
					bad[c.info.Uses[id]] = true
				}
			}
		}
		return true
	})
	for obj, sel := range cand {
		if bad[obj] || swapped[field(sel)] {
			continue
		}
		c.aliases[obj] = sel
	}
	for obj, lit := range lits {
		if !bad[obj] {
			c.lockFuncs[obj] = lit
		}
	}
}

// publications finds, for each variable the unit creates (a composite
// literal or new(T)), where it is first shared: a go statement or a
// closure that mentions it, a send of it, or a store of it anywhere but
// a local variable. Accesses through it before then cannot race.
func (c *checker) publications(u *unit) map[types.Object]token.Pos {
	created := map[types.Object]bool{}
	body := u.body()
	ast.Inspect(body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok && n != u.lit {
			return false
		}
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == len(vs.Values) {
				for i, name := range vs.Names {
					if isCreation(c.info, vs.Values[i]) {
						created[c.info.Defs[name]] = true
					}
				}
			}
			return true
		}
		for i, l := range as.Lhs {
			if id, ok := l.(*ast.Ident); ok && isCreation(c.info, as.Rhs[i]) {
				if obj := c.info.ObjectOf(id); obj != nil && obj.Parent() != nil && obj.Parent() != c.pass.Pkg.Scope() {
					created[obj] = true
				}
			}
		}
		return true
	})
	out := map[types.Object]token.Pos{}
	// A method that starts the value's goroutines (Start, Run, Serve)
	// owns its receiver until the first start: before it nothing else
	// runs on the value.
	if recv, at := c.startPrefix(u); recv != nil {
		created[recv] = true
		out[recv] = at
	}
	publish := func(obj types.Object, at token.Pos) {
		if created[obj] {
			if p, ok := out[obj]; !ok || at < p {
				out[obj] = at
			}
		}
	}
	mentions := func(n ast.Node, at token.Pos) {
		ast.Inspect(n, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				publish(c.info.Uses[id], at)
			}
			return true
		})
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			mentions(n, n.Pos())
			return false
		case *ast.FuncLit:
			if n != u.lit {
				mentions(n, n.Pos())
				return false
			}
		case *ast.SendStmt:
			mentions(n.Value, n.Pos())
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if _, local := l.(*ast.Ident); local || i >= len(n.Rhs) {
					continue
				}
				if id, ok := ast.Unparen(n.Rhs[i]).(*ast.Ident); ok {
					publish(c.info.Uses[id], n.Pos())
				}
				if un, ok := ast.Unparen(n.Rhs[i]).(*ast.UnaryExpr); ok && un.Op == token.AND {
					mentions(un, n.Pos())
				}
			}
		}
		return true
	})
	for obj := range created {
		if _, ok := out[obj]; !ok {
			out[obj] = token.NoPos // never published here
		}
	}
	return out
}

// handedIn returns the unit's locals that hold an element of a container
// field of a plain parameter: a value of a struct type with no mutex of
// its own, handed in by the caller (for _, acc := range o.Accounts, or
// acc := o.Accounts[i], in validateJetStreamOptions(o *Options)). A
// value without a lock is not a shared registry: the elements reached
// through it are the caller's, not yet shared (options being validated
// before a server or a reload uses them) or guarded by whoever shares
// the container. The receiver is never such a parameter.
func (c *checker) handedIn(u *unit) map[types.Object]bool {
	decl := u.decl
	for v := u; decl == nil && v.parent != nil; v = v.parent {
		decl = v.parent.decl
	}
	if decl == nil {
		return nil
	}
	plain := map[types.Object]bool{}
	for _, f := range decl.Type.Params.List {
		for _, n := range f.Names {
			if obj := c.info.Defs[n]; obj != nil && lockFree(obj.Type()) {
				plain[obj] = true
			}
		}
	}
	if len(plain) == 0 {
		return nil
	}
	// fromPlain reports whether e reaches into a container field of a
	// plain parameter: o.Accounts, o.byName[k].
	fromPlain := func(e ast.Expr, indexed bool) bool {
		field := false
		for {
			switch x := ast.Unparen(e).(type) {
			case *ast.Ident:
				return field && indexed && plain[c.info.Uses[x]]
			case *ast.SelectorExpr:
				if s := c.info.Selections[x]; s == nil || s.Kind() != types.FieldVal {
					return false
				}
				field = true
				e = x.X
			case *ast.IndexExpr:
				indexed = true
				e = x.X
			case *ast.StarExpr:
				e = x.X
			default:
				return false
			}
		}
	}
	out := map[types.Object]bool{}
	ast.Inspect(u.body(), func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return n == u.lit
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE && fromPlain(n.X, true) {
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if id, ok := e.(*ast.Ident); ok && c.info.Defs[id] != nil {
						out[c.info.Defs[id]] = true
					}
				}
			}
		case *ast.AssignStmt:
			if n.Tok != token.DEFINE || len(n.Lhs) != len(n.Rhs) {
				return true
			}
			for i, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok && c.info.Defs[id] != nil && fromPlain(n.Rhs[i], false) {
					out[c.info.Defs[id]] = true
				}
			}
		}
		return true
	})
	return out
}

// lockFree reports whether t is a struct, or a pointer to one, with no
// mutex field.
func lockFree(t types.Type) bool {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	st, ok := t.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	for i := 0; i < st.NumFields(); i++ {
		if maptypes.IsMutex(st.Field(i).Type()) {
			return false
		}
	}
	return true
}

// findStarters finds the package's functions that start goroutines: a go
// statement in the body (startGoRoutine's go f()), a call passing a
// function value to another package (time.AfterFunc, a registered
// handler), or a call of another starter.
func (c *checker) findStarters() {
	c.starters = map[*types.Func]bool{}
	c.callers = map[*types.Func][]callPos{}
	callees := map[*types.Func][]*types.Func{}
	for _, u := range c.units {
		if u.decl == nil || u.obj == nil {
			continue
		}
		ast.Inspect(u.decl.Body, func(n ast.Node) bool {
			if n, ok := n.(ast.Expr); ok && c.startsGoroutine(n) {
				c.starters[u.obj] = true
			}
			if _, ok := n.(*ast.GoStmt); ok {
				c.starters[u.obj] = true
			}
			if call, ok := n.(*ast.CallExpr); ok {
				if fn := c.calleeOf(call); fn != nil {
					callees[u.obj] = append(callees[u.obj], fn)
					c.callers[fn] = append(c.callers[fn], callPos{u, call.Pos()})
				}
			}
			return true
		})
	}
	for changed := true; changed; {
		changed = false
		for fn, cs := range callees {
			if c.starters[fn] {
				continue
			}
			for _, g := range cs {
				if c.starters[g] {
					c.starters[fn], changed = true, true
					break
				}
			}
		}
	}
}

// startsGoroutine reports whether e is a call of a function outside the
// package passing a function value: the callee may run it on another
// goroutine (time.AfterFunc, http.HandleFunc).
func (c *checker) startsGoroutine(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	if fn := c.calleeOf(call); fn != nil && c.byFunc[fn] != nil {
		// A function of the package starts goroutines only if its body
		// does (findStarters); s.executeLogCall(func(...) {...}) calls
		// its argument on the spot.
		return false
	}
	for _, a := range call.Args {
		if _, ok := ast.Unparen(a).(*ast.FuncLit); ok {
			return true
		}
		if _, ok := c.info.TypeOf(a).(*types.Signature); ok {
			return true
		}
	}
	return false
}

// startPrefix returns the receiver of a start-up method and the position
// of its first start: a go statement, a call passing a function value to
// another package, or a call of a starter. A start-up method starts
// goroutines and is an entry point: nothing in the package calls it,
// starts it with go, or uses it as a value outside tests (nats-server's
// Server.Start); it owns its receiver until it starts the first
// goroutine. A method the package calls on live values
// (Account.checkActivation, which arms a timer) has no prefix. When the
// first start is inside a loop, the loop's start counts (its next
// iteration follows the start).
func (c *checker) startPrefix(u *unit) (types.Object, token.Pos) {
	if u.decl == nil || u.obj == nil || !c.starters[u.obj] || c.prodRun[u.obj] {
		return nil, token.NoPos
	}
	recv := receiverObj(c.info, u.decl)
	if recv == nil {
		return nil, token.NoPos
	}
	// Its callers in the package must be entry points themselves, calling
	// it before they start anything else (nats-server's Run(server)
	// calls server.Start() first).
	for _, cp := range c.callers[u.obj] {
		v := cp.caller
		if v.decl == nil || v.obj == nil || c.prodRun[v.obj] || len(c.callers[v.obj]) > 0 || cp.pos > c.firstStart(v.decl.Body) {
			return nil, token.NoPos
		}
	}
	first := c.firstStart(u.decl.Body)
	if first == token.NoPos {
		return nil, token.NoPos
	}
	return recv, first
}

// firstStart returns the position of body's first goroutine start (see
// startPrefix), or of the outermost loop around it; NoPos if none.
func (c *checker) firstStart(body *ast.BlockStmt) token.Pos {
	first := token.NoPos
	var loops []ast.Node
	var stack []ast.Node
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		start := false
		switch n := n.(type) {
		case *ast.GoStmt:
			start = true
		case *ast.CallExpr:
			fn := c.calleeOf(n)
			start = c.startsGoroutine(n) || (fn != nil && c.starters[fn])
		}
		if start && (first == token.NoPos || n.Pos() < first) {
			first = n.Pos()
			loops = loops[:0]
			for _, s := range stack {
				switch s.(type) {
				case *ast.ForStmt, *ast.RangeStmt:
					loops = append(loops, s)
				}
			}
		}
		return true
	})
	if len(loops) > 0 {
		first = loops[0].Pos()
	}
	return first
}

func isCreation(info *types.Info, e ast.Expr) bool {
	switch x := ast.Unparen(e).(type) {
	case *ast.CompositeLit:
		return true
	case *ast.UnaryExpr:
		_, ok := ast.Unparen(x.X).(*ast.CompositeLit)
		return x.Op == token.AND && ok
	case *ast.CallExpr:
		var id *ast.Ident
		switch f := ast.Unparen(x.Fun).(type) {
		case *ast.Ident:
			id = f
		case *ast.SelectorExpr:
			id = f.Sel
		default:
			return false
		}
		if _, builtin := info.Uses[id].(*types.Builtin); builtin {
			return id.Name == "new"
		}
		// A constructor (NewAccount, newClient) returns a value nobody
		// else has seen yet.
		return strings.HasPrefix(id.Name, "New") || strings.HasPrefix(id.Name, "new")
	}
	return false
}

// fresh reports whether the value at the root of base was created by the
// unit and not yet published at pos.
func (c *checker) fresh(u *unit, base ast.Expr, pos token.Pos) bool {
	obj := c.rootObj(base)
	if obj == nil {
		return false
	}
	// Only the unit's own creations count: a literal sees its parent's
	// variables, but the literal itself published them (a go statement
	// or a stored closure).
	p, ok := u.published[obj]
	return ok && (p == token.NoPos || pos < p)
}

// inferEntries computes, for each unexported helper that is never used
// as a value, the locks every one of its call sites holds. It reports
// whether any entry changed.
func (c *checker) inferEntries() bool {
	changed := false
	for fn, u := range c.byFunc {
		if u.decl == nil || ast.IsExported(fn.Name()) || c.escaping[fn] || c.goFuncs[fn] {
			continue
		}
		sites := c.sites[fn]
		if len(sites) == 0 {
			continue
		}
		var common map[string]int
		all := true
		for _, s := range sites {
			if s.top {
				continue
			}
			if all {
				common = map[string]int{}
				for k, v := range s.held {
					common[k] = v
				}
				all = false
				continue
			}
			for k, v := range common {
				if w, ok := s.held[k]; ok {
					common[k] = min(v, w)
				} else {
					delete(common, k)
				}
			}
		}
		if all {
			if !u.assumeAll {
				u.assumeAll = true
				changed = true
			}
			continue
		}
		entry := map[lockKey]int{}
		for path, mode := range common {
			name, _, _ := strings.Cut(path, ".")
			obj := paramNamed(c.info, u.decl, name)
			if obj == nil {
				continue
			}
			entry[lockKey{root: obj, path: path}] = mode
		}
		if len(entry) != len(u.entry) {
			changed = true
		} else {
			for k, v := range entry {
				if u.entry[k] != v {
					changed = true
				}
			}
		}
		u.entry = entry
	}
	return changed
}

func paramNamed(info *types.Info, fd *ast.FuncDecl, name string) types.Object {
	lists := []*ast.FieldList{fd.Recv, fd.Type.Params}
	for _, l := range lists {
		if l == nil {
			continue
		}
		for _, f := range l.List {
			for _, n := range f.Names {
				if n.Name == name {
					return info.Defs[n]
				}
			}
		}
	}
	return nil
}

// walker follows one unit's statements, carrying the lockset.
type walker struct {
	c *checker
	u *unit
}

func (w *walker) block(list []ast.Stmt, st state) state {
	for _, s := range list {
		st = w.stmt(s, st)
	}
	return st
}

func (w *walker) stmt(s ast.Stmt, st state) state {
	if st.dead {
		// Unreachable code after return: analyse it from nothing held,
		// without reporting anything impossible.
		return st
	}
	switch s := s.(type) {
	case *ast.BlockStmt:
		return w.block(s.List, st)
	case *ast.LabeledStmt:
		return w.stmt(s.Stmt, st)
	case *ast.ExprStmt:
		if call, ok := ast.Unparen(s.X).(*ast.CallExpr); ok {
			st = w.expr(call, st)
			if isNoReturn(w.c.info, call) {
				st.dead = true
			}
			return st
		}
		return w.expr(s.X, st)
	case *ast.AssignStmt:
		for _, r := range s.Rhs {
			st = w.expr(r, st)
		}
		w.snapshot(s, st)
		for _, l := range s.Lhs {
			st = w.lhs(l, s.Tok, st)
		}
		return st
	case *ast.IncDecStmt:
		return w.lhs(s.X, token.ADD_ASSIGN, st)
	case *ast.DeclStmt:
		ast.Inspect(s, func(n ast.Node) bool {
			if e, ok := n.(ast.Expr); ok {
				st = w.expr(e, st)
				return false
			}
			return true
		})
		return st
	case *ast.ReturnStmt:
		for _, r := range s.Results {
			st = w.expr(r, st)
		}
		w.u.exit = meet(w.u.exit, st)
		st.dead = true
		return st
	case *ast.BranchStmt:
		// break, continue, goto: this path leaves the statement list; the
		// loop's own merge accounts for it approximately.
		st.dead = true
		return st
	case *ast.DeferStmt:
		// defer c.mu.Unlock() keeps the lock held to the end; deferred
		// accesses run at return, walked as a later-running body.
		for _, a := range s.Call.Args {
			st = w.expr(a, st)
		}
		if l, ok := ast.Unparen(s.Call.Fun).(*ast.FuncLit); ok {
			w.litAt(l, st)
		}
		return st
	case *ast.GoStmt:
		for _, a := range s.Call.Args {
			st = w.expr(a, st)
		}
		return st
	case *ast.SendStmt:
		st = w.expr(s.Chan, st)
		return w.expr(s.Value, st)
	case *ast.IfStmt:
		if s.Init != nil {
			st = w.stmt(s.Init, st)
		}
		st = w.expr(s.Cond, st)
		then := w.block(s.Body.List, st.copy())
		els := st.copy()
		if s.Else != nil {
			els = w.stmt(s.Else, els)
		}
		return meet(then, els)
	case *ast.ForStmt:
		if s.Init != nil {
			st = w.stmt(s.Init, st)
		}
		return w.loop(st, func(in state) state {
			if s.Cond != nil {
				in = w.expr(s.Cond, in)
			}
			out := w.block(s.Body.List, in)
			if s.Post != nil && !out.dead {
				out = w.stmt(s.Post, out)
			}
			return out
		})
	case *ast.RangeStmt:
		st = w.rangeX(s, st)
		return w.loop(st, func(in state) state { return w.block(s.Body.List, in) })
	case *ast.SwitchStmt:
		if s.Init != nil {
			st = w.stmt(s.Init, st)
		}
		if s.Tag != nil {
			st = w.expr(s.Tag, st)
		}
		return w.clauses(s.Body, st)
	case *ast.TypeSwitchStmt:
		if s.Init != nil {
			st = w.stmt(s.Init, st)
		}
		st = w.stmt(s.Assign, st)
		return w.clauses(s.Body, st)
	case *ast.SelectStmt:
		return w.clauses(s.Body, st)
	}
	return st
}

// snapshot marks the aliases an assignment defines from a copy-on-write
// field while a mutex of the field's value is held.
func (w *walker) snapshot(as *ast.AssignStmt, st state) {
	if as.Tok != token.DEFINE || len(as.Lhs) != len(as.Rhs) {
		return
	}
	for i, l := range as.Lhs {
		id, ok := l.(*ast.Ident)
		if !ok {
			continue
		}
		obj := w.c.info.Defs[id]
		sel := w.c.aliases[obj]
		if sel == nil || sel != ast.Unparen(as.Rhs[i]) {
			continue
		}
		f := w.c.info.Selections[sel].Obj().(*types.Var).Origin()
		if !w.c.replaced[f] {
			continue
		}
		root := w.c.rootObj(sel.X)
		prefix := types.ExprString(sel.X) + "."
		for k := range st.held {
			if k.root == root && strings.HasPrefix(k.path, prefix) {
				w.c.snapshots[obj] = true
			}
		}
	}
}

// litAt records the locks held where a literal is deferred or handed
// to a call (met over loop walks).
func (w *walker) litAt(l *ast.FuncLit, st state) {
	if prev, seen := w.u.deferAt[l]; seen {
		w.u.deferAt[l] = meet(prev, st)
	} else {
		w.u.deferAt[l] = st.copy()
	}
}

// loop walks a loop body twice: once to learn the lockset at the end of
// an iteration, and once from what holds both on entry and after an
// iteration, recording accesses only on the second walk.
func (w *walker) loop(st state, body func(state) state) state {
	saved := len(w.u.accesses)
	out := body(st.copy())
	w.u.accesses = w.u.accesses[:saved]
	in := meet(st, out)
	in.dead = false
	out = body(in.copy())
	after := meet(st, out)
	after.dead = st.dead
	return after
}

func (w *walker) clauses(body *ast.BlockStmt, st state) state {
	result := state{dead: true}
	hasDefault := false
	for _, cl := range body.List {
		in := st.copy()
		var list []ast.Stmt
		switch cl := cl.(type) {
		case *ast.CaseClause:
			if cl.List == nil {
				hasDefault = true
			}
			for _, e := range cl.List {
				in = w.expr(e, in)
			}
			list = cl.Body
		case *ast.CommClause:
			if cl.Comm == nil {
				hasDefault = true
			} else {
				in = w.stmt(cl.Comm, in)
			}
			list = cl.Body
		}
		result = meet(result, w.block(list, in))
	}
	if !hasDefault {
		result = meet(result, st)
	}
	return result
}

// isNoReturn reports calls that end the path: panic, os.Exit, log.Fatal.
func isNoReturn(info *types.Info, call *ast.CallExpr) bool {
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		_, builtin := info.Uses[f].(*types.Builtin)
		return builtin && f.Name == "panic"
	case *ast.SelectorExpr:
		n := f.Sel.Name
		return n == "Exit" || strings.HasPrefix(n, "Fatal") || strings.HasPrefix(n, "Panic")
	}
	return false
}

// rangeX records a range over a map field.
func (w *walker) rangeX(s *ast.RangeStmt, st state) state {
	if sel, f, si := w.c.mapField(s.X); f != nil {
		w.record(sel, f, si, opRange, s.Pos(), st)
		if sel != ast.Unparen(s.X) {
			return st // an alias: m, not c.items
		}
		return w.expr(sel.X, st)
	}
	return w.expr(s.X, st)
}

// lhs records a write through an assignment's left side.
func (w *walker) lhs(l ast.Expr, tok token.Token, st state) state {
	ix, ok := ast.Unparen(l).(*ast.IndexExpr)
	if !ok {
		return w.expr(l, st)
	}
	if sel, f, si := w.c.mapField(ix.X); f != nil {
		w.record(sel, f, si, opWrite, ix.Pos(), st)
		if sel == ast.Unparen(ix.X) {
			st = w.expr(sel.X, st)
		}
		return w.expr(ix.Index, st)
	}
	return w.expr(l, st)
}

// expr walks an expression in evaluation order (roughly: left to right),
// recording map accesses, lock calls and same-package calls.
func (w *walker) expr(e ast.Expr, st state) state {
	if e == nil {
		return st
	}
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its own unit (or walked inline below)
		case *ast.IndexExpr:
			if sel, f, si := w.c.mapField(n.X); f != nil {
				w.record(sel, f, si, opRead, n.Pos(), st)
			}
		case *ast.CallExpr:
			for _, a := range n.Args {
				st = w.expr(a, st)
			}
			for _, a := range n.Args {
				if l, ok := ast.Unparen(a).(*ast.FuncLit); ok {
					w.litAt(l, st)
				}
			}
			if lit, ok := ast.Unparen(n.Fun).(*ast.FuncLit); ok {
				// Called on the spot: its body runs now, under our locks.
				w.block(lit.Body.List, st.copy())
				return false
			}
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
				st = w.expr(sel.X, st)
			}
			w.call(n, st)
			st = w.lockCall(n, st)
			st = w.helperLock(n, st)
			return false
		}
		return true
	})
	return st
}

// call records builtin map operations and same-package call sites.
func (w *walker) call(call *ast.CallExpr, st state) {
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
		if _, builtin := w.c.info.Uses[id].(*types.Builtin); builtin && len(call.Args) > 0 {
			if sel, f, si := w.c.mapField(call.Args[0]); f != nil {
				op := map[string]opKind{"delete": opDelete, "clear": opClear, "len": opLen}
				if o, ok := op[id.Name]; ok {
					w.record(sel, f, si, o, call.Pos(), st)
				}
			}
			return
		}
	}
	fn := w.c.calleeOf(call)
	if fn == nil {
		return
	}
	w.u.calls = append(w.u.calls, fn)
	sig := fn.Type().(*types.Signature)
	site := callSite{callee: fn, held: map[string]int{}, caller: w.u, pos: call.Pos(), any: len(st.held) > 0 || len(w.u.entry) > 0}
	callee := w.c.byFunc[fn]
	if callee == nil || callee.decl == nil {
		return
	}
	// Map the caller's held locks on the receiver and arguments to the
	// callee's parameter names.
	bind := func(arg ast.Expr, param string) {
		if param == "" || param == "_" {
			return
		}
		if w.c.fresh(w.u, arg, call.Pos()) {
			site.top = true
		}
		root := w.c.rootObj(arg)
		prefix := types.ExprString(arg) + "."
		for k, v := range st.held {
			if k.root == root && strings.HasPrefix(k.path, prefix) {
				site.held[param+"."+strings.TrimPrefix(k.path, prefix)] = v
			}
		}
	}
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && sig.Recv() != nil {
		site.recv = sel.X
		site.recvMu = map[string]int{}
		if root := w.c.rootObj(sel.X); root != nil {
			prefix := types.ExprString(sel.X) + "."
			for k, v := range st.held {
				if k.root == root && strings.HasPrefix(k.path, prefix) {
					site.recvMu[strings.TrimPrefix(k.path, prefix)] = v
				}
			}
		}
		if callee.decl.Recv != nil && len(callee.decl.Recv.List) > 0 && len(callee.decl.Recv.List[0].Names) > 0 {
			bind(sel.X, callee.decl.Recv.List[0].Names[0].Name)
		}
	}
	var names []string
	for _, f := range callee.decl.Type.Params.List {
		for _, n := range f.Names {
			names = append(names, n.Name)
		}
	}
	for i, a := range call.Args {
		if i < len(names) {
			bind(a, names[i])
		}
	}
	if w.u.assumeAll {
		site.top = true
	}
	w.c.sites[fn] = append(w.c.sites[fn], site)
}

// helperLock applies the effect of a same-package method that takes or
// releases its receiver's mutex for its caller (c.lock(), c.unlock()).
func (w *walker) helperLock(call *ast.CallExpr, st state) state {
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok && len(call.Args) == 0 {
		// A local closure that locks (accLock := func() { acc.mu.Lock() }).
		if lit := w.c.lockFuncs[w.c.info.Uses[id]]; lit != nil {
			for key, mode := range w.c.bodyEffects(lit.Body) {
				if mode > 0 {
					st.held[key] = mode
				} else {
					delete(st.held, key)
				}
			}
		}
		return st
	}
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return st
	}
	fn := w.c.calleeOf(call)
	if fn == nil {
		return st
	}
	eff := w.c.lockEffects(fn)
	if len(eff) == 0 {
		return st
	}
	root := w.c.rootObj(sel.X)
	if root == nil {
		return st
	}
	prefix := types.ExprString(sel.X) + "."
	for path, mode := range eff {
		key := lockKey{root: root, path: prefix + path}
		if mode > 0 {
			st.held[key] = mode
		} else {
			delete(st.held, key)
		}
	}
	return st
}

// lockEffects returns what a method does to its receiver's mutexes for
// its caller, by the path below the receiver (mu): a mode when it leaves
// one locked (func (c *C) lock() { c.mu.Lock() }), -1 when it releases
// one it did not take. Only lock calls among the body's top-level
// statements count; a method that locks conditionally, or whose locking
// depends on a parameter, has no effect here.
func (c *checker) lockEffects(fn *types.Func) map[string]int {
	if eff, ok := c.effects[fn]; ok {
		return eff
	}
	c.effects[fn] = nil
	u := c.byFunc[fn]
	if u == nil || u.decl == nil || u.ignore {
		return nil
	}
	recv := receiverObj(c.info, u.decl)
	if recv == nil {
		return nil
	}
	eff := map[string]int{}
	for key, m := range c.bodyEffects(u.decl.Body) {
		if path, ok := strings.CutPrefix(key.path, recv.Name()+"."); ok && key.root == recv {
			eff[path] = m
		}
	}
	if len(eff) == 0 {
		return nil
	}
	c.effects[fn] = eff
	return eff
}

// bodyEffects returns the mutexes a body leaves locked (with their mode)
// or releases without taking them (-1), from the lock calls among its
// top-level statements; a mutex also locked or unlocked anywhere else
// (in a branch, a loop, a closure) is left out: its effect is
// conditional.
func (c *checker) bodyEffects(body *ast.BlockStmt) map[lockKey]int {
	lock := func(call *ast.CallExpr) (lockKey, int, bool) {
		key, d, read, ok := c.lockOf(call)
		switch {
		case !ok:
			return key, 0, false
		case d > 0 && read:
			return key, readMode, true
		case d > 0:
			return key, writeMode, true
		}
		return key, -1, true
	}
	eff := map[lockKey]int{}
	top := map[*ast.CallExpr]bool{}
	for _, s := range body.List {
		switch s := s.(type) {
		case *ast.ExprStmt:
			call, ok := ast.Unparen(s.X).(*ast.CallExpr)
			if !ok {
				continue
			}
			key, m, ok := lock(call)
			if !ok {
				continue
			}
			top[call] = true
			if m < 0 && eff[key] > 0 {
				delete(eff, key)
			} else {
				eff[key] = m
			}
		case *ast.DeferStmt:
			if key, m, ok := lock(s.Call); ok && m < 0 {
				top[s.Call] = true
				delete(eff, key)
			}
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && !top[call] {
			if key, _, ok := lock(call); ok {
				delete(eff, key)
			}
		}
		return true
	})
	return eff
}

func (w *walker) lockCall(call *ast.CallExpr, st state) state {
	key, d, read, ok := w.c.lockOf(call)
	if !ok {
		return st
	}
	if d > 0 {
		mode := writeMode
		if read {
			mode = readMode
		}
		st.held[key] = mode
	} else {
		delete(st.held, key)
	}
	return st
}

// record notes one access with the base's mutexes held at this point.
func (w *walker) record(sel *ast.SelectorExpr, f *types.Var, si *structInfo, op opKind, pos token.Pos, st state) {
	base := sel.X
	root := w.c.rootObj(base)
	if root == nil {
		return
	}
	a := &access{field: f, base: base, pos: pos, op: op, held: map[string]int{}, unit: w.u}
	prefix := types.ExprString(base) + "."
	for _, m := range si.mutexes {
		if mode, ok := st.held[lockKey{root: root, path: prefix + m.Name()}]; ok {
			a.held[m.Name()] = mode
		}
	}
	a.fresh = w.c.fresh(w.u, base, pos) || w.u.fromParam[root]
	w.u.accesses = append(w.u.accesses, a)
}

// report infers each field's guard and reports the accesses that break
// it.
func (c *checker) report() {
	reach := c.reachable()
	byField := map[*types.Var][]*access{}
	fieldStruct := map[*types.Var]*structInfo{}
	var order []*types.Var
	for _, u := range c.units {
		if u.ignore {
			continue
		}
		for _, a := range u.accesses {
			if a.fresh {
				continue
			}
			if _, ok := byField[a.field]; !ok {
				order = append(order, a.field)
			}
			byField[a.field] = append(byField[a.field], a)
		}
	}
	for st, si := range c.structs {
		for i := 0; i < st.NumFields(); i++ {
			fieldStruct[st.Field(i)] = si
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Pos() < order[j].Pos() })
	guards := map[*types.Var]string{}
	for _, f := range order {
		if g := c.reportField(f, fieldStruct[f], byField[f], reach); g != "" {
			guards[f] = g
		}
	}
	c.reportCalls(guards, reach)
}

// reportCalls reports calls, with no lock held on the receiver, of a
// method documented or named as called with its lock held, when that
// method accesses a field whose guard is known: the access inside is
// safe only if its callers lock.
func (c *checker) reportCalls(guards map[*types.Var]string, reach map[*types.Func]bool) {
	var fns []*types.Func
	for fn := range c.sites {
		fns = append(fns, fn)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Pos() < fns[j].Pos() })
	seen := map[token.Pos]bool{}
	for _, fn := range fns {
		callee := c.byFunc[fn]
		if callee == nil || !callee.declared || callee.ignore {
			continue
		}
		// The first guarded field the callee accesses through its receiver.
		var field *types.Var
		var guard string
		var at token.Pos
		recv := receiverObj(c.info, callee.decl)
		if recv == nil || c.locksRecv(callee.decl, recv) {
			continue // its doc is stale: it takes the lock itself
		}
		for _, a := range c.accessesUnder(callee) {
			if recv == nil || c.rootObj(a.base) != recv || types.ExprString(a.base) != recv.Name() {
				continue // guarded by the receiver's mutex only
			}
			if g, ok := guards[a.field]; ok && (field == nil || a.pos < at) {
				field, guard, at = a.field, g, a.pos
			}
		}
		if field == nil {
			continue
		}
		for _, s := range c.sites[fn] {
			if s.recv == nil || s.top || seen[s.pos] || len(s.recvMu) > 0 || s.any {
				continue
			}
			if s.caller.later || (s.caller.argument && s.caller.handed.may(c.info, s.recv)) || s.caller.assumeAll || s.caller.ignore || !s.caller.reachable(reach) {
				continue
			}
			if assumed(&access{unit: s.caller}) || c.fresh(s.caller, s.recv, s.pos) {
				continue
			}
			seen[s.pos] = true
			name := types.ExprString(s.recv)
			maptypes.Reportf(c.pass, s.pos, "call of %s.%s without %s.%s held; %s expects its caller to hold it (it accesses %s.%s at line %d)",
				name, fn.Name(), name, guard, fn.Name(), name, field.Name(), c.pass.Fset.Position(at).Line)
		}
	}
}

// locksRecv reports whether fd's body locks a mutex of its receiver.
func (c *checker) locksRecv(fd *ast.FuncDecl, recv types.Object) bool {
	found := false
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && !found {
			if key, d, _, ok := c.lockOf(call); ok && d > 0 && key.root == recv {
				found = true
			}
			if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && c.rootObj(sel.X) == recv {
				if fn := c.calleeOf(call); fn != nil {
					for _, m := range c.lockEffects(fn) {
						found = found || m > 0
					}
				}
			}
		}
		return !found
	})
	return found
}

// receiverObj returns the receiver variable of a method declaration.
func receiverObj(info *types.Info, fd *ast.FuncDecl) types.Object {
	if fd.Recv == nil || len(fd.Recv.List) == 0 || len(fd.Recv.List[0].Names) == 0 {
		return nil
	}
	return info.Defs[fd.Recv.List[0].Names[0]]
}

// accessesUnder returns the accesses in u and the literals inside it.
func (c *checker) accessesUnder(u *unit) []*access {
	out := append([]*access(nil), u.accesses...)
	for _, v := range c.units {
		for p := v.parent; p != nil; p = p.parent {
			if p == u {
				out = append(out, v.accesses...)
				break
			}
		}
	}
	return out
}

// assumed reports whether an access sits in a body documented or named
// as called with the locks held.
func assumed(a *access) bool {
	for u := a.unit; u != nil; u = u.parent {
		if u.assumeAll {
			return true
		}
		if u.lit == nil || u.root || u.later {
			break
		}
	}
	return false
}

func (c *checker) reportField(f *types.Var, si *structInfo, accs []*access, reach map[*types.Func]bool) string {
	if si == nil {
		return ""
	}
	guard := si.guards[f]
	annotated := guard != ""
	concurrent := false
	for _, a := range accs {
		if a.unit.reachable(reach) {
			concurrent = true
		}
	}
	if !concurrent {
		return ""
	}
	if !annotated {
		// The mutex most accesses hold, if enough do and they are most.
		best, bestN, unheld := "", 0, 0
		counts := map[string]int{}
		for _, a := range accs {
			if assumed(a) {
				continue
			}
			if len(a.held) == 0 {
				if !a.later(c.info) {
					unheld++
				}
				continue
			}
			for m := range a.held {
				counts[m]++
			}
		}
		// Writes exclude each other only under a write lock: a mutex
		// that every write holds in write mode is preferred to one held
		// around more accesses but only read-locked by the writes (nsq's
		// Channel read-locks exitMutex around every use of
		// deferredMessages and locks deferredMutex around its writes).
		exclusive := map[string]bool{}
		first := true
		for _, a := range accs {
			if assumed(a) || !a.op.writes() {
				continue
			}
			for m := range exclusive {
				if a.held[m] != writeMode {
					delete(exclusive, m)
				}
			}
			if first {
				for m, mode := range a.held {
					if mode == writeMode {
						exclusive[m] = true
					}
				}
				first = false
			}
		}
		for _, m := range si.mutexes {
			if len(exclusive) > 0 && !exclusive[m.Name()] {
				continue
			}
			if n := counts[m.Name()]; n > bestN {
				best, bestN = m.Name(), n
			}
		}
		if bestN < minEvidence || bestN <= unheld {
			return ""
		}
		guard = best
	}
	// The evidence: a write under the guard's write lock, else any
	// access holding it.
	var witness *access
	held := 0
	for _, a := range accs {
		if _, ok := a.held[guard]; !ok {
			continue
		}
		held++
		if witness == nil || (a.op.writes() && a.held[guard] == writeMode && !(witness.op.writes() && witness.held[guard] == writeMode)) {
			witness = a
		}
	}
	// A mutex that some write of the field holds besides the guard may
	// guard it too (written under both, read under either); an access
	// holding only mutexes no write holds is as unguarded as one holding
	// nothing (osiris' syncActivatorPod ranges managers under
	// readyActivatorPodsLock).
	coGuard := map[string]bool{}
	for _, a := range accs {
		if a.op.writes() {
			for m := range a.held {
				coGuard[m] = true
			}
		}
	}
	unguarded := func(a *access) bool {
		for m := range a.held {
			if coGuard[m] {
				return false
			}
		}
		return true
	}
	for _, a := range accs {
		if assumed(a) || !a.unit.reachable(reach) {
			continue
		}
		name := types.ExprString(a.base)
		mode, ok := a.held[guard]
		switch {
		case ok && mode == readMode && a.op.writes():
			maptypes.Reportf(c.pass, a.pos, "%s %s.%s under %s.%s.RLock only: other readers hold the same read lock, so two writes can run at once (fatal error: concurrent map writes); take %s.%s.Lock",
				a.op, name, f.Name(), name, guard, name, guard)
		case !ok && unguarded(a) && !a.later(c.info):
			var why string
			if annotated {
				why = fmt.Sprintf("the field is annotated +checklocks:%s", guard)
			} else {
				verb := "accessed"
				if witness.op.writes() {
					verb = "written"
				}
				why = fmt.Sprintf("it is %s under %s.%s at line %d (and %d other accesses hold it)",
					verb, types.ExprString(witness.base), guard, c.pass.Fset.Position(witness.pos).Line, held-1)
			}
			if len(a.held) > 0 {
				var other []string
				for m := range a.held {
					other = append(other, name+"."+m)
				}
				sort.Strings(other)
				why += fmt.Sprintf("; %s, held here, guards no write of it", strings.Join(other, ", "))
			}
			maptypes.Reportf(c.pass, a.pos, "%s %s.%s without %s.%s held; %s", a.op, name, f.Name(), name, guard, why)
		}
	}
	return guard
}

// reachable returns the functions that can run concurrently with other
// code: exported ones, handlers, those started by go or passed as values,
// and everything they call in this package.
func (c *checker) reachable() map[*types.Func]bool {
	reach := map[*types.Func]bool{}
	var visit func(u *unit)
	visit = func(u *unit) {
		for _, fn := range u.calls {
			if reach[fn] {
				continue
			}
			reach[fn] = true
			if v := c.byFunc[fn]; v != nil {
				visit(v)
				for _, l := range c.units {
					if l.parent == v {
						visit(l)
					}
				}
			}
		}
	}
	for _, u := range c.units {
		if u.root {
			if u.obj != nil {
				reach[u.obj] = true
			}
			visit(u)
			for _, l := range c.units {
				if l.parent == u {
					visit(l)
				}
			}
		}
	}
	return reach
}

// Package maptypes recognises the concurrent map types the mapvet
// analyzers know: sync.Map, xsync's, mapguard's and orcaman's
// concurrent-map.
package maptypes

import (
	"go/ast"
	"go/types"
	"strings"
)

// Kind is a family of concurrent map types.
type Kind int

// The families. None is every other type.
const (
	None     Kind = iota
	SyncMap       // sync.Map
	Xsync         // github.com/puzpuzpuz/xsync Map, MapOf
	Mapguard      // github.com/mapguard/mapguard Map, SnapshotMap, observe.Map and observe.SnapshotMap
	Cmap          // github.com/orcaman/concurrent-map ConcurrentMap
)

// String names the family as messages do.
func (k Kind) String() string {
	switch k {
	case SyncMap:
		return "sync.Map"
	case Xsync:
		return "xsync map"
	case Mapguard:
		return "mapguard map"
	case Cmap:
		return "concurrent-map"
	}
	return "not a concurrent map"
}

// Of returns the family of t, looking through one pointer.
func Of(t types.Type) Kind {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return None
	}
	path, name := n.Origin().Obj().Pkg().Path(), n.Origin().Obj().Name()
	switch {
	case path == "sync" && name == "Map":
		return SyncMap
	case strings.HasPrefix(path, "github.com/puzpuzpuz/xsync") && (name == "Map" || name == "MapOf"):
		return Xsync
	case (path == "github.com/mapguard/mapguard" && (name == "Map" || name == "SnapshotMap")) ||
		(path == "github.com/mapguard/mapguard/observe" && (name == "Map" || name == "SnapshotMap")):
		return Mapguard
	case strings.HasPrefix(path, "github.com/orcaman/concurrent-map") && name == "ConcurrentMap":
		return Cmap
	}
	return None
}

// MethodCall reports, for a call of the form recv.Method(args), the
// receiver expression, the method name and the receiver's map family.
func MethodCall(info *types.Info, call *ast.CallExpr) (recv ast.Expr, method string, kind Kind) {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return nil, "", None
	}
	if s := info.Selections[sel]; s == nil || s.Kind() != types.MethodVal {
		return nil, "", None
	}
	return sel.X, sel.Sel.Name, Of(info.TypeOf(sel.X))
}

// SameExpr reports whether a and b denote the same variable or path to
// one (m, s.m, p.maps.sessions): equal text, and the same object at the
// root, so that shadowed names are told apart.
func SameExpr(info *types.Info, a, b ast.Expr) bool {
	if types.ExprString(a) != types.ExprString(b) {
		return false
	}
	ra, rb := root(a), root(b)
	if ra == nil || rb == nil {
		return false
	}
	oa, ob := info.ObjectOf(ra), info.ObjectOf(rb)
	return oa != nil && oa == ob
}

// root returns the identifier at the root of x.f.g, *x, x[i], or nil for
// anything else (calls, literals).
func root(e ast.Expr) *ast.Ident {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			return x
		case *ast.SelectorExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.UnaryExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// IsLockCall reports whether call locks or unlocks a sync.Mutex or
// sync.RWMutex (or anything with those method names and no result, such
// as a wrapper), and which: +1 for Lock and RLock, -1 for Unlock and
// RUnlock, 0 otherwise.
func IsLockCall(info *types.Info, call *ast.CallExpr) (recv ast.Expr, delta int, read bool) {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok || len(call.Args) != 0 {
		return nil, 0, false
	}
	if s := info.Selections[sel]; s == nil || s.Kind() != types.MethodVal {
		return nil, 0, false
	}
	switch sel.Sel.Name {
	case "Lock":
		return sel.X, 1, false
	case "RLock":
		return sel.X, 1, true
	case "Unlock":
		return sel.X, -1, false
	case "RUnlock":
		return sel.X, -1, true
	}
	return nil, 0, false
}

// IsMutex reports whether t (or *t) has Lock and Unlock methods.
// A sync.Mutex, a sync.RWMutex, a pointer to one, or a wrapper type with
// those methods. It looks the two names up rather than building *t's
// method set: lockset calls it for every variable and field its walk
// meets, and a method set sorts every method of the type (most of
// lockset's time on a large package went there).
func IsMutex(t types.Type) bool {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	ptr := types.NewPointer(t)
	has := func(name string) bool {
		obj, _, _ := types.LookupFieldOrMethod(ptr, true, nil, name)
		fn, ok := obj.(*types.Func)
		if !ok {
			return false
		}
		sig := fn.Type().(*types.Signature)
		return sig.Params().Len() == 0 && sig.Results().Len() == 0
	}
	return has("Lock") && has("Unlock")
}

// FuncDecls indexes the package's function declarations by object, for
// analyzers that look into the same-package functions a call reaches.
func FuncDecls(files []*ast.File, info *types.Info) map[*types.Func]*ast.FuncDecl {
	m := map[*types.Func]*ast.FuncDecl{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if fn, ok := info.Defs[fd.Name].(*types.Func); ok {
					m[fn] = fd
				}
			}
		}
	}
	return m
}

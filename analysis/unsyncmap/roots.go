package unsyncmap

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// checkRoots reports map writes, with no lock held, made by code that
// runs concurrently with itself without a go statement in sight:
//
//   - net/http handlers: a ServeHTTP method, and any function, method
//     value or literal of type func(http.ResponseWriter, *http.Request)
//     handed to other code (http.HandleFunc, mux.HandleFunc,
//     http.HandlerFunc(...)): the server runs one call per request, at
//     once;
//   - Prometheus collectors: a method with a chan<- Metric parameter
//     (Collect, and node_exporter-style Update methods Collect calls):
//     the registry collects on every scrape, and scrapes overlap.
//
// A write counts when it goes through the handler's receiver (or a value
// a handler literal captures) or a package-level variable, directly or
// through same-package calls at any depth.
func checkRoots(pass *analysis.Pass, sum *summarizer, reported map[token.Pos]bool) {
	report := func(what string, ws []mapWrite, recv string) {
		for _, w := range ws {
			if w.locked || w.base >= 0 || reported[w.at] {
				continue
			}
			reported[w.at] = true
			maptypes.Reportf(pass, w.at, "%s writes %s with no lock held, and %s: fatal error: concurrent map writes; lock the map on every access, or use sync.Map or a mapguard map",
				what, w.name(recv), runsConcurrently(what))
		}
	}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || fd.Recv == nil {
				continue
			}
			fn, ok := pass.TypesInfo.Defs[fd.Name].(*types.Func)
			if !ok {
				continue
			}
			sig := fn.Type().(*types.Signature)
			recv := "receiver"
			if names := fd.Recv.List[0].Names; len(names) > 0 {
				recv = names[0].Name
			}
			switch {
			case fd.Name.Name == "ServeHTTP" && isHandlerSig(sig):
				report(recvTypeName(sig)+".ServeHTTP", sum.of(fd), recv)
			case hasMetricChan(sig):
				report(recvTypeName(sig)+"."+fd.Name.Name, sum.of(fd), recv)
			}
		}
		// Handler values handed to other code.
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for _, a := range c.Args {
				t, ok := pass.TypesInfo.TypeOf(a).(*types.Signature)
				if !ok || !isHandlerSig(t) {
					continue
				}
				switch a := ast.Unparen(a).(type) {
				case *ast.FuncLit:
					report("the handler literal", sum.literal(a), "")
				case *ast.Ident:
					if fn, ok := pass.TypesInfo.Uses[a].(*types.Func); ok && sum.decls[fn] != nil {
						report("handler "+fn.Name(), sum.of(sum.decls[fn]), "")
					}
				case *ast.SelectorExpr:
					sel := pass.TypesInfo.Selections[a]
					if sel == nil || sel.Kind() != types.MethodVal {
						continue
					}
					if fn, ok := sel.Obj().(*types.Func); ok && sum.decls[fn.Origin()] != nil {
						report("handler "+types.ExprString(a), sum.of(sum.decls[fn.Origin()]), types.ExprString(a.X))
					}
				}
			}
			return true
		})
	}
}

func runsConcurrently(what string) string {
	if len(what) > 0 && (what[0] == 'h' || what[0] == 't' || len(what) > 10 && what[len(what)-10:] == ".ServeHTTP") {
		return "net/http runs a handler once per request, concurrently, so two requests write it at once"
	}
	return "the registry calls it on every scrape and scrapes overlap, so two scrapes write it at once"
}

// isHandlerSig reports whether sig is func(http.ResponseWriter, *http.Request).
func isHandlerSig(sig *types.Signature) bool {
	if sig.Params().Len() != 2 || sig.Results().Len() != 0 {
		return false
	}
	w, ok := sig.Params().At(0).Type().(*types.Named)
	if !ok || w.Obj().Pkg() == nil || w.Obj().Pkg().Path() != "net/http" || w.Obj().Name() != "ResponseWriter" {
		return false
	}
	p, ok := sig.Params().At(1).Type().(*types.Pointer)
	if !ok {
		return false
	}
	r, ok := p.Elem().(*types.Named)
	return ok && r.Obj().Pkg() != nil && r.Obj().Pkg().Path() == "net/http" && r.Obj().Name() == "Request"
}

// hasMetricChan reports whether a method takes a chan<- Metric, the
// channel a Prometheus collector sends its metrics on. Matched by name
// so that no client library is imported.
func hasMetricChan(sig *types.Signature) bool {
	for i := 0; i < sig.Params().Len(); i++ {
		ch, ok := sig.Params().At(i).Type().(*types.Chan)
		if !ok || ch.Dir() != types.SendOnly {
			continue
		}
		if n, ok := ch.Elem().(*types.Named); ok && n.Obj().Name() == "Metric" {
			return true
		}
	}
	return false
}

func recvTypeName(sig *types.Signature) string {
	t := sig.Recv().Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name()
	}
	return types.TypeString(t, nil)
}

// checkLoopWrites reports a go statement in a loop whose goroutine
// writes, with no lock held and at any call depth, a map reached from a
// package-level variable or from a variable declared outside the loop:
// the goroutines of successive iterations write it at once.
func checkLoopWrites(pass *analysis.Pass, sum *summarizer, loop ast.Node, body *ast.BlockStmt, g *ast.GoStmt) bool {
	// Scoped to g, every variable of the starter counts as captured; the
	// loop's own are left out below.
	var ws []mapWrite
	switch f := ast.Unparen(g.Call.Fun).(type) {
	case *ast.FuncLit:
		// Its captured variables are the enclosing function's; its
		// parameters stand for the arguments.
		for _, w := range sum.literal(f) {
			if w.base >= 0 {
				if w.base >= len(g.Call.Args) {
					continue
				}
				base, v, path, ok := sum.chain(g.Call.Args[w.base], nil, g)
				if !ok {
					continue
				}
				w.base, w.v, w.path = base, v, append(append([]*types.Var(nil), path...), w.path...)
			}
			ws = append(ws, w)
		}
	default:
		ws = sum.call(g.Call, nil, g, false)
	}
	for _, w := range ws {
		if w.locked {
			continue
		}
		switch w.base {
		case basePkg:
		case baseCaptured:
			if w.v == nil || (loop.Pos() <= w.v.Pos() && w.v.Pos() < loop.End()) {
				continue // a variable of each iteration
			}
		default:
			continue
		}
		if orderedAfter(pass, body, g, true) {
			return false
		}
		maptypes.Reportf(pass, g.Pos(), "go statement in a loop: each goroutine writes %s (%s) with no lock, so the goroutines of successive iterations write it at once: fatal error: concurrent map writes; lock the writes, wait for each goroutine, or use sync.Map or a mapguard map",
			w.name(""), where(pass, g.Pos(), w.at))
		return true
	}
	return false
}

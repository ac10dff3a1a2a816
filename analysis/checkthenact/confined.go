package checkthenact

import (
	"go/ast"
	"go/types"
	"regexp"
	"strings"

	"github.com/mapguard/mapguard/analysis/internal/maptypes"
)

// loopDoc matches a doc comment saying the function runs on one loop:
// "<Invoked from outbound connection's readLoop>", "called only from the
// run loop".
var loopDoc = regexp.MustCompile(`\b(invoked|called)\s+(only\s+)?(from|by|on|in)\b[^.]*loop`)

// manyLoops matches the words that make such a sentence about several
// goroutines: "invoked from any client connection's readLoop", "from
// both inbound and outbound readLoops", "the readLoop or a timer".
var manyLoops = regexp.MustCompile(`\b(any|various|multiple|different|several|both|or|every|all)\b`)

// loopConfined returns the receiver of fd when fd's doc comment says the
// method runs on a loop (its receiver's own goroutine, such as a
// connection's read loop) and names no other goroutine; nil otherwise.
// A check-then-act on a map the receiver owns cannot race there: the
// loop is the only goroutine that runs it.
func loopConfined(info *types.Info, fd *ast.FuncDecl) types.Object {
	if fd.Doc == nil || fd.Recv == nil || len(fd.Recv.List) == 0 || len(fd.Recv.List[0].Names) == 0 {
		return nil
	}
	for _, sentence := range strings.Split(strings.ToLower(fd.Doc.Text()), ".") {
		if loopDoc.MatchString(sentence) && !manyLoops.MatchString(sentence) {
			return info.Defs[fd.Recv.List[0].Names[0]]
		}
	}
	return nil
}

// ownedBy reports whether the map e is reached from owner through
// fields, none of them on the way a pointer to a value with a mutex of
// its own: c.gw.outsim is the connection's (its gateway part has no
// lock), c.srv.accounts is not (the server it points to is shared, and
// locks itself).
func ownedBy(info *types.Info, e ast.Expr, owner types.Object) bool {
	hop := false
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			return owner != nil && info.ObjectOf(x) == owner
		case *ast.SelectorExpr:
			if sel := info.Selections[x]; sel == nil || sel.Kind() != types.FieldVal {
				return false
			}
			if hop && sharedPointee(info.TypeOf(x)) {
				return false
			}
			hop = true
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return false
		}
	}
}

// sharedPointee reports whether t points to a struct with a mutex
// field (maptypes.IsMutex: a sync.Mutex or RWMutex, a pointer to one, or
// a wrapper with Lock and Unlock).
func sharedPointee(t types.Type) bool {
	p, ok := t.Underlying().(*types.Pointer)
	if !ok {
		return false
	}
	st, ok := p.Elem().Underlying().(*types.Struct)
	if !ok {
		return false
	}
	for i := 0; i < st.NumFields(); i++ {
		if maptypes.IsMutex(st.Field(i).Type()) {
			return true
		}
	}
	return false
}

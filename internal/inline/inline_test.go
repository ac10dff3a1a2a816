package inline_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/mapguard/mapguard/internal/inline"
)

func mustNew[K comparable, V any](t testing.TB, collide bool) *inline.Map[K, V] {
	t.Helper()
	var (
		m   *inline.Map[K, V]
		err error
	)
	if collide {
		m, err = inline.NewColliding[K, V]()
	} else {
		m, err = inline.New[K, V]()
	}
	if err != nil {
		t.Fatalf("New[%v, %v]: %v", reflect.TypeFor[K](), reflect.TypeFor[V](), err)
	}
	return m
}

func refuses[K comparable, V any](t *testing.T) {
	t.Helper()
	m, err := inline.New[K, V]()
	if m != nil || !errors.Is(err, inline.ErrPointers) {
		t.Errorf("New[%v, %v] = %v, %v; want nil, an ErrPointers", reflect.TypeFor[K](), reflect.TypeFor[V](), m, err)
	}
}

func accepts[K comparable, V any](t *testing.T) {
	t.Helper()
	if _, err := inline.New[K, V](); err != nil {
		t.Errorf("New[%v, %v]: %v; want a map", reflect.TypeFor[K](), reflect.TypeFor[V](), err)
	}
}

type flat struct {
	A int8
	B float64
	C [2]uint16
	D bool
	E complex64
}

type hidden struct {
	A int
	B struct{ C [1]*int }
}

func TestNewRefusesPointers(t *testing.T) {
	refuses[string, int](t)
	refuses[int, string](t)
	refuses[*int, int](t)
	refuses[int, []int](t)
	refuses[int, map[int]int](t)
	refuses[any, int](t)
	refuses[int, chan int](t)
	refuses[int, func()](t)
	refuses[unsafe.Pointer, int](t)
	refuses[[2]string, int](t)
	refuses[int, hidden](t)
	refuses[struct {
		A int
		S string
	}, int](t)
}

func TestNewAcceptsPointerFree(t *testing.T) {
	accepts[int, int](t)
	accepts[uint8, bool](t)
	accepts[uintptr, float32](t)
	accepts[float64, complex128](t)
	accepts[[4]uint64, [3]int32](t)
	accepts[flat, flat](t)
	accepts[struct{}, struct{}](t)
	accepts[[0]string, int](t) // a zero-length array holds nothing
}

// TestLayout pins the word layout: sizes rounded up to 8 bytes, a bucket of
// a header and 8 slots, and cache-line lock stripes.
func TestLayout(t *testing.T) {
	check := func(name string, kw, vw, bw, wantK, wantV int) {
		t.Helper()
		if kw != wantK || vw != wantV || bw != inline.HdrWords+inline.SlotsPerBucket*(wantK+wantV) {
			t.Errorf("%s: got kw %d vw %d bw %d; want %d %d %d", name, kw, vw, bw, wantK, wantV, inline.HdrWords+inline.SlotsPerBucket*(wantK+wantV))
		}
	}
	kw, vw, bw := inline.Layout(mustNew[int, int](t, false))
	check("int->int", kw, vw, bw, 1, 1)
	if bw*8 != 144 {
		t.Errorf("int->int bucket is %d bytes; want 144 (18 bytes per slot)", bw*8)
	}
	if obw := inline.OverflowWords(mustNew[int, int](t, false)); obw*8 != 80 {
		t.Errorf("int->int overflow bucket is %d bytes; want 80 (a header and 4 slots)", obw*8)
	}
	kw, vw, bw = inline.Layout(mustNew[int32, [3]int32](t, false))
	check("int32->[3]int32", kw, vw, bw, 1, 2)
	kw, vw, bw = inline.Layout(mustNew[struct{}, flat](t, false))
	check("struct{}->flat", kw, vw, bw, 0, int((unsafe.Sizeof(flat{})+7)/8))
	if inline.LockSize != 64 {
		t.Errorf("lock stripe is %d bytes; want 64", inline.LockSize)
	}
}

// op is one operation of a differential sequence.
type op struct {
	kind  uint8 // see opKinds
	key   int
	value int
}

// opKinds is the number of operation kinds runOps knows: 0 Load, 1 Store,
// 2 LoadOrStore, 3 Delete, 4 Len, 5 Range, 6 Swap, 7 LoadAndStore,
// 8 LoadAndDelete, 9 CompareAndSwap, 10 CompareAndDelete, 11 Compute,
// 12 LoadOrCompute, 13 Clear, 14 a Compute or LoadOrCompute whose function
// panics.
const opKinds = 15

// computeFor returns the ComputeOp runOps's Compute asks for, chosen by the
// op's value.
func computeFor(v int) inline.ComputeOp {
	return [...]inline.ComputeOp{inline.UpdateOp, inline.DeleteOp, inline.CancelOp}[v%3]
}

// bigValue is a multi-word value whose words all follow from one int.
type bigValue struct {
	A, B int64
	C    [2]uint32
}

func big(v int) bigValue {
	return bigValue{A: int64(v), B: int64(-v), C: [2]uint32{uint32(v), uint32(v >> 1)}}
}

// smallKey is a key narrower than a word, hashed by maphash.Comparable.
type smallKey struct {
	A int16
	B uint8
}

func keyOf(k int) smallKey { return smallKey{A: int16(k), B: uint8(k >> 3)} }

// runOps applies ops to m and to a mutex-guarded builtin map through
// conversions kf and vf, and fails at the first difference.
func runOps[K comparable, V comparable](t *testing.T, m *inline.Map[K, V], ops []op, kf func(int) K, vf func(int) V) {
	t.Helper()
	var (
		mu  sync.Mutex
		ref = map[K]V{}
	)
	for i, o := range ops {
		k, v := kf(o.key), vf(o.value)
		mu.Lock()
		switch o.kind % opKinds {
		case 0:
			got, ok := m.Load(k)
			want, wok := ref[k]
			if got != want || ok != wok {
				t.Fatalf("op %d Load(%v): got %v, %v; want %v, %v", i, k, got, ok, want, wok)
			}
		case 1:
			m.Store(k, v)
			ref[k] = v
		case 2:
			got, loaded := m.LoadOrStore(k, v)
			want, wloaded := ref[k]
			if !wloaded {
				want = v
				ref[k] = v
			}
			if got != want || loaded != wloaded {
				t.Fatalf("op %d LoadOrStore(%v, %v): got %v, %v; want %v, %v", i, k, v, got, loaded, want, wloaded)
			}
		case 3:
			m.Delete(k)
			delete(ref, k)
		case 4:
			if got, want := m.Len(), len(ref); got != want {
				t.Fatalf("op %d Len: got %d; want %d", i, got, want)
			}
		case 5:
			checkRange(t, m, ref)
		case 6:
			got, loaded := m.Swap(k, v)
			want, wloaded := ref[k]
			ref[k] = v
			if got != want || loaded != wloaded {
				t.Fatalf("op %d Swap(%v, %v): got %v, %v; want %v, %v", i, k, v, got, loaded, want, wloaded)
			}
		case 7:
			got, loaded := m.LoadAndStore(k, v)
			want, wloaded := ref[k]
			if !wloaded {
				want = v
			}
			ref[k] = v
			if got != want || loaded != wloaded {
				t.Fatalf("op %d LoadAndStore(%v, %v): got %v, %v; want %v, %v", i, k, v, got, loaded, want, wloaded)
			}
		case 8:
			got, loaded := m.LoadAndDelete(k)
			want, wloaded := ref[k]
			delete(ref, k)
			if got != want || loaded != wloaded {
				t.Fatalf("op %d LoadAndDelete(%v): got %v, %v; want %v, %v", i, k, got, loaded, want, wloaded)
			}
		case 9, 10:
			// Half the time compare with the present value, so that
			// some comparisons succeed.
			old := vf(o.value + 1)
			cur, present := ref[k]
			if present && o.value%2 == 0 {
				old = cur
			}
			wantOK := present && cur == old
			var got bool
			if o.kind%opKinds == 9 {
				got = m.CompareAndSwap(k, old, v)
				if wantOK {
					ref[k] = v
				}
			} else {
				got = m.CompareAndDelete(k, old)
				if wantOK {
					delete(ref, k)
				}
			}
			if got != wantOK {
				t.Fatalf("op %d Compare(kind %d)(%v, %v): got %v; want %v", i, o.kind%opKinds, k, old, got, wantOK)
			}
		case 11:
			want, wloaded := ref[k]
			calls := 0
			got, ok := m.Compute(k, func(old V, loaded bool) (V, inline.ComputeOp) {
				calls++
				if old != want || loaded != wloaded {
					t.Fatalf("op %d Compute(%v): fn got %v, %v; want %v, %v", i, k, old, loaded, want, wloaded)
				}
				return v, computeFor(o.value)
			})
			switch computeFor(o.value) {
			case inline.UpdateOp:
				ref[k] = v
			case inline.DeleteOp:
				delete(ref, k)
			}
			want, wok := ref[k]
			if calls != 1 || got != want || ok != wok {
				t.Fatalf("op %d Compute(%v): got %v, %v after %d calls; want %v, %v after 1", i, k, got, ok, calls, want, wok)
			}
		case 12:
			cancel := o.value%4 == 0
			want, wloaded := ref[k]
			if !wloaded && !cancel {
				want = v
				ref[k] = v
			}
			calls := 0
			got, loaded := m.LoadOrCompute(k, func() (V, bool) { calls++; return v, cancel })
			if wantCalls := map[bool]int{true: 0, false: 1}[wloaded]; calls != wantCalls {
				t.Fatalf("op %d LoadOrCompute(%v): fn ran %d times; want %d", i, k, calls, wantCalls)
			}
			if got != want || loaded != wloaded {
				t.Fatalf("op %d LoadOrCompute(%v, cancel %v): got %v, %v; want %v, %v", i, k, cancel, got, loaded, want, wloaded)
			}
		case 13:
			m.Clear()
			clear(ref)
		case 14:
			// The map must be left as it was, its chain unlocked: later
			// ops check the first, and any later write to the chain the
			// second (with every key colliding, all writes do).
			if want, present := ref[k]; o.value%2 == 1 && present {
				// LoadOrCompute does not call fn for a present key.
				if got, loaded := m.LoadOrCompute(k, func() (V, bool) { panic(errBoom) }); got != want || !loaded {
					t.Fatalf("op %d LoadOrCompute(%v): got %v, %v; want %v, true", i, k, got, loaded, want)
				}
				break
			}
			mustPanic(t, func() {
				if o.value%2 == 0 {
					m.Compute(k, func(V, bool) (V, inline.ComputeOp) { panic(errBoom) })
				} else {
					m.LoadOrCompute(k, func() (V, bool) { panic(errBoom) })
				}
			})
		}
		mu.Unlock()
	}
	checkRange(t, m, ref)
	if got, want := m.Len(), len(ref); got != want {
		t.Fatalf("final Len: got %d; want %d", got, want)
	}
}

// errBoom is what the panicking callbacks of the tests panic with.
var errBoom = errors.New("boom")

// mustPanic calls f and fails unless it panics with errBoom.
func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != errBoom {
			t.Fatalf("recovered %v; want %v", r, errBoom)
		}
	}()
	f()
	t.Fatal("no panic")
}

// checkRange asserts that Range visits exactly ref's entries, each once.
func checkRange[K comparable, V comparable](t *testing.T, m *inline.Map[K, V], ref map[K]V) {
	t.Helper()
	seen := map[K]V{}
	m.Range(func(k K, v V) bool {
		if _, dup := seen[k]; dup {
			t.Fatalf("Range visited %v twice", k)
		}
		seen[k] = v
		return true
	})
	if len(seen) != len(ref) {
		t.Fatalf("Range visited %d keys; want %d", len(seen), len(ref))
	}
	for k, v := range ref {
		if got, ok := seen[k]; !ok || got != v {
			t.Fatalf("Range: key %v got %v, %v; want %v", k, got, ok, v)
		}
	}
}

// randomOps returns n operations over keys [0, keys), biased to stores so
// that the map grows past several tables.
func randomOps(r *rand.Rand, n, keys int) []op {
	ops := make([]op, n)
	for i := range ops {
		kind := uint8(r.IntN(40))
		switch {
		case kind < 10:
			kind = 0
		case kind < 20:
			kind = 1
		case kind < 24:
			kind = 2
		case kind < 28:
			kind = 3
		case kind < 38:
			kind = uint8(6 + r.IntN(7)) // Swap .. LoadOrCompute
		case kind == 38:
			kind = 14
			if r.IntN(n) == 0 {
				kind = 13 // about one Clear a sequence
			}
		case r.IntN(8) == 0:
			kind = 5
		default:
			kind = 4
		}
		ops[i] = op{kind: kind, key: r.IntN(keys), value: r.Int()}
	}
	return ops
}

// TestDifferential runs random operation sequences on maps of several
// shapes, with the real hash and with every key colliding, and with reads
// that always lock, against a builtin map.
func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, collide := range []bool{false, true} {
		for _, keys := range []int{8, 300, 5000} {
			if collide && keys > 300 {
				continue // every op walks one chain: quadratic
			}
			name := map[bool]string{false: "hash", true: "collide"}[collide]
			ops := randomOps(r, 6*keys+200, keys)
			t.Run(name+"/int->int", func(t *testing.T) {
				runOps(t, mustNew[int, int](t, collide), ops, func(k int) int { return k }, func(v int) int { return v })
			})
			t.Run(name+"/smallKey->bigValue", func(t *testing.T) {
				runOps(t, mustNew[smallKey, bigValue](t, collide), ops, keyOf, big)
			})
			t.Run(name+"/uint8->struct{}", func(t *testing.T) {
				runOps(t, mustNew[uint8, struct{}](t, collide), ops, func(k int) uint8 { return uint8(k) }, func(int) struct{} { return struct{}{} })
			})
			t.Run(name+"/locked-reads", func(t *testing.T) {
				m := mustNew[int, bigValue](t, collide)
				inline.SetReadRetries(m, 0)
				runOps(t, m, ops, func(k int) int { return k }, big)
			})
		}
	}
}

// FuzzOps decodes operation sequences from bytes: 3 bytes an op (kind, key,
// value). The seed corpus runs in plain go test.
func FuzzOps(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0, 1, 0, 3, 1, 0, 0, 1, 0, 4, 0, 0})
	seq := make([]byte, 0, 3*400)
	for i := range 400 { // enough distinct keys to grow twice
		seq = append(seq, 1, byte(i), byte(i*7))
	}
	f.Add(seq)
	f.Add(append(append([]byte{}, seq...), 3, 5, 0, 5, 0, 0, 2, 5, 9, 0, 5, 0))
	f.Add([]byte{11, 1, 0, 12, 2, 1, 14, 1, 0, 14, 3, 1, 9, 1, 0, 10, 2, 2, 6, 4, 0, 7, 5, 0, 8, 5, 0, 13, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var ops []op
		for i := 0; i+3 <= len(data); i += 3 {
			ops = append(ops, op{kind: data[i], key: int(data[i+1]), value: int(data[i+2])})
		}
		runOps(t, mustNew[int, bigValue](t, false), ops, func(k int) int { return k }, big)
		runOps(t, mustNew[smallKey, int](t, true), ops, keyOf, func(v int) int { return v })
	})
}

// TestCollidingChain stores enough colliding keys for a chain of many
// overflow buckets, deletes every other one and refills, checking every key.
func TestCollidingChain(t *testing.T) {
	const n = 1000
	m := mustNew[int, [3]int](t, true)
	for i := range n {
		m.Store(i, [3]int{i, i, i})
	}
	roots, overflow := inline.Buckets(m)
	if minOvf := n/inline.SlotsPerBucket - 1; overflow < minOvf {
		t.Fatalf("%d colliding keys in %d overflow buckets (%d roots); want at least %d", n, overflow, roots, minOvf)
	}
	for i := 0; i < n; i += 2 {
		m.Delete(i)
	}
	for i := range n {
		v, ok := m.Load(i)
		if want := i%2 == 1; ok != want || (ok && v != [3]int{i, i, i}) {
			t.Fatalf("Load(%d) = %v, %v; want present %v", i, v, ok, want)
		}
	}
	_, ovfBefore := inline.Buckets(m)
	for i := 0; i < n; i += 2 {
		if _, loaded := m.LoadOrStore(i, [3]int{-i}); loaded {
			t.Fatalf("LoadOrStore(%d) found a deleted key", i)
		}
	}
	if _, ovf := inline.Buckets(m); ovf != ovfBefore {
		t.Errorf("refilling deleted slots allocated %d overflow buckets; want 0", ovf-ovfBefore)
	}
	var keys []int
	m.Range(func(k int, _ [3]int) bool { keys = append(keys, k); return true })
	sort.Ints(keys)
	if len(keys) != n || keys[0] != 0 || keys[n-1] != n-1 {
		t.Fatalf("Range saw %d keys; want %d distinct", len(keys), n)
	}
	if m.Len() != n {
		t.Fatalf("Len = %d; want %d", m.Len(), n)
	}
}

// TestRangeStops asserts Range stops when f returns false.
func TestRangeStops(t *testing.T) {
	m := mustNew[int, int](t, false)
	for i := range 100 {
		m.Store(i, i)
	}
	calls := 0
	m.Range(func(int, int) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Fatalf("Range called f %d times after it returned false on the 3rd; want 3", calls)
	}
}

// TestFloatKeysAsBuiltin checks float keys against a builtin map: +0 and -0
// are one key (compared with ==, not word by word), and every NaN is a new
// key that no lookup finds.
func TestFloatKeysAsBuiltin(t *testing.T) {
	m := mustNew[float64, int](t, false)
	ref := map[float64]int{}
	negZero := math.Copysign(0, -1)
	nan := math.NaN()
	for i, k := range []float64{0, negZero, nan, nan, 1.5, negZero} {
		m.Store(k, i)
		ref[k] = i
	}
	if m.Len() != len(ref) {
		t.Fatalf("Len = %d; want %d (builtin map)", m.Len(), len(ref))
	}
	for _, k := range []float64{0, negZero, nan, 1.5} {
		got, ok := m.Load(k)
		want, wok := ref[k]
		if got != want || ok != wok {
			t.Errorf("Load(%v) = %d, %v; want %d, %v", k, got, ok, want, wok)
		}
	}
	nans, refNaNs := 0, 0
	m.Range(func(k float64, _ int) bool {
		if k != k {
			nans++
		}
		return true
	})
	for k := range ref {
		if k != k {
			refNaNs++
		}
	}
	if nans != refNaNs {
		t.Errorf("Range saw %d NaN keys; want %d", nans, refNaNs)
	}
}

// TestStdlibOnly enforces that the package imports only the standard
// library, as the root package that will absorb it must.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "github.com/mapguard/mapguard/internal/inline" {
		t.Fatalf("inline depends on non-standard packages: %v", deps)
	}
}

// TestComputePanicLeavesMapUnchanged has Compute and LoadOrCompute
// callbacks panic on present and absent keys of one chain (every key
// colliding, one overflow bucket deep): the panic reaches the caller, the
// map holds what it held, its readers never see an open write (no read
// falls back to the lock), and a later write to the chain completes.
func TestComputePanicLeavesMapUnchanged(t *testing.T) {
	m := mustNew[int, bigValue](t, true)
	ref := map[int]bigValue{}
	for k := range 12 { // a root bucket and an overflow bucket
		m.Store(k, big(k))
		ref[k] = big(k)
	}
	check := func(what string, k int) {
		t.Helper()
		locked := inline.LockedReads(m)
		for k := range 12 {
			if v, ok := m.Load(k); !ok || v != ref[k] {
				t.Fatalf("after a panicking %s, Load(%d) = %+v, %v; want %+v, true", what, k, v, ok, ref[k])
			}
		}
		if _, ok := m.Load(k); ok && k >= 1000 {
			t.Fatalf("after a panicking %s, key %d is present", what, k)
		}
		if got := inline.LockedReads(m) - locked; got != 0 {
			t.Fatalf("after a panicking %s, %d Loads fell back to the lock: the sequence counter was left odd", what, got)
		}
		checkRange(t, m, ref)
		if m.Len() != len(ref) {
			t.Fatalf("after a panicking %s, Len = %d; want %d", what, m.Len(), len(ref))
		}
	}
	for _, k := range []int{0, 11, 100} { // root, overflow, absent
		mustPanic(t, func() {
			m.Compute(k, func(old bigValue, loaded bool) (bigValue, inline.ComputeOp) {
				panic(errBoom)
			})
		})
		check("Compute", k)
		mustPanic(t, func() {
			m.LoadOrCompute(k+1000, func() (bigValue, bool) { panic(errBoom) })
		})
		check("LoadOrCompute", k+1000)
		done := make(chan struct{})
		go func() {
			m.Store(k, big(-k))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a Store to the chain did not complete in 5 s: the panic left its lock held")
		}
		ref[k] = big(-k)
	}
	checkRange(t, m, ref)
}

// TestCompareFloatValuesAsRoot checks CompareAndSwap and CompareAndDelete
// compare values with ==, as the root package does: +0 equals -0, a NaN
// equals nothing, even itself, and so does a struct holding one.
func TestCompareFloatValuesAsRoot(t *testing.T) {
	type withFloat struct {
		N int
		F float64
	}
	m := mustNew[int, withFloat](t, false)
	nan := math.NaN()
	m.Store(1, withFloat{1, nan})
	m.Store(2, withFloat{2, 0})
	if m.CompareAndSwap(1, withFloat{1, nan}, withFloat{1, 1}) {
		t.Error("CompareAndSwap matched a value holding NaN")
	}
	if m.CompareAndDelete(1, withFloat{1, nan}) {
		t.Error("CompareAndDelete matched a value holding NaN")
	}
	if !m.CompareAndSwap(2, withFloat{2, math.Copysign(0, -1)}, withFloat{2, 5}) {
		t.Error("CompareAndSwap: -0 did not match +0")
	}
	if v, _ := m.Load(2); v != (withFloat{2, 5}) {
		t.Errorf("Load(2) = %+v; want {2 5}", v)
	}
	if !m.CompareAndDelete(2, withFloat{2, 5}) {
		t.Error("CompareAndDelete of the present value failed")
	}
	if m.Len() != 1 {
		t.Errorf("Len = %d; want 1", m.Len())
	}
}

// TestWritesAllocateNothing asserts every write operation on present and
// absent keys of a table that needs no grow allocates nothing: values are
// compared without boxing, and requests and callbacks stay on the stack.
func TestWritesAllocateNothing(t *testing.T) {
	m := mustNew[int, bigValue](t, false)
	for i := range 1000 {
		m.Store(i, big(i))
	}
	i := 0
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Swap", func() { m.Swap(i%1000, big(i)) }},
		{"LoadAndStore", func() { m.LoadAndStore(i%1000, big(i)) }},
		{"CompareAndSwap", func() { v, _ := m.Load(i % 1000); m.CompareAndSwap(i%1000, v, big(i)) }},
		{"CompareAndDelete+Store", func() { v, _ := m.Load(i % 1000); m.CompareAndDelete(i%1000, v); m.Store(i%1000, v) }},
		{"LoadAndDelete+Store", func() { m.LoadAndDelete(i % 1000); m.Store(i%1000, big(i)) }},
		{"Compute", func() {
			m.Compute(i%1000, func(bigValue, bool) (bigValue, inline.ComputeOp) { return big(i), inline.UpdateOp })
		}},
		{"LoadOrCompute", func() { m.LoadOrCompute(i%1000+5000, func() (bigValue, bool) { return big(i), true }) }},
	} {
		if a := testing.AllocsPerRun(1000, func() { i++; c.f() }); a != 0 {
			t.Errorf("%s: %v allocations a call; want 0", c.name, a)
		}
	}
}

package mapguard_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mapguard/mapguard"
)

// linOp names a recorded operation.
type linOp uint8

const (
	linLoad linOp = iota
	linStore
	linLoadOrStore
	linLoadAndDelete
	linDelete
	linCompareAndSwap
	linCompute
	linSnapshot // SnapshotMap.Snapshot, then reads of the View
	linClear    // every key; the partition gives each key's history a copy
)

var linOpNames = [...]string{"Load", "Store", "LoadOrStore", "LoadAndDelete", "Delete", "CompareAndSwap", "Compute", "Snapshot", "Clear"}

type linInput struct {
	op    linOp
	key   int
	value int
	old   int // CompareAndSwap
}

type linOutput struct {
	value int
	ok    bool
	view  string // Snapshot: the View's contents, "k=v;" by key
}

// computeStep is the deterministic Compute callback used in histories (the
// rule internal/lincheck's ComputeStep specifies, which its model applies): add
// the input, and delete when the sum is a multiple of 5.
func computeStep(old int, loaded bool, add int) (int, mapguard.ComputeOp) {
	n := add
	if loaded {
		n = old + add
	}
	if n%5 == 0 {
		return 0, mapguard.DeleteOp
	}
	return n, mapguard.UpdateOp
}

// linRecord is one recorded operation, in the JSON form the lincheck
// command reads (internal/lincheck: porcupine, in a module of its own, so
// that this module requires nothing).
type linRecord struct {
	Client int    `json:"client"`
	Op     string `json:"op"`
	Key    int    `json:"key"`
	Value  int    `json:"value"`
	Old    int    `json:"old"`
	Out    int    `json:"out"`
	OK     bool   `json:"ok"`
	View   string `json:"view,omitempty"`
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
}

func newLinRecord(client int, in linInput, out linOutput, call, ret int64) linRecord {
	return linRecord{Client: client, Op: linOpNames[in.op], Key: in.key, Value: in.value, Old: in.old,
		Out: out.value, OK: out.ok, View: out.view, Call: call, Return: ret}
}

var lincheckBuild struct {
	once sync.Once
	path string
	dir  string // the temporary directory path is in, if built here
	err  error
}

// TestMain removes the lincheck command built into a temporary directory
// once the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if lincheckBuild.dir != "" {
		os.RemoveAll(lincheckBuild.dir)
	}
	os.Exit(code)
}

// lincheckCommand returns the lincheck command: $MAPGUARD_LINCHECK if set
// (scripts/test builds it once, natively, for the emulated runs), else one
// built from the workspace (go.work) into a temporary directory.
func lincheckCommand() (string, error) {
	b := &lincheckBuild
	b.once.Do(func() {
		if p := os.Getenv("MAPGUARD_LINCHECK"); p != "" {
			b.path = p
			return
		}
		dir, err := os.MkdirTemp("", "lincheck")
		if err != nil {
			b.err = err
			return
		}
		b.dir, b.path = dir, filepath.Join(dir, "lincheck")
		cmd := exec.Command("go", "build", "-o", b.path, "github.com/mapguard/mapguard/internal/lincheck/cmd/lincheck")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build of the lincheck command (it needs the repository's go.work): %v\n%s", err, out)
		}
	})
	return b.path, b.err
}

// checkLinearizable checks history with the lincheck command against
// model ("key": key by key; "view": the whole map on hotKeys keys, with
// Snapshot), and fails t if it is not linearizable or undecided within
// 20 s. Where the command cannot be built (the module outside its
// repository), the test is skipped, unless MAPGUARD_REQUIRE_LINCHECK=1
// (scripts/test) makes that a failure.
func checkLinearizable(t *testing.T, model string, hotKeys int, history []linRecord) {
	t.Helper()
	in, err := json.Marshal(map[string]any{"model": model, "hot_keys": hotKeys, "ops": history})
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("MAPGUARD_HISTORIES"); dir != "" {
		// Where this process cannot start another (qemu-i386): the
		// history is written for lincheck to check afterwards
		// (scripts/test).
		f, err := os.CreateTemp(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-*.json")
		if err == nil {
			_, err = f.Write(in)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if code, out := runLincheck(t, in, "-timeout", "20s"); code != 0 {
		t.Fatalf("history of %d operations: lincheck exited %d\n%s", len(history), code, out)
	}
}

// runLincheck runs the lincheck command with args on the history in and
// returns its exit code and output. Where the command cannot be built (the
// module outside its repository), the test is skipped, unless
// MAPGUARD_REQUIRE_LINCHECK=1 (scripts/test) makes that a failure.
func runLincheck(t *testing.T, in []byte, args ...string) (code int, out []byte) {
	t.Helper()
	bin, err := lincheckCommand()
	if err != nil {
		if os.Getenv("MAPGUARD_REQUIRE_LINCHECK") == "1" {
			t.Fatal(err)
		}
		t.Skipf("histories recorded, NOT checked: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &ee):
		return ee.ExitCode(), out
	}
	t.Fatalf("running lincheck: %v", err)
	return -1, nil
}

// recordHistory runs clients goroutines each doing perClient random
// operations, drawn from ops, on hotKeys keys through do, while background
// (if not nil) runs until they finish, and returns the history.
func recordHistory(do func(linInput) linOutput, ops []linOp, clients, perClient, hotKeys int, seed uint64, background func(stop <-chan struct{})) []linRecord {
	var clock atomic.Int64
	history := make([][]linRecord, clients)
	stop := make(chan struct{})
	var bg sync.WaitGroup
	if background != nil {
		bg.Go(func() { background(stop) })
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			<-start
			for range perClient {
				if r.IntN(8) == 0 {
					runtime.Gosched() // let other clients interleave
				}
				in := linInput{op: ops[r.IntN(len(ops))], key: r.IntN(hotKeys), value: r.IntN(9) + 1, old: r.IntN(4)}
				call := clock.Add(1)
				out := do(in)
				ret := clock.Add(1)
				history[c] = append(history[c], newLinRecord(c, in, out, call, ret))
			}
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	bg.Wait()
	var all []linRecord
	for _, h := range history {
		all = append(all, h...)
	}
	return all
}

// allLinOps is every recorded operation; Map supports them all.
var allLinOps = []linOp{linLoad, linStore, linLoadOrStore, linLoadAndDelete, linDelete, linCompareAndSwap, linCompute}

// mapOp runs one recorded operation on m.
func mapOp(m testMap[int, int]) func(linInput) linOutput {
	return func(in linInput) (out linOutput) {
		switch in.op {
		case linLoad:
			out.value, out.ok = m.Load(in.key)
		case linStore:
			m.Store(in.key, in.value)
		case linLoadOrStore:
			out.value, out.ok = m.LoadOrStore(in.key, in.value)
		case linLoadAndDelete:
			out.value, out.ok = m.LoadAndDelete(in.key)
		case linDelete:
			m.Delete(in.key)
		case linClear:
			m.Clear()
		case linCompareAndSwap:
			out.ok = m.CompareAndSwap(in.key, in.old, in.value)
		case linCompute:
			out.value, out.ok = m.Compute(in.key, func(old int, loaded bool) (int, mapguard.ComputeOp) {
				return computeStep(old, loaded, in.value)
			})
		}
		return out
	}
}

// churn grows and shrinks m's table with keys the clients never use, until
// stop is closed.
func churn(m testMap[int, int]) func(stop <-chan struct{}) {
	return func(stop <-chan struct{}) {
		for {
			for i := range 400 {
				select {
				case <-stop:
					return
				default:
				}
				m.Store(1000+i, i)
			}
			for i := range 400 {
				m.Delete(1000 + i)
			}
			runtime.Gosched()
		}
	}
}

// TestLinearizable records concurrent histories of single-key operations on
// hot keys, with resizes running underneath, and checks each against the
// sequential model with porcupine.
func TestLinearizable(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	clients := max(4, 2*runtime.GOMAXPROCS(0))
	for _, c := range constructors[int, int]() {
		t.Run(c.name, func(t *testing.T) {
			// Record at least rounds histories, and more (up to 5x) until a
			// resize has run under one of them.
			var resizes uint64
			for round := 0; round < rounds || resizes == 0 && !c.presized && round < 5*rounds; round++ {
				m := c.make()
				history := recordHistory(mapOp(m), allLinOps, clients, 150, 3, uint64(round), churn(m))
				s := m.Stats()
				resizes += s.Grows + s.Shrinks
				checkLinearizable(t, "key", 0, history)
			}
			if resizes == 0 && !c.presized {
				t.Errorf("no resize ran under %d histories; the churner did not exercise resizing", rounds)
			}
		})
	}
}

// TestLinearizableWithClear is TestLinearizable with Clear among the
// operations, one in nine: every key's history must be linearizable with
// each Clear deleting the key at some instant within its call.
func TestLinearizableWithClear(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	clients := max(4, 2*runtime.GOMAXPROCS(0))
	ops := append(append([]linOp{}, allLinOps...), linClear, linStore)
	for _, c := range constructors[int, int]() {
		t.Run(c.name, func(t *testing.T) {
			var clears uint64
			for round := range rounds {
				m := c.make()
				history := recordHistory(mapOp(m), ops, clients, 150, 3, uint64(round), nil)
				clears += m.Stats().Clears
				checkLinearizable(t, "key", 0, history)
			}
			if _, isMap := c.make().(*mapguard.Map[int, int]); isMap && clears == 0 {
				t.Errorf("no Clear ran in %d histories", rounds)
			}
		})
	}
}

// TestLinearizabilityCheckerCatchesBugs makes sure the check can fail: a
// history in which a Load sees a value after a completed Delete is illegal.
// (internal/lincheck's own tests try its models on more.)
func TestLinearizabilityCheckerCatchesBugs(t *testing.T) {
	history := []linRecord{
		{Client: 0, Op: "Store", Key: 1, Value: 7, Call: 1, Return: 2},
		{Client: 0, Op: "Delete", Key: 1, Call: 3, Return: 4},
		{Client: 1, Op: "Load", Key: 1, Out: 7, OK: true, Call: 5, Return: 6},
	}
	if os.Getenv("MAPGUARD_HISTORIES") != "" {
		t.Skip("histories are written for a later check (MAPGUARD_HISTORIES); this test runs where lincheck can be started")
	}
	run := func(h []linRecord) int {
		in, err := json.Marshal(map[string]any{"model": "key", "ops": h})
		if err != nil {
			t.Fatal(err)
		}
		code, _ := runLincheck(t, in)
		return code
	}
	if code := run(history); code != 1 {
		t.Fatalf("lincheck on a Load that saw a deleted value: exit %d; want 1 (not linearizable)", code)
	}
	history[2].Out, history[2].OK = 0, false
	if code := run(history); code != 0 {
		t.Fatalf("lincheck on a legal history: exit %d; want 0", code)
	}
}

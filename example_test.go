package mapguard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"iter"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mapguard/mapguard"
)

// A session table: logins store, requests load, logouts delete.
func ExampleMap() {
	var sessions mapguard.Map[string, string] // the zero value is ready to use
	sessions.Store("s-7f3a", "alice")
	sessions.Store("s-91bc", "bob")

	if user, ok := sessions.Load("s-7f3a"); ok {
		fmt.Println("request from", user)
	}
	if _, ok := sessions.Load("s-0000"); !ok {
		fmt.Println("unknown session: 401")
	}
	// A second login with a taken session ID keeps the first user.
	user, loaded := sessions.LoadOrStore("s-91bc", "mallory")
	fmt.Println(user, loaded)

	if user, ok := sessions.LoadAndDelete("s-7f3a"); ok { // logout
		fmt.Println(user, "logged out")
	}
	fmt.Println(sessions.Size(), "session open")
	// Output:
	// request from alice
	// unknown session: 401
	// bob true
	// alice logged out
	// 1 session open
}

// Requests per endpoint, counted by any number of goroutines.
func ExampleNewMap() {
	// About 50 endpoints: presized, the table never grows while it fills.
	requests := mapguard.NewMap[string, int](mapguard.WithPresize(50))
	for _, path := range []string{"/login", "/api/orders", "/health", "/api/orders", "/api/orders"} {
		requests.Compute(path, func(n int, _ bool) (int, mapguard.ComputeOp) {
			return n + 1, mapguard.UpdateOp
		})
	}
	for _, path := range slices.Sorted(requests.Keys()) { // iteration order is random
		n, _ := requests.Load(path)
		fmt.Println(path, n)
	}
	// Output:
	// /api/orders 3
	// /health 1
	// /login 1
}

func ExampleMap_Compute() {
	hits := mapguard.NewMap[string, int]()
	for range 3 {
		hits.Compute("/index", func(old int, loaded bool) (int, mapguard.ComputeOp) {
			return old + 1, mapguard.UpdateOp
		})
	}
	// Delete the entry once it reaches 3, atomically with other writers.
	v, ok := hits.Compute("/index", func(old int, loaded bool) (int, mapguard.ComputeOp) {
		if old >= 3 {
			return 0, mapguard.DeleteOp
		}
		return old, mapguard.CancelOp
	})
	fmt.Println(v, ok, hits.Size())
	// Output: 0 false 0
}

func ExampleMap_All() {
	m := mapguard.NewMap[string, int]()
	m.Store("x", 1)
	m.Store("y", 2)
	m.Store("z", 3)
	// Writing to the map inside the loop is allowed: iteration takes no lock.
	var keys []string
	for k, v := range m.All() {
		if v%2 == 1 {
			m.Delete(k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Println(keys, m.Size())
	// Output: [x y z] 1
}

func ExampleMap_LoadOrCompute() {
	cache := mapguard.NewMap[int, string]()
	build := func() (string, bool) { return "expensive", false }
	v, loaded := cache.LoadOrCompute(7, build)
	fmt.Println(v, loaded)
	v, loaded = cache.LoadOrCompute(7, build)
	fmt.Println(v, loaded)
	// Output:
	// expensive false
	// expensive true
}

// A rate limiter: each client may make 2 requests per window. The three
// ComputeOps count a request (UpdateOp), refuse one without touching the
// count (CancelOp) and end a client's window (DeleteOp), each atomically
// with every other request of that client.
func ExampleComputeOp() {
	const limit = 2
	requests := mapguard.NewMap[string, int]()
	allow := func(client string) bool {
		allowed := false
		requests.Compute(client, func(n int, _ bool) (int, mapguard.ComputeOp) {
			if n >= limit {
				return n, mapguard.CancelOp
			}
			allowed = true
			return n + 1, mapguard.UpdateOp
		})
		return allowed
	}
	for _, client := range []string{"10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"} {
		fmt.Println(client, allow(client))
	}
	// The window of 10.0.0.1 ends.
	requests.Compute("10.0.0.1", func(int, bool) (int, mapguard.ComputeOp) {
		return 0, mapguard.DeleteOp
	})
	fmt.Println("10.0.0.1", allow("10.0.0.1"))
	// Output:
	// 10.0.0.1 true
	// 10.0.0.1 true
	// 10.0.0.1 false
	// 10.0.0.2 true
	// 10.0.0.1 true
}

// Account balances with an audit: the audit sums a View, which keeps the
// balances of the instant it was taken while transfers go on.
func ExampleSnapshotMap() {
	var balances mapguard.SnapshotMap[string, int] // the zero value is ready to use
	balances.Store("alice", 100)
	balances.Store("bob", 50)

	audit := balances.Snapshot()
	defer audit.Release()

	// A transfer of 30 from alice to bob, and a new account, after the
	// snapshot: the map changes, the View does not.
	balances.Compute("alice", func(b int, _ bool) (int, mapguard.ComputeOp) { return b - 30, mapguard.UpdateOp })
	balances.Compute("bob", func(b int, _ bool) (int, mapguard.ComputeOp) { return b + 30, mapguard.UpdateOp })
	balances.Store("carol", 25)

	fmt.Println("audit:", total(audit.All()), "in", audit.Len(), "accounts")
	fmt.Println("now:  ", total(balances.All()), "in", balances.Size(), "accounts")
	// Output:
	// audit: 150 in 2 accounts
	// now:   175 in 3 accounts
}

func total(balances iter.Seq2[string, int]) int {
	sum := 0
	for _, b := range balances {
		sum += b
	}
	return sum
}

// A job table checkpointed as JSON: the checkpoint is a View, so it holds
// the state of one instant even while workers update jobs.
func ExampleNewSnapshotMap() {
	jobs := mapguard.NewSnapshotMap[string, string](mapguard.WithPresize(1000))
	jobs.Store("job-1", "done")
	jobs.Store("job-2", "running")
	jobs.Store("job-3", "queued")

	checkpoint := jobs.Snapshot()
	defer checkpoint.Release()
	jobs.Store("job-2", "done") // a worker finishes while the checkpoint is written

	b, err := json.Marshal(checkpoint) // keys come out sorted
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output: {"job-1":"done","job-2":"running","job-3":"queued"}
}

// An inventory report that must add up: it reads a View, whatever the
// writers do meanwhile.
func ExampleView() {
	stock := mapguard.NewSnapshotMap[string, int]()
	stock.Store("apples", 12)
	stock.Store("pears", 5)
	stock.Store("plums", 0)

	report := stock.Snapshot()
	defer report.Release() // gives back the old versions it kept alive

	stock.Store("apples", 11) // a sale
	stock.Delete("plums")     // discontinued
	stock.Store("figs", 8)    // a delivery

	for _, item := range slices.Sorted(report.Keys()) {
		n, _ := report.Load(item)
		fmt.Println(item, n)
	}
	_, ok := report.Load("figs")
	fmt.Println("figs in the report:", ok)
	// Output:
	// apples 12
	// pears 5
	// plums 0
	// figs in the report: false
}

// A routing table: read on every request, written when a backend moves.
func ExampleReadMostly() {
	var routes mapguard.ReadMostly[string, string] // the zero value is ready to use
	routes.Store("api.example.com", "10.0.1.10:8080")
	routes.Store("www.example.com", "10.0.2.10:8080")

	backend, ok := routes.Load("api.example.com")
	fmt.Println(backend, ok)

	// Iteration walks one version: a route added during the loop is not
	// seen by it.
	n := 0
	for range routes.All() {
		routes.Store("admin.example.com", "10.0.3.10:8080")
		n++
	}
	fmt.Println(n, "routes seen,", routes.Len(), "now")
	// Output:
	// 10.0.1.10:8080 true
	// 2 routes seen, 3 now
}

// Feature flags that must change together: Update publishes a
// transaction's writes at once, or, when its function fails, none.
func ExampleTx() {
	var flags mapguard.ReadMostly[string, bool]
	flags.Store("new-checkout", false)
	flags.Store("new-payments", false)

	// Readers see both flags off or both on, never one of each.
	err := flags.Update(func(tx *mapguard.Tx[string, bool]) error {
		tx.Store("new-checkout", true)
		tx.Store("new-payments", true)
		return nil
	})
	fmt.Println("enable both:", err)

	// This one would leave new-checkout without new-payments: it fails,
	// and the map stays as it was.
	err = flags.Update(func(tx *mapguard.Tx[string, bool]) error {
		tx.Delete("new-payments")
		if on, _ := tx.Load("new-checkout"); on {
			return errors.New("new-checkout needs new-payments")
		}
		return nil
	})
	fmt.Println("delete new-payments:", err)

	for _, flag := range slices.Sorted(flags.Keys()) {
		on, _ := flags.Load(flag)
		fmt.Println(flag, on)
	}
	// Output:
	// enable both: <nil>
	// delete new-payments: new-checkout needs new-payments
	// new-checkout true
	// new-payments true
}

// Options compose, and both constructors take them: here a session table
// sized for its usual load, refilled after every nightly purge.
func ExampleOption() {
	const usual = 20_000
	opts := []mapguard.Option{mapguard.WithPresize(usual), mapguard.WithGrowOnly()}
	sessions := mapguard.NewMap[string, int64](opts...)
	audited := mapguard.NewSnapshotMap[string, int64](opts...)
	fmt.Println(sessions.Stats().Capacity >= usual, audited.Stats().Capacity >= usual)
	// Output: true true
}

// A presized map does not grow while it fills to its expected size.
func ExampleWithPresize() {
	const users = 10_000
	presized := mapguard.NewMap[int, string](mapguard.WithPresize(users))
	grown := mapguard.NewMap[int, string]()
	for id := range users {
		presized.Store(id, "active")
		grown.Store(id, "active")
	}
	fmt.Println("presized: grew", presized.Stats().Grows, "times")
	fmt.Println("default:  grew", grown.Stats().Grows > 0)
	// Output:
	// presized: grew 0 times
	// default:  grew true
}

// A map emptied and refilled to the same size, such as a cache flushed
// every hour, keeps its table with WithGrowOnly instead of shrinking it on
// Clear and growing it again.
func ExampleWithGrowOnly() {
	const entries = 10_000
	refill := func(m *mapguard.Map[int, int]) (bucketsKept bool, regrows uint64) {
		for i := range entries {
			m.Store(i, i)
		}
		before := m.Stats()
		m.Clear() // the hourly flush
		bucketsKept = m.Stats().Buckets == before.Buckets
		for i := range entries {
			m.Store(i, i)
		}
		return bucketsKept, m.Stats().Grows - before.Grows
	}
	fmt.Println(refill(mapguard.NewMap[int, int](mapguard.WithGrowOnly())))
	kept, regrows := refill(mapguard.NewMap[int, int]())
	fmt.Println(kept, regrows > 0)
	// Output:
	// true 0
	// false true
}

// Stats is cheap enough for every metrics scrape: it reads counters and
// never walks the entries.
func ExampleStats() {
	users := mapguard.NewMap[string, int]()
	for i := range 1000 {
		users.Store(fmt.Sprintf("user-%d", i), i)
	}
	for i := range 900 {
		users.Delete(fmt.Sprintf("user-%d", i))
	}
	st := users.Stats()
	fmt.Println("entries:", st.Entries)
	fmt.Println("grew:", st.Grows > 0, "shrank:", st.Shrinks > 0)
	fmt.Println("room before the next grow:", st.Capacity-st.Entries > 0)
	// Output:
	// entries: 100
	// grew: true shrank: true
	// room before the next grow: true
}

// A cache's hit ratio from Observe: with bits 0 every Load and Store is
// reported, each with weight 1 (the observe package samples instead, and
// exports the counts to Prometheus and OpenTelemetry).
func ExampleOp() {
	cache := mapguard.NewMap[string, string]()
	var loads, hits, stores uint64 // one goroutine here; use atomics otherwise
	cache.Observe(func(op mapguard.Op, hit bool, weight uint64) {
		switch op {
		case mapguard.OpLoad:
			loads += weight
			if hit {
				hits += weight
			}
		case mapguard.OpStore:
			stores += weight
		}
	}, 0, 0)

	for _, page := range []string{"/", "/about"} { // rendered at start-up
		cache.Store(page, "<html>"+page+"</html>")
	}
	for _, page := range []string{"/", "/about", "/", "/", "/pricing"} { // requests
		cache.Load(page)
	}
	cache.Observe(nil, 0, 0) // stop observing
	cache.Load("/")

	fmt.Printf("%d loads, %d hits (%.0f%%), %d stores\n", loads, hits, 100*float64(hits)/float64(loads), stores)
	// Output: 5 loads, 4 hits (80%), 2 stores
}

// TestExamplesCoverAPI pins that every exported type of the package, and
// every function that returns one (the constructors and options), has an
// Example, as pkg.go.dev shows them.
func TestExamplesCoverAPI(t *testing.T) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go") // the package and its tests
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, path := range paths {
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/mapguard/mapguard")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range p.Funcs {
		if len(f.Examples) == 0 {
			missing = append(missing, f.Name)
		}
	}
	for _, typ := range p.Types {
		if len(typ.Examples) == 0 {
			missing = append(missing, typ.Name)
		}
		for _, f := range typ.Funcs {
			if len(f.Examples) == 0 {
				missing = append(missing, f.Name)
			}
		}
	}
	if len(p.Types) == 0 {
		t.Fatal("no exported types found: the test reads the wrong directory")
	}
	if len(missing) > 0 {
		t.Errorf("exported types and constructors without an Example: %v", missing)
	}
}

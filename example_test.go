package mapguard_test

import (
	"fmt"
	"slices"

	"github.com/mapguard/mapguard"
)

func ExampleMap() {
	var m mapguard.Map[string, int] // the zero value is ready to use
	m.Store("a", 1)
	m.Store("b", 2)
	v, ok := m.Load("a")
	fmt.Println(v, ok, m.Size())
	// Output: 1 true 2
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

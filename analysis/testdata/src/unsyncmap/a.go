package unsyncmap

import (
	"fmt"
	"sync"
)

func fetch(string) int { return 0 }

// Positives.

func fetchAll(urls []string) {
	results := map[string]int{}
	go func() {
		for _, u := range urls {
			results[u] = fetch(u)
		}
	}()
	for u, n := range results { // want `range over results while the goroutine started at line 14 writes it \(line 16\)`
		fmt.Println(u, n)
	}
}

var counts = map[string]int{}

func bump() { counts["x"]++ }

func namedFunction() {
	go bump()
	fmt.Println(counts["x"]) // want `read of counts while the goroutine started at line 29 writes it`
}

func deleter(m map[int]bool) {
	go func() {
		delete(m, 1)
	}()
	if len(m) > 0 { // want `len of m while the goroutine`
		fmt.Println("non-empty")
	}
}

func generic[K comparable, V any](m map[K]V, k K, v V) {
	go func() { m[k] = v }()
	_ = m[k] // want `read of m while the goroutine`
}

// Negatives.

func waited(urls []string) {
	results := map[string]int{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, u := range urls {
			results[u] = fetch(u)
		}
	}()
	wg.Wait()
	for u, n := range results {
		fmt.Println(u, n)
	}
}

func channelHandOff() {
	m := map[string]int{}
	done := make(chan struct{})
	go func() {
		m["a"] = 1
		close(done)
	}()
	<-done
	fmt.Println(m["a"])
}

func locked() {
	var mu sync.Mutex
	m := map[string]int{}
	go func() {
		mu.Lock()
		m["a"] = 1
		mu.Unlock()
	}()
	mu.Lock()
	fmt.Println(m["a"])
	mu.Unlock()
}

func ownMap() {
	go func() {
		local := map[string]int{}
		local["a"] = 1
		fmt.Println(local["a"])
	}()
}

func readBefore() {
	m := map[string]int{"a": 1}
	fmt.Println(m["a"])
	go func() { m["b"] = 2 }()
}

func goroutineOnlyReads() {
	m := map[string]int{"a": 1}
	go func() { fmt.Println(m["a"]) }()
	fmt.Println(m["a"])
}

func selectHandOff(res chan int) {
	m := map[int]int{}
	go func() { m[1] = 1; res <- 1 }()
	select {
	case <-res:
	}
	fmt.Println(m[1])
}

func readInAnotherClosure() func() int {
	m := map[int]int{}
	go func() { m[1] = 1 }()
	return func() int { return 0 }
}

func syncMapIsFine() {
	var m sync.Map
	go func() { m.Store("a", 1) }()
	m.Range(func(k, v any) bool { return true })
}

var seen = map[string]bool{}

func markSeen(k string) { seen[k] = true }

func calledFunction(keys []string) {
	go func() {
		for _, k := range keys {
			markSeen(k)
		}
	}()
	for k := range seen { // want `range over seen while the goroutine started at line 135 writes it \(line 132\)`
		fmt.Println(k)
	}
}

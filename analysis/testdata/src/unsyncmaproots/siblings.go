package unsyncmaproots

import "sync"

// Two goroutines of one function write the same map.
func twoWriters(in, in2 chan string) {
	counts := map[string]int{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for s := range in {
			counts[s]++
		}
	})
	go func() { // want `this goroutine writes counts \(line \d+\) with no lock, and so does the goroutine started at line \d+`
		for s := range in2 {
			bump(counts, s)
		}
	}()
	wg.Wait()
}

func bump(m map[string]int, s string) { m[s]++ }

// --- silent ---

// Each writes a map of its own.
func ownMaps(in, in2 chan string) {
	a, b := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for s := range in {
			a[s]++
		}
	})
	wg.Go(func() {
		for s := range in2 {
			b[s]++
		}
	})
	wg.Wait()
}

// The first is waited for before the second starts.
func waitedBetween(in chan string) {
	counts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range in {
			counts[s]++
		}
	}()
	<-done
	go func() {
		counts["end"]++
	}()
}

// Both lock.
func bothLock(in, in2 chan string) {
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for s := range in {
			mu.Lock()
			counts[s]++
			mu.Unlock()
		}
	})
	wg.Go(func() {
		for s := range in2 {
			mu.Lock()
			bump(counts, s)
			mu.Unlock()
		}
	})
	wg.Wait()
}

// One writes, the other only reads a copy made before it started.
func oneWriter(in chan string) {
	counts := map[string]int{}
	snapshot := map[string]int{}
	for k, v := range counts {
		snapshot[k] = v
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for s := range in {
			counts[s]++
		}
	})
	wg.Go(func() {
		_ = len(snapshot)
	})
	wg.Wait()
}

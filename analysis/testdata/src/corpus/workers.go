package corpus

import (
	"fmt"
	"net/http"
	"sync"
)

func statusOf(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// CheckAll fires the checks in the background and prints what it has.
func CheckAll(urls []string) {
	status := make(map[string]int, len(urls))
	go func() {
		for _, u := range urls {
			status[u] = statusOf(u)
		}
	}()
	fmt.Println(len(status), "checked so far") // want `len of status while the goroutine started at line 21 writes it`
}

// CheckAllFixed waits for the workers.
func CheckAllFixed(urls []string) map[string]int {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		status = make(map[string]int, len(urls))
	)
	for _, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := statusOf(u)
			mu.Lock()
			status[u] = code
			mu.Unlock()
		}()
	}
	wg.Wait()
	return status
}

// Reproduce is a deliberate reproduction, silenced for mapvet with a
// reason; the directive covers only the analyzers it names.
func Reproduce() int {
	m := map[int]int{}
	go func() { m[1] = 1 }()
	//mapvet:ignore unsyncmap reproducing the crash on purpose
	return m[1]
}

func WrongName() int {
	m := map[int]int{}
	go func() { m[1] = 1 }()
	//mapvet:ignore checkthenact this names another analyzer
	return m[1] // want `read of m while the goroutine`
}

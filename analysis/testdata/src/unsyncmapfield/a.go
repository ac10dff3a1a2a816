// Package unsyncmapfield holds the struct-field shapes of unsyncmap: a
// goroutine started on a method or a worker function writes a map field
// that its starter reads.
package unsyncmapfield

import (
	"fmt"
	"sync"
)

type crawler struct {
	seen   map[string]bool
	counts map[string]int
	mu     sync.Mutex
}

func (c *crawler) crawl(urls []string) {
	for _, u := range urls {
		c.seen[u] = true
	}
}

func (c *crawler) visit(u string) { c.counts[u]++ }

// crawlAll calls a method of the same receiver that writes.
func (c *crawler) crawlAll(urls []string) {
	for _, u := range urls {
		c.visit(u)
	}
}

func (c *crawler) forget(u string) { delete(c.seen, u) }

func (c *crawler) size() int { return len(c.seen) }

func (c *crawler) crawlLocked(urls []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range urls {
		c.seen[u] = true
	}
}

func (c *crawler) sizeLocked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *crawler) onlyReads() int { return len(c.seen) }

func worker(c *crawler, u string) { c.seen[u] = true }

// Positives.

func goMethod(c *crawler, urls []string) {
	go c.crawl(urls)
	for u := range c.seen { // want `range over c.seen while the goroutine started at line 57 writes it \(line 19\)`
		fmt.Println(u)
	}
}

func goMethodOneDeeper(c *crawler, urls []string) {
	go c.crawlAll(urls)
	fmt.Println(len(c.counts)) // want `len of c.counts while the goroutine started at line 64 writes it \(line 23\)`
}

func goWorker(urls []string) {
	c := &crawler{seen: map[string]bool{}}
	for _, u := range urls {
		go worker(c, u) // want `go statement in a loop: each goroutine writes c.seen \(line 52\) with no lock`
	}
	fmt.Println(c.seen["x"]) // want `read of c.seen while the goroutine started at line 71 writes it \(line 52\)`
}

func goLiteral(c *crawler) {
	go func() { c.forget("x") }()
	fmt.Println(c.size()) // want `call of c.size, which reads c.seen while the goroutine started at line 77 writes it \(line 32\)`
}

func goLiteralDirect(c *crawler) {
	go func() {
		c.counts["a"] = 1
	}()
	for k, v := range c.counts { // want `range over c.counts while the goroutine`
		fmt.Println(k, v)
	}
}

func goValueAddress(urls []string) {
	var c crawler
	go worker(&c, "x")
	fmt.Println(c.seen["x"]) // want `read of c.seen while the goroutine`
}

// Negatives.

// The goroutine writes under a lock: lockset's business.
func writeUnderLock(c *crawler, urls []string) {
	go c.crawlLocked(urls)
	fmt.Println(len(c.seen))
}

// The read holds the lock.
func readUnderLock(c *crawler, urls []string) {
	go c.crawl(urls)
	fmt.Println(c.sizeLocked())
}

// The read comes after wg.Wait().
func readAfterWait(c *crawler, urls []string) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.crawl(urls)
	}()
	wg.Wait()
	fmt.Println(len(c.seen))
}

// The read comes after a channel receive.
func readAfterReceive(c *crawler, urls []string, done chan struct{}) {
	go func() {
		c.crawl(urls)
		close(done)
	}()
	<-done
	fmt.Println(len(c.seen))
}

// The starter reads a different field.
func differentField(c *crawler, urls []string) {
	go c.crawl(urls)
	fmt.Println(len(c.counts))
}

// The goroutine only reads.
func goroutineOnlyReads(c *crawler) {
	go c.onlyReads()
	c.seen["x"] = true
}

// The field is written before the go statement only.
func writtenBefore(c *crawler) {
	c.seen["x"] = true
	go c.onlyReads()
	fmt.Println(len(c.seen))
}

// The read is before the go statement.
func readBefore(c *crawler, urls []string) {
	fmt.Println(len(c.seen))
	go c.crawl(urls)
}

// A different crawler is read.
func differentObject(a, b *crawler, urls []string) {
	go a.crawl(urls)
	fmt.Println(len(b.seen))
}

// The goroutine writes a crawler of its own.
func ownCrawler(urls []string) {
	go func() {
		c := &crawler{seen: map[string]bool{}}
		c.crawl(urls)
	}()
}

// The read is inside a closure that runs later.
func readInClosure(c *crawler, urls []string) func() int {
	go c.crawl(urls)
	return func() int { return len(c.seen) }
}

// Lock held in the starter before the read.
func starterLocks(c *crawler, urls []string) {
	go c.crawl(urls)
	c.mu.Lock()
	fmt.Println(len(c.seen))
	c.mu.Unlock()
}

type monitor struct {
	conns map[string]int
	done  chan string
}

func (m *monitor) handle(c string) { m.done <- c }

// The receive is from a channel only the goroutines the accept loop
// starts send on: it orders nothing against the loop's own writes.
func (m *monitor) listen(accept func() string) {
	go func() {
		for {
			c := accept()
			m.conns[c] = 1
			go m.handle(c)
		}
	}()
	for peer := range m.done {
		delete(m.conns, peer)
		if len(m.conns) == 0 { // want `len of m.conns while the goroutine started at line 195 writes it \(line 198\)`
			return
		}
	}
}

func (m *monitor) fill(keys []string) {
	for _, k := range keys {
		m.conns[k] = 1
	}
	m.done <- "filled"
}

// The goroutine itself sends when it is done writing.
func (m *monitor) filled(keys []string) int {
	go m.fill(keys)
	<-m.done
	return len(m.conns)
}

type pool struct {
	pending map[string]func()
	mu      sync.Mutex
}

func (p *pool) finish(id string) { delete(p.pending, id) }

// A worker pool started from inside a range over the map its workers
// delete from.
func (p *pool) run() {
	for id, fn := range p.pending { // want `range over p.pending starts, in its body, the goroutine at line 235 that writes it \(line 229\)`
		go func(id string, fn func()) { // want `go statement in a loop: each goroutine writes p.pending \(line 229\)`
			fn()
			p.finish(id)
		}(id, fn)
	}
}

// Each worker is waited for before the next iteration.
func (p *pool) runOneByOne() {
	for id, fn := range p.pending {
		var wg sync.WaitGroup
		wg.Add(1)
		go func(id string, fn func()) {
			defer wg.Done()
			fn()
			p.finish(id)
		}(id, fn)
		wg.Wait()
	}
}

// The workers delete under the mutex (charmbracelet/soft-serve's
// WorkPool.Run, issue 294, ranged without it): a lockset inconsistency,
// the lockset analyzer's business, not this one's.
func (p *pool) runLocked() {
	for id, fn := range p.pending {
		go func(id string, fn func()) {
			fn()
			p.mu.Lock()
			delete(p.pending, id)
			p.mu.Unlock()
		}(id, fn)
	}
}

// The keys are collected first; one goroutine deletes them.
func (p *pool) runCollected() {
	ids := make([]string, 0, len(p.pending))
	for id := range p.pending {
		ids = append(ids, id)
	}
	go func() {
		for _, id := range ids {
			p.finish(id)
		}
	}()
}

// One goroutine per crawler, each writing its own map: silent.
func perIterationObject(crawlers []*crawler, urls []string) {
	for _, c := range crawlers {
		go c.crawl(urls)
	}
	for i := 0; i < len(crawlers); i++ {
		c := crawlers[i]
		go c.crawl(urls)
	}
}

// A counted loop of workers on one shared crawler.
func countedWorkers(c *crawler, n int) {
	for i := 0; i < n; i++ {
		go c.visit("x") // want `go statement in a loop: each goroutine writes c.counts`
	}
}

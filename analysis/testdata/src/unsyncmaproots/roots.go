// Package unsyncmaproots checks maps written by code that runs
// concurrently with itself without a go statement in sight (net/http
// handlers, Prometheus collectors) and by goroutines started in a loop,
// found at any call depth; and the code around them that must stay
// silent.
package unsyncmaproots

import (
	"net/http"
	"sync"
)

// Metric stands in for prometheus.Metric: matched by name.
type Metric interface{}

// Desc stands in for prometheus.Desc.
type Desc struct{}

type hits struct {
	mu     sync.Mutex
	counts map[string]int
	inner  struct{ seen map[string]bool }
}

// --- reported ---

func (h *hits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.counts[r.URL.Path]++ // want `hits.ServeHTTP writes h.counts with no lock held`
}

type api struct {
	sessions map[string]string
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	a.remember(r.FormValue("user"), r.RemoteAddr)
}

func (a *api) remember(user, addr string) {
	a.sessions[user] = addr // want `handler a.login writes a.sessions with no lock held`
}

func routes(a *api, mux *http.ServeMux) {
	mux.HandleFunc("/login", a.login)
	seen := map[string]bool{}
	mux.HandleFunc("/seen", func(w http.ResponseWriter, r *http.Request) {
		seen[r.URL.Path] = true // want `the handler literal writes seen with no lock held`
	})
}

type exporter struct {
	cache *descCache
}

type descCache struct {
	descs map[string]*Desc
}

func (c *descCache) get(name string) *Desc {
	d, ok := c.descs[name]
	if !ok {
		d = &Desc{}
		c.descs[name] = d // want `exporter.Collect writes e.cache.descs with no lock held, and the registry calls it on every scrape`
	}
	return d
}

func (e *exporter) Collect(ch chan<- Metric) {
	e.cache.get("up")
}

// Per-item goroutines calling a get-or-create method of one shared cache.
func warm(c *descCache, names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { // want `go statement in a loop: each goroutine writes c.descs`
			defer wg.Done()
			c.get(n)
		}()
	}
	wg.Wait()
}

// --- silent ---

type lockedHits struct {
	mu     sync.Mutex
	counts map[string]int
}

// Locked for the whole handler.
func (h *lockedHits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[r.URL.Path]++
}

type earlyReturn struct {
	mu     sync.Mutex
	counts map[string]int
}

// An Unlock that ends an early-return branch leaves the lock held for
// the code after the branch.
func (h *earlyReturn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if r.URL.Path == "" {
		h.mu.Unlock()
		return
	}
	h.counts[r.URL.Path]++
	h.mu.Unlock()
}

type lockedHelper struct {
	mu    sync.Mutex
	names map[string]bool
}

func (h *lockedHelper) add(n string) {
	h.mu.Lock()
	h.names[n] = true
	h.mu.Unlock()
}

// The write is in a helper that locks.
func (h *lockedHelper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.add(r.URL.Path)
}

type callerLocks struct {
	mu    sync.Mutex
	names map[string]bool
}

// must be called with h.mu held
func (h *callerLocks) addLocked(n string) { h.names[n] = true }

// The caller holds the lock at the call.
func (h *callerLocks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.addLocked(r.URL.Path)
	h.mu.Unlock()
}

type perRequest struct{ prefix string }

// Maps of the request's own: a local, a struct made per request, the
// request's header.
func (p *perRequest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	local := map[string]int{}
	local[r.URL.Path]++
	st := &hits{counts: map[string]int{}}
	st.counts[p.prefix]++
	r.Header["X-Seen"] = []string{"1"}
	w.Header()["X-Served"] = []string{"1"}
}

type reader struct{ counts map[string]int }

// Reads only.
func (h *reader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = h.counts[r.URL.Path]
	for k := range h.counts {
		_ = k
	}
}

var registry = map[string]string{}

// Has the handler's type but is only ever called directly, from main:
// not a handler.
func serveOnce(w http.ResponseWriter, r *http.Request) {
	registry[r.URL.Path] = r.RemoteAddr
}

func runOnce(w http.ResponseWriter, r *http.Request) {
	serveOnce(w, r)
}

type describer struct{ descs map[string]*Desc }

// Describe sends descriptors, not metrics: not matched.
func (d *describer) Describe(ch chan<- *Desc) {
	d.descs["x"] = &Desc{}
}

type lockedCollector struct {
	mu    sync.RWMutex
	cache map[string]*Desc
}

func (c *lockedCollector) Collect(ch chan<- Metric) {
	c.mu.Lock()
	c.cache["x"] = &Desc{}
	c.mu.Unlock()
}

// A receive-only channel of Metric is not a collector's parameter.
func (c *lockedCollector) drain(ch <-chan Metric) {
	c.cache["y"] = &Desc{}
}

// Each goroutine writes a cache of its own iteration.
func perItem(names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		c := &descCache{descs: map[string]*Desc{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.get(n)
		}()
	}
	wg.Wait()
}

// Each goroutine is waited for before the next starts.
func oneAtATime(c *descCache, names []string) {
	for _, n := range names {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.get(n)
		}()
		wg.Wait()
	}
}

type lockedCache struct {
	mu    sync.Mutex
	descs map[string]*Desc
}

func (c *lockedCache) get(name string) *Desc {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.descs[name]
	if !ok {
		d = &Desc{}
		c.descs[name] = d
	}
	return d
}

// The shared cache locks.
func warmLocked(c *lockedCache, names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.get(n)
		}()
	}
	wg.Wait()
}

// The goroutine's map write runs in a goroutine it starts, not in the
// handler's call (left to the go statement checks).
func (h *hits) later(w http.ResponseWriter, r *http.Request) {
	done := make(chan struct{})
	go func() {
		defer close(done)
	}()
	<-done
}

func register(h *hits, mux *http.ServeMux) {
	mux.HandleFunc("/later", h.later)
}

type stream struct {
	mu        sync.Mutex
	consumers map[string]*consumerState
}

type consumerState struct {
	mu   sync.Mutex
	name string
}

// Lock should be held.
func (s *stream) setConsumer(o *consumerState) { s.consumers[o.name] = o }

// Unlocking another mutex (o.mu) while s.mu is held leaves s.mu held
// (nats-server's stream.addConsumer, reached from per-item goroutines in
// a test).
func (s *stream) addConsumer(name string) {
	o := &consumerState{name: name}
	s.mu.Lock()
	o.mu.Lock()
	o.name = name
	o.mu.Unlock()
	s.setConsumer(o)
	s.mu.Unlock()
}

func addAll(s *stream, names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.addConsumer(n)
		}()
	}
	wg.Wait()
}

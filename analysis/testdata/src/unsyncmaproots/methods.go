package unsyncmaproots

import (
	"sync"
	"time"
)

// A goroutine started by Start fills t.peers; the exported methods other
// goroutines call read it.
type tracker struct {
	mu    sync.Mutex
	peers map[string]time.Time
	names map[string]string
	in    chan string
}

func (t *tracker) Start() {
	go t.loop()
}

func (t *tracker) loop() {
	for p := range t.in {
		t.peers[p] = time.Now()
	}
}

func (t *tracker) Peers() []string {
	var out []string
	for p := range t.peers { // want `tracker.Peers reads t.peers with no lock while the goroutine tracker.Start starts at line \d+ writes it`
		out = append(out, p)
	}
	return out
}

func (t *tracker) Seen(p string) bool {
	_, ok := t.peers[p] // want `tracker.Seen reads t.peers with no lock`
	return ok
}

// Locks: lockset's business.
func (t *tracker) Count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.peers)
}

// Unexported: called by the type's own code, which may run before Start.
func (t *tracker) first() string {
	for p := range t.peers {
		return p
	}
	return ""
}

// Another field, which the goroutine does not write.
func (t *tracker) Name(p string) string {
	return t.names[p]
}

type lockedTracker struct {
	mu    sync.Mutex
	peers map[string]time.Time
	in    chan string
}

// The goroutine locks its writes.
func (t *lockedTracker) Start() {
	go func() {
		for p := range t.in {
			t.mu.Lock()
			t.peers[p] = time.Now()
			t.mu.Unlock()
		}
	}()
}

func (t *lockedTracker) Peers() int {
	return len(t.peers)
}

package lockset

import (
	"sort"
	"sync"
	"time"
)

// Function literals handed to a call run with at most the locks held at
// the call, unless the callee is handed the value or a mutex and may
// lock it around them.

type Sessions struct {
	mu   sync.Mutex
	byID map[string]int
}

func (s *Sessions) Add(id string, n int) {
	s.mu.Lock()
	s.byID[id] = n
	s.mu.Unlock()
}

func (s *Sessions) Drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// Expire's timer callback deletes with no lock.
func (s *Sessions) Expire(id string, d time.Duration) {
	time.AfterFunc(d, func() {
		delete(s.byID, id) // want `delete from s.byID without s.mu held`
	})
}

// Negatives.

// Sorted sorts under the lock: sort.Slice runs the literal now.
func (s *Sessions) Sorted(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return s.byID[ids[i]] < s.byID[ids[j]] })
}

// each hands the literal to a method of the value: it holds s.mu.
func (s *Sessions) each(f func(id string, n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.byID {
		f(id, n)
	}
}

func (s *Sessions) Bump() {
	s.each(func(id string, n int) {
		s.byID[id] = n + 1
	})
}

// withLock is handed the mutex.
func withLock(mu *sync.Mutex, f func()) {
	mu.Lock()
	defer mu.Unlock()
	f()
}

func (s *Sessions) Reset(id string) {
	withLock(&s.mu, func() {
		s.byID[id] = 0
	})
}

// ExpireLocked's callback takes the lock itself.
func (s *Sessions) ExpireLocked(id string, d time.Duration) {
	time.AfterFunc(d, func() {
		s.mu.Lock()
		delete(s.byID, id)
		s.mu.Unlock()
	})
}

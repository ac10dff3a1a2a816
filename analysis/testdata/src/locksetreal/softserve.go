package locksetreal

import (
	"context"
	"sync"
)

// charmbracelet/soft-serve, internal/sync/workqueue.go (v0.5.3):
// "fatal error: concurrent map iteration and map write" in
// (*WorkPool).Run, https://github.com/charmbracelet/soft-serve/issues/294.
// Run ranges over work without wq.mu and starts a worker per job; each
// worker deletes its job from work under wq.mu.Lock when it finishes,
// while Run's range is still going. Fixed in commit a9e4824 by turning
// work into a sync.Map; workPoolLocked below is the lock-based fix (Run
// copies the jobs under the read lock first), which must be silent too.

// weighted stands in for golang.org/x/sync/semaphore.Weighted.
type weighted struct{ ch chan struct{} }

func (s *weighted) Acquire(ctx context.Context, n int64) error {
	for ; n > 0; n-- {
		select {
		case s.ch <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *weighted) Release(n int64) {
	for ; n > 0; n-- {
		<-s.ch
	}
}

type WorkPool struct {
	workers int
	work    map[string]func()
	mu      sync.RWMutex
	sem     *weighted
	ctx     context.Context
	logger  func(string, ...interface{})
}

type WorkPoolOption func(*WorkPool)

func NewWorkPool(ctx context.Context, workers int, opts ...WorkPoolOption) *WorkPool {
	wq := &WorkPool{
		workers: workers,
		work:    make(map[string]func()),
		ctx:     ctx,
	}
	for _, opt := range opts {
		opt(wq)
	}
	if wq.workers <= 0 {
		wq.workers = 1
	}
	wq.sem = &weighted{ch: make(chan struct{}, wq.workers)}
	return wq
}

func (wq *WorkPool) Run() {
	for id, fn := range wq.work { // want `range over wq.work without wq.mu held`
		if err := wq.sem.Acquire(wq.ctx, 1); err != nil {
			wq.logf("workpool: %v", err)
			return
		}
		go func(id string, fn func()) {
			defer wq.sem.Release(1)
			fn()
			wq.mu.Lock()
			delete(wq.work, id)
			wq.mu.Unlock()
		}(id, fn)
	}
	if err := wq.sem.Acquire(wq.ctx, int64(wq.workers)); err != nil {
		wq.logf("workpool: %v", err)
	}
}

func (wq *WorkPool) Add(id string, fn func()) {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	if _, ok := wq.work[id]; ok {
		return
	}
	wq.work[id] = fn
}

func (wq *WorkPool) Status(id string) bool {
	wq.mu.RLock()
	defer wq.mu.RUnlock()
	_, ok := wq.work[id]
	return ok
}

func (wq *WorkPool) logf(format string, args ...interface{}) {
	if wq.logger != nil {
		wq.logger(format, args...)
	}
}

type workPoolLocked struct {
	work map[string]func()
	mu   sync.RWMutex
}

func (wq *workPoolLocked) Run() {
	wq.mu.RLock()
	jobs := make(map[string]func(), len(wq.work))
	for id, fn := range wq.work {
		jobs[id] = fn
	}
	wq.mu.RUnlock()
	var wg sync.WaitGroup
	for id, fn := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
			wq.mu.Lock()
			delete(wq.work, id)
			wq.mu.Unlock()
		}()
	}
	wg.Wait()
}

func (wq *workPoolLocked) Add(id string, fn func()) {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	wq.work[id] = fn
}

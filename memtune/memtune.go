// Package memtune sets the Go runtime's soft memory limit (GOMEMLIMIT)
// from the container's cgroup memory limit, keeps it in step when the
// container is resized, guards against the GOMEMLIMIT death spiral, and
// can return memory to the OS under pressure.
//
//	t, err := memtune.Start(ctx) // GOMEMLIMIT = 0.9 × the cgroup limit
//
// The Go runtime reads the cgroup CPU limit (Go 1.25) but not the memory
// limit: a service holding large maps keeps collecting only as GOGC says,
// and is OOM-killed when its heap doubles past the container limit.
//
// Death-spiral policy (Go issue 58106): a soft limit below the live heap
// makes the GC run back to back. When the GC's share of CPU over a
// refresh interval exceeds 50%, the tuner lifts the soft limit to the
// full container limit and sets GOGC to at least the floor
// (WithGOGCFloor, default 50), so collection frequency is bounded by GOGC
// again; it counts the event in Stats.Relaxations. When the GC share
// falls below 25% and the live heap below 80% of the container limit, it
// restores the soft limit.
package memtune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures Start.
type Option func(*config) error

type config struct {
	ratio            float64
	root             string
	selfCgroup       string // the content of /proc/self/cgroup; read if empty
	fallback         uint64
	refresh          time.Duration
	gogcFloor        int
	releaseThreshold float64
	releaseInterval  time.Duration
	reg              prometheus.Registerer
	now              func() time.Time
}

// WithRatio sets GOMEMLIMIT to r × the limit (default 0.9); 0 < r <= 1.
func WithRatio(r float64) Option {
	return func(c *config) error {
		if !(r > 0 && r <= 1) {
			return fmt.Errorf("memtune: WithRatio(%v): the ratio must be in (0, 1]", r)
		}
		c.ratio = r
		return nil
	}
}

// WithCgroupRoot reads cgroups under path instead of /sys/fs/cgroup.
func WithCgroupRoot(path string) Option {
	return func(c *config) error { c.root = path; return nil }
}

// WithFallbackLimit is the limit to use when no cgroup limit is found.
func WithFallbackLimit(bytes uint64) Option {
	return func(c *config) error {
		if bytes == 0 {
			return errors.New("memtune: WithFallbackLimit(0): the limit must be positive")
		}
		c.fallback = bytes
		return nil
	}
}

// WithRefreshInterval re-reads the limit, and checks the GC's CPU share
// and the heap, every d (default 10 s).
func WithRefreshInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("memtune: WithRefreshInterval(%v): must be positive", d)
		}
		c.refresh = d
		return nil
	}
}

// WithGOGCFloor is the GOGC the tuner sets, at least, when it lifts the
// soft limit to stop a death spiral (default 50): the GC then runs no
// more often than this GOGC allows.
func WithGOGCFloor(p int) Option {
	return func(c *config) error {
		if p < 1 {
			return fmt.Errorf("memtune: WithGOGCFloor(%d): must be at least 1", p)
		}
		c.gogcFloor = p
		return nil
	}
}

// WithReleaseOnPressure returns memory to the OS (debug.FreeOSMemory)
// when the heap exceeds threshold × limit, at most once per minInterval.
func WithReleaseOnPressure(threshold float64, minInterval time.Duration) Option {
	return func(c *config) error {
		if !(threshold > 0 && threshold <= 1) || minInterval <= 0 {
			return fmt.Errorf("memtune: WithReleaseOnPressure(%v, %v): want 0 < threshold <= 1 and a positive interval", threshold, minInterval)
		}
		c.releaseThreshold, c.releaseInterval = threshold, minInterval
		return nil
	}
}

// WithRegisterer exports the tuner's state as Prometheus gauges.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) error { c.reg = reg; return nil }
}

// Stats is the tuner's state.
type Stats struct {
	// LimitSource says where Limit came from: a cgroup file, the
	// fallback, or "GOMEMLIMIT environment variable" when the tuner left
	// an explicit setting alone.
	LimitSource string
	Limit       uint64
	// MemoryLimit is the runtime's current soft limit (GOMEMLIMIT).
	MemoryLimit int64
	GOGC        int
	// GCCPUFraction is the GC's share of CPU over the last interval.
	GCCPUFraction float64
	// EnvOverride is set when GOMEMLIMIT was set in the environment: the
	// tuner then changes nothing.
	EnvOverride bool
	// Relaxed is set while the death-spiral guard has lifted the limit;
	// Relaxations counts how often it did.
	Relaxed     bool
	Relaxations uint64
	// Releases counts returns of memory to the OS.
	Releases    uint64
	LastRefresh time.Time
	// RefreshError is the last error re-reading the limit, if any.
	RefreshError string
}

// Tuner keeps GOMEMLIMIT in step with the container.
type Tuner struct {
	cfg  config
	mu   sync.Mutex
	st   Stats
	prev cpuSample
	// lastRelease is when memory was last returned to the OS.
	lastRelease time.Time
	cancel      context.CancelFunc
	done        chan struct{}
}

// Start reads the memory limit, sets GOMEMLIMIT and, until ctx is done
// or Stop, refreshes it. It returns an error when no limit can be found
// and no fallback was given, or for an invalid option.
func Start(ctx context.Context, opts ...Option) (*Tuner, error) {
	c := config{ratio: 0.9, root: "/sys/fs/cgroup", refresh: 10 * time.Second, gogcFloor: 50, now: time.Now}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	t := &Tuner{cfg: c, done: make(chan struct{})}
	t.st.GOGC = currentGOGC()
	if os.Getenv("GOMEMLIMIT") != "" {
		t.st.EnvOverride = true
		t.st.LimitSource = "GOMEMLIMIT environment variable"
		t.st.MemoryLimit = debug.SetMemoryLimit(-1)
		close(t.done)
		t.register()
		return t, nil
	}
	if err := t.refresh(); err != nil {
		return nil, err
	}
	t.prev = readCPU()
	t.register()
	ctx, t.cancel = context.WithCancel(ctx)
	go t.loop(ctx)
	return t, nil
}

// Stop stops refreshing. The soft limit stays as it is.
func (t *Tuner) Stop() {
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
}

// Stats returns the tuner's state.
func (t *Tuner) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

func (t *Tuner) loop(ctx context.Context) {
	defer close(t.done)
	tick := time.NewTicker(t.cfg.refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := t.refresh(); err != nil {
				t.mu.Lock()
				t.st.RefreshError = err.Error()
				t.mu.Unlock()
			}
			t.check()
		}
	}
}

// refresh re-reads the limit and applies it, unless the death-spiral
// guard holds the limit lifted.
func (t *Tuner) refresh() error {
	self := t.cfg.selfCgroup
	if self == "" {
		data, err := os.ReadFile("/proc/self/cgroup")
		if err == nil {
			self = string(data)
		}
	}
	src, err := readLimit(t.cfg.root, self)
	if err != nil {
		if t.cfg.fallback == 0 {
			return err
		}
		src = limitSource{bytes: t.cfg.fallback, source: fmt.Sprintf("fallback (%v)", err)}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Limit, t.st.LimitSource, t.st.LastRefresh = src.bytes, src.source, t.cfg.now()
	t.st.RefreshError = ""
	if !t.st.Relaxed {
		t.st.MemoryLimit = t.softLimit()
		debug.SetMemoryLimit(t.st.MemoryLimit)
	}
	return nil
}

func (t *Tuner) softLimit() int64 {
	return int64(math.Min(float64(t.st.Limit)*t.cfg.ratio, math.MaxInt64))
}

// cpuSample is cumulative GC and total CPU time.
type cpuSample struct{ gc, total float64 }

func readCPU() cpuSample {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(s)
	return cpuSample{s[0].Value.Float64(), s[1].Value.Float64()}
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// check runs the death-spiral guard and release-on-pressure once.
func (t *Tuner) check() {
	cur := readCPU()
	frac := 0.0
	if d := cur.total - t.prev.total; d > 0 {
		frac = (cur.gc - t.prev.gc) / d
	}
	t.prev = cur
	t.observe(frac, liveHeap(), heapInUse())
}

// observe applies the policies to one interval's measurements.
func (t *Tuner) observe(gcFraction float64, live, heap uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.GCCPUFraction = gcFraction
	switch {
	case !t.st.Relaxed && gcFraction > 0.5:
		t.st.Relaxed = true
		t.st.Relaxations++
		t.st.MemoryLimit = int64(math.Min(float64(t.st.Limit), math.MaxInt64))
		debug.SetMemoryLimit(t.st.MemoryLimit)
		if currentGOGC() < t.cfg.gogcFloor {
			debug.SetGCPercent(t.cfg.gogcFloor)
		}
	case t.st.Relaxed && gcFraction < 0.25 && float64(live) < 0.8*float64(t.st.Limit):
		t.st.Relaxed = false
		t.st.MemoryLimit = t.softLimit()
		debug.SetMemoryLimit(t.st.MemoryLimit)
	}
	t.st.GOGC = currentGOGC()
	if t.cfg.releaseThreshold > 0 && float64(heap) > t.cfg.releaseThreshold*float64(t.st.Limit) {
		now := t.cfg.now()
		if t.lastRelease.IsZero() || now.Sub(t.lastRelease) >= t.cfg.releaseInterval {
			t.lastRelease = now
			t.st.Releases++
			debug.FreeOSMemory()
		}
	}
}

// currentGOGC reads GOGC without changing it.
func currentGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

package memtune

import "time"

// WithSelfCgroup replaces the content of /proc/self/cgroup.
func WithSelfCgroup(s string) Option {
	return func(c *config) error { c.selfCgroup = s; return nil }
}

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error { c.now = now; return nil }
}

// Observe runs the policies on one interval's measurements.
func (t *Tuner) Observe(gcFraction float64, live, heap uint64) { t.observe(gcFraction, live, heap) }

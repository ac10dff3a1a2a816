package mapguard

import "fmt"

// Option configures a map made by [NewMap] or [NewSnapshotMap] (a
// SnapshotMap applies it to the Map that holds its keys). [ReadMostly] has
// no options: it copies its whole map on every write and never presizes.
type Option func(*config)

// config is filled with its defaults by newConfig, then by each Option.
type config struct {
	presize  int
	growOnly bool
	// entries makes a map store entry pointers even where its types
	// allow inline storage; tests use it to run both representations.
	entries bool
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// minBuckets returns the table size the map starts with and never shrinks
// below.
func (c config) minBuckets() int {
	if c.presize <= 0 {
		return defaultMinBuckets
	}
	return max(defaultMinBuckets, bucketsFor(c.presize, maxLoad))
}

// inlMinBuckets is minBuckets for the inline table, whose buckets hold
// inlSlots entries.
func (c config) inlMinBuckets() int {
	if c.presize <= 0 {
		return defaultMinBuckets
	}
	return max(defaultMinBuckets, inlBucketsFor(c.presize, maxLoad))
}

// WithPresize makes the map start with room for n entries before its first
// grow. The table never shrinks below that room. n == 0 means the default
// (a small table); a negative n is a programming error and panics with a
// message naming the value.
func WithPresize(n int) Option {
	if n < 0 {
		panic(fmt.Sprintf("mapguard: WithPresize(%d): size hint must not be negative", n))
	}
	return func(c *config) { c.presize = n }
}

// WithGrowOnly makes the map never shrink its table, not after mass deletion
// and not on Clear. Use it for maps that refill to the same size, to avoid
// paying for a shrink and a regrow.
func WithGrowOnly() Option {
	return func(c *config) { c.growOnly = true }
}

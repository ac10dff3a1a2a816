package observe

// Sampled reports whether m's operation counts are being sampled.
func Sampled[K comparable, V any](m *Map[K, V]) bool { return m.in.ops.sampling.Load() }

// SyncMapSampled reports whether s's operation counts are being sampled.
func SyncMapSampled(s *SyncMap) bool { return s.in.ops.sampling.Load() }

// SamplerRunning reports whether the sampler goroutine is running.
func SamplerRunning() bool {
	theSampler.mu.Lock()
	defer theSampler.mu.Unlock()
	return theSampler.running
}

// MapBits and OpBits are the sampling of Map's Loads and Stores and of the
// operations the wrappers count: one in 2^bits.
const (
	MapBits = mapBits
	OpBits  = opBits
)

// WithSampleAbove samples a map's counts above perSecond operations per
// second, and counts exactly again below half of it, instead of
// 100,000 and 50,000. The counting tests use it: a -race build on a busy
// 2-core machine does not reach 100,000 operations per second, and what
// they check (the estimates, the switches) does not depend on the rate.
func WithSampleAbove(perSecond float64) Option {
	return func(c *config) { c.sampleAbove = perSecond }
}

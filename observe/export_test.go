package observe

import "time"

// SetSamplePeriod sets the sampler's period and window for a test and
// returns a function that restores them.
func SetSamplePeriod(period, window time.Duration) (restore func()) {
	p, w := samplePeriod.Swap(int64(period)), sampleWindow.Swap(int64(window))
	return func() { samplePeriod.Store(p); sampleWindow.Store(w) }
}

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

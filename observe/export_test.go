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

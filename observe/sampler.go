package observe

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Iteration describes one finished iteration, for a Sampler to decide
// whether it gets a span.
type Iteration struct {
	// Ctx is the context the iteration ran under (context.Background for
	// Range, All, Keys and Values); its span, if any, is the parent.
	Ctx      context.Context
	Map      string
	Duration time.Duration
	Entries  int
	// Stopped reports that the callback stopped the iteration early.
	Stopped bool
	// HeapAllocated is the bytes the whole process allocated during the
	// iteration (runtime/metrics /gc/heap/allocs:bytes).
	HeapAllocated uint64
	// HeapLive is the live heap after the last GC, read at the end of the
	// iteration (runtime/metrics /gc/heap/live:bytes).
	HeapLive uint64
}

// Sampler decides which iterations are traced.
type Sampler interface {
	Sample(it Iteration) bool
}

// SamplerFunc adapts a function to Sampler.
type SamplerFunc func(Iteration) bool

// Sample calls f.
func (f SamplerFunc) Sample(it Iteration) bool { return f(it) }

// Always traces every iteration.
func Always() Sampler { return SamplerFunc(func(Iteration) bool { return true }) }

// Never traces no iteration.
func Never() Sampler { return SamplerFunc(func(Iteration) bool { return false }) }

// Ratio traces a fraction of iterations chosen by trace ID, so that every
// service sampling by the same ratio keeps the same traces. A parent span
// in the iteration's context decides instead: a sampled parent is always
// followed, an unsampled one never. An iteration without a parent gets a
// fresh random trace ID, so the ratio applies to it too. fraction is
// clamped to [0, 1].
func Ratio(fraction float64) Sampler {
	fraction = min(max(fraction, 0), 1)
	bound := uint64(fraction * (1 << 63))
	return SamplerFunc(func(it Iteration) bool {
		sc := trace.SpanContextFromContext(it.Ctx)
		if sc.IsValid() {
			return sc.IsSampled()
		}
		// What a root span's random trace ID would decide.
		return rand.Uint64()>>1 < bound
	})
}

// SlowOrLarge traces iterations that took longer than d or visited more
// than entries entries.
func SlowOrLarge(d time.Duration, entries int) Sampler {
	return SamplerFunc(func(it Iteration) bool { return it.Duration > d || it.Entries > entries })
}

// MemorySpike traces an iteration when the process's live heap has grown
// by more than bytes since the last iteration it traced (or since the
// first iteration it saw): the iteration that coincides with a memory
// spike is kept for inspection.
func MemorySpike(bytes uint64) Sampler {
	var (
		mu   sync.Mutex
		last uint64
		seen bool
	)
	return SamplerFunc(func(it Iteration) bool {
		mu.Lock()
		defer mu.Unlock()
		if !seen {
			seen, last = true, it.HeapLive
			return false
		}
		if it.HeapLive > last && it.HeapLive-last > bytes {
			last = it.HeapLive
			return true
		}
		if it.HeapLive < last {
			last = it.HeapLive // follow the heap down, so growth counts from the trough
		}
		return false
	})
}

// Package gcpause reads the runtime's stop-the-world GC pause histogram
// (runtime/metrics /sched/pauses/total/gc:seconds) and summarises the
// pauses between two readings. The benchmark engine and the lab share it.
package gcpause

import (
	"math"
	"runtime/metrics"
	"slices"
	"time"
)

const name = "/sched/pauses/total/gc:seconds"

// Reading is the pause histogram's counts at one moment.
type Reading struct{ counts []uint64 }

// Read takes a reading.
func Read() Reading {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return Reading{slices.Clone(s[0].Value.Float64Histogram().Counts)}
}

// Pauses summarises the pauses between a reading and now.
type Pauses struct {
	Count uint64
	// P99 and Max are upper bounds of the histogram buckets holding the
	// 99th percentile and the longest pause; zero without pauses.
	P99, Max time.Duration
}

// Since summarises the pauses since r.
func Since(r Reading) Pauses {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	var p Pauses
	for i := range delta {
		delta[i] = h.Counts[i] - r.counts[i]
		p.Count += delta[i]
		if delta[i] > 0 {
			p.Max = upper(h.Buckets, i)
		}
	}
	p.P99 = Quantile(h.Buckets, delta, p.Count, 0.99)
	return p
}

// upper returns the upper bound of bucket i in seconds as a Duration,
// or its lower bound for the open last bucket.
func upper(bounds []float64, i int) time.Duration {
	u := bounds[i+1]
	if math.IsInf(u, 1) {
		u = bounds[i]
	}
	return time.Duration(u * 1e9)
}

// Quantile returns the upper bound of the bucket holding the q quantile
// of counts (total of them), as a Duration; zero if there are no samples.
func Quantile(bounds []float64, counts []uint64, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			return upper(bounds, i)
		}
	}
	return 0
}

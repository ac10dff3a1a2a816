package rollout_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

// benchEvents makes n events over units units, each an exposure (one in
// four, at t0) or an outcome (after t0), with metrics values, units in
// random order.
func benchEvents(n, units, metrics int) []rollout.Event {
	r := rand.New(rand.NewPCG(16, 9))
	names := []string{"latency_ms", "requests", "errors", "gc_pause_ms"}[:metrics]
	evs := make([]rollout.Event, n)
	for i := range evs {
		u := r.IntN(units)
		ev := rollout.Event{Experiment: "map-impl", Unit: "unit-" + strconv.Itoa(u), Time: t0.Add(time.Duration(1+r.IntN(1000)) * time.Second),
			Metrics: map[string]float64{}}
		if i%4 == 0 {
			ev.Arm = []string{"control", "variant"}[u%2]
			ev.Time = t0
		}
		for _, m := range names {
			ev.Metrics[m] = 1 + 100*r.Float64()
		}
		evs[i] = ev
	}
	return evs
}

// BenchmarkAggregatorAdd measures Add on one core: events/s, over
// 100,000 units already exposed, a quarter of the events exposures and
// the rest outcomes, with 1 or 3 metrics each.
func BenchmarkAggregatorAdd(b *testing.B) {
	for _, metrics := range []int{1, 3} {
		b.Run(fmt.Sprintf("metrics=%d", metrics), func(b *testing.B) {
			evs := benchEvents(1<<20, 100_000, metrics)
			a := rollout.NewAggregator(experiment(50, 50))
			for u := range 100_000 { // warm: every unit exposed, as in a stream where exposures come first
				a.Add(rollout.Event{Experiment: "map-impl", Arm: []string{"control", "variant"}[u%2], Unit: "unit-" + strconv.Itoa(u), Time: t0})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				a.Add(evs[i&(len(evs)-1)])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAggregatorMemory measures the heap an Aggregator holds after
// one exposure of each of 100,000 units with M metrics, per unit and
// metric (the unit ids included).
func BenchmarkAggregatorMemory(b *testing.B) {
	const units = 100_000
	for _, metrics := range []int{1, 4} {
		b.Run(fmt.Sprintf("metrics=%d", metrics), func(b *testing.B) {
			names := []string{"latency_ms", "requests", "errors", "gc_pause_ms"}[:metrics]
			m := map[string]float64{}
			for _, n := range names {
				m[n] = 5
			}
			var perUnitMetric float64
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				a := rollout.NewAggregator(experiment(50, 50))
				for u := range units {
					a.Add(rollout.Event{Experiment: "map-impl", Arm: []string{"control", "variant"}[u%2], Unit: "unit-" + strconv.Itoa(u), Metrics: m})
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perUnitMetric = float64(after.HeapAlloc-before.HeapAlloc) / float64(units*metrics)
				runtime.KeepAlive(a)
			}
			b.ReportMetric(perUnitMetric, "B/unit-metric")
			b.ReportMetric(perUnitMetric*float64(metrics), "B/unit")
		})
	}
}

// BenchmarkAggregatorMerge merges four partials of a stream of 1,000,000
// events over 100,000 units (each unit in every partial), shipped as
// blobs: units/s merged, blob bytes per unit.
func BenchmarkAggregatorMerge(b *testing.B) {
	evs := benchEvents(1_000_000, 100_000, 3)
	var blobs [][]byte
	for p := range 4 {
		a := rollout.NewAggregator(experiment(50, 50))
		for i := p; i < len(evs); i += 4 {
			a.Add(evs[i])
		}
		blob, err := a.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		blobs = append(blobs, blob)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		merged := rollout.NewAggregator(experiment(50, 50))
		for _, blob := range blobs {
			var part rollout.Aggregator
			if err := part.UnmarshalBinary(blob); err != nil {
				b.Fatal(err)
			}
			if err := merged.Merge(&part); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(4*100_000*b.N)/b.Elapsed().Seconds(), "unit-partials/s")
	b.ReportMetric(float64(len(blobs[0]))/100_000, "blob-B/unit")
}

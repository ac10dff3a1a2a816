package observe_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// loadStorer is what the overhead benchmark calls, on the bare map and on
// the instrumented one alike.
type loadStorer interface {
	Load(int) (int, bool)
	Store(int, int)
}

// BenchmarkOverhead compares Load and Store on a bare Map and on the same
// kind of Map instrumented with metrics registered and the default
// sampler, on 65,536 keys, from GOMAXPROCS goroutines:
//
//	go test ./observe -run '^$' -bench Overhead -cpu 2 -count 10 | benchstat -col /impl -
func BenchmarkOverhead(b *testing.B) {
	const keys = 1 << 16
	for _, op := range []string{"load", "store"} {
		for _, impl := range []string{"bare", "observed"} {
			b.Run("op="+op+"/impl="+impl, func(b *testing.B) {
				bare := mapguard.NewMap[int, int]()
				var m loadStorer = bare
				if impl == "observed" {
					m = observe.Instrument(bare, "bench", observe.WithRegisterer(prometheus.NewRegistry()))
				}
				for i := range keys {
					m.Store(i, i)
				}
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						i = (i + 7919) & (keys - 1)
						if op == "load" {
							m.Load(i)
						} else {
							m.Store(i, i)
						}
					}
				})
			})
		}
	}
}

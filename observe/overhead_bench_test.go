package observe_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

const overheadKeys = 1 << 16

// BenchmarkOverhead compares Load and Store on a bare Map and on the same
// kind of Map instrumented with metrics registered and the default
// sampler, on 65,536 keys, from GOMAXPROCS goroutines. Each is called
// through its concrete type, as user code calls it:
//
//	go test ./observe -run '^$' -bench Overhead -cpu 2 -count 10 | benchstat -col /impl -
func BenchmarkOverhead(b *testing.B) {
	for _, op := range []string{"load", "store"} {
		b.Run("op="+op+"/impl=bare", func(b *testing.B) {
			m := mapguard.NewMap[int, int]()
			for i := range overheadKeys {
				m.Store(i, i)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i = (i + 7919) & (overheadKeys - 1)
					if op == "load" {
						m.Load(i)
					} else {
						m.Store(i, i)
					}
				}
			})
		})
		b.Run("op="+op+"/impl=observed", func(b *testing.B) {
			m := observe.Instrument(mapguard.NewMap[int, int](), "bench", observe.WithRegisterer(prometheus.NewRegistry()))
			for i := range overheadKeys {
				m.Store(i, i)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i = (i + 7919) & (overheadKeys - 1)
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

// Direct-call benchmarks of mapguard against xsync, without the Map
// interface: the single-goroutine cost of Load and Store, for profiling the
// hot paths (go test ./bench -bench Micro -cpu 1 -cpuprofile cpu.out).

package bench_test

import (
	"testing"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/bench"
)

func BenchmarkMicroLoad(b *testing.B) {
	keys := bench.StringKeys(1024)
	b.Run("xsync", func(b *testing.B) {
		m := xsync.NewMap[string, int]()
		for i, k := range keys {
			m.Store(k, i)
		}
		b.ResetTimer()
		for i := range b.N {
			m.Load(keys[i&1023])
		}
	})
	b.Run("mapguard", func(b *testing.B) {
		m := mapguard.NewMap[string, int]()
		for i, k := range keys {
			m.Store(k, i)
		}
		b.ResetTimer()
		for i := range b.N {
			m.Load(keys[i&1023])
		}
	})
	ik := bench.IntKeys(1024)
	b.Run("xsync-int", func(b *testing.B) {
		m := xsync.NewMap[int, int]()
		for i, k := range ik {
			m.Store(k, i)
		}
		b.ResetTimer()
		for i := range b.N {
			m.Load(ik[i&1023])
		}
	})
	b.Run("mapguard-int", func(b *testing.B) {
		m := mapguard.NewMap[int, int]()
		for i, k := range ik {
			m.Store(k, i)
		}
		b.ResetTimer()
		for i := range b.N {
			m.Load(ik[i&1023])
		}
	})
}

func BenchmarkMicroStore(b *testing.B) {
	keys := bench.StringKeys(1024)
	b.Run("xsync", func(b *testing.B) {
		m := xsync.NewMap[string, int]()
		for i := range b.N {
			m.Store(keys[i&1023], i)
		}
	})
	b.Run("mapguard", func(b *testing.B) {
		m := mapguard.NewMap[string, int]()
		for i := range b.N {
			m.Store(keys[i&1023], i)
		}
	})
	b.Run("xsync-delete", func(b *testing.B) {
		m := xsync.NewMap[string, int]()
		for i := range b.N {
			if i&1 == 0 {
				m.Store(keys[i&1023], i)
			} else {
				m.Delete(keys[(i-1)&1023])
			}
		}
	})
	b.Run("mapguard-delete", func(b *testing.B) {
		m := mapguard.NewMap[string, int]()
		for i := range b.N {
			if i&1 == 0 {
				m.Store(keys[i&1023], i)
			} else {
				m.Delete(keys[(i-1)&1023])
			}
		}
	})
}

func BenchmarkMicroRange(b *testing.B) {
	keys := bench.StringKeys(1 << 16)
	b.Run("xsync", func(b *testing.B) {
		m := xsync.NewMap[string, int]()
		for i, k := range keys {
			m.Store(k, i)
		}
		b.ResetTimer()
		for range b.N {
			m.RangeRelaxed(func(string, int) bool { return true })
		}
	})
	b.Run("mapguard", func(b *testing.B) {
		m := mapguard.NewMap[string, int]()
		for i, k := range keys {
			m.Store(k, i)
		}
		b.ResetTimer()
		for range b.N {
			m.Range(func(string, int) bool { return true })
		}
	})
}

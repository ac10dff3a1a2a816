package gcpause

import (
	"math"
	"runtime"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0, 1e-6, 1e-5, 1e-4, math.Inf(1)}
	counts := []uint64{90, 9, 1, 0}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, time.Microsecond},
		{0.99, 10 * time.Microsecond},
		{1, 100 * time.Microsecond},
	} {
		if got := Quantile(bounds, counts, 100, tc.q); got != tc.want {
			t.Errorf("q=%v: got %v; want %v", tc.q, got, tc.want)
		}
	}
	if got := Quantile(bounds, []uint64{0, 0, 0, 3}, 3, 0.99); got != 100*time.Microsecond {
		t.Errorf("samples in the +Inf bucket: got %v; want its lower bound 100µs", got)
	}
	if got := Quantile(bounds, make([]uint64, 4), 0, 0.99); got != 0 {
		t.Errorf("no samples: got %v; want 0", got)
	}
}

func TestSince(t *testing.T) {
	r := Read()
	runtime.GC()
	runtime.GC()
	p := Since(r)
	if p.Count < 2 || p.Max <= 0 || p.P99 <= 0 || p.P99 > p.Max {
		t.Fatalf("two forced GCs: %+v", p)
	}
}

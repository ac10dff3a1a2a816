// Package fuzzbound holds the resource bounds of issue 21 that the
// parsers' fuzz tests hold a hostile input to: a parser given at most
// MaxInput bytes allocates at most MaxAlloc bytes and returns within
// MaxTime. The fuzz tests of bench, rollout and rollout/partial share it;
// analysis, whose module does not depend on the maps' module, keeps its
// own copy of Check (analysis/internal/maptypes/ignore_test.go).
package fuzzbound

import (
	"runtime"
	"testing"
	"time"
)

// The bounds. The time bound is the same under the race detector: the
// inputs are parsed in milliseconds, so a second leaves a hundredfold
// margin even at the detector's ten-fold slowdown.
const (
	MaxInput = 4 << 10
	MaxAlloc = 64 << 20
	MaxTime  = time.Second
)

// Check runs parse once and fails t if it allocated more than MaxAlloc
// bytes or ran longer than MaxTime. TotalAlloc counts the whole process,
// so Check must not run beside parallel tests.
func Check(t testing.TB, what string, parse func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	parse()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > MaxAlloc {
		t.Fatalf("%s allocated %d bytes; want at most %d", what, grew, MaxAlloc)
	}
	if took > MaxTime {
		t.Fatalf("%s took %v; want at most %v", what, took, MaxTime)
	}
}

package rollout_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mapguard/mapguard/rollout"
)

// benchFileSink emits b.N events through a FileSink in a file under
// $MAPGUARD_BENCH_DIR (default the test's temporary directory: put it on
// the disk to measure, as tmpfs makes fsync free), flushing (write and
// fsync) every flushEvery events, 0 for only at Close.
func benchFileSink(b *testing.B, flushEvery int) {
	dir := os.Getenv("MAPGUARD_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "bench-events.jsonl")
	defer os.Remove(path)
	s, err := rollout.NewFileSink(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	e := event(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		if flushEvery > 0 && (i+1)%flushEvery == 0 {
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFileSink measures the durability policy's cost per event:
// buffered (what a kill can lose: the buffer), and flushed with an fsync
// every 1,000 and every single event.
func BenchmarkFileSink(b *testing.B) {
	b.Run("buffered", func(b *testing.B) { benchFileSink(b, 0) })
	b.Run("flush-every-1000", func(b *testing.B) { benchFileSink(b, 1000) })
	b.Run("flush-every-event", func(b *testing.B) { benchFileSink(b, 1) })
}

package partial_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/partial"
)

// aggOf returns an aggregate of n exposures of units u0..u(n-1).
func aggOf(t *testing.T, n int) *rollout.Aggregator {
	t.Helper()
	agg := rollout.NewAggregator(experiment)
	for i := range n {
		u := "u" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if err := agg.Add(rollout.Event{Experiment: experiment.Key, Arm: experiment.Assign(u, nil).Arm, Unit: u, Metrics: map[string]float64{"latency_ms": float64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	return agg
}

// TestPartialRoundTrip: a Partial decodes to what was encoded, its
// aggregate's report included; a truncated or foreign value is an error.
func TestPartialRoundTrip(t *testing.T) {
	p := &partial.Partial{Topic: "events", Partition: 5, Next: 1234, Records: 1200, Skipped: 3, Writer: "host/1/2", Agg: aggOf(t, 40)}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q partial.Partial
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if q.Topic != p.Topic || q.Partition != p.Partition || q.Next != p.Next || q.Records != p.Records || q.Skipped != p.Skipped || q.Writer != p.Writer {
		t.Errorf("decoded %+v; want %+v", q, p)
	}
	want, _ := p.Agg.Report("control")
	got, err := q.Agg.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, got, want)
	// A whole header before a damaged aggregate (its last byte changed)
	// fails too, and a failed decode leaves the receiver as it was.
	damaged := append([]byte(nil), b...)
	damaged[len(damaged)-1] ^= 0xff
	for _, bad := range [][]byte{nil, []byte("MGP"), []byte("{}"), b[:10], b[:len(b)-1], damaged} {
		before := partial.Partial{Topic: "other", Partition: 1, Next: 7, Agg: q.Agg}
		r := before
		if err := r.UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary(%q) = nil; want an error", bad)
		}
		if r != before {
			t.Errorf("UnmarshalBinary of %d bad bytes failed and changed its receiver to %+v", len(bad), r)
		}
	}
}

// TestReadTakesMostComplete: of several partials of one partition, Read
// takes the one covering the most records, even when a smaller one was
// written after it (a member that lost the partition without knowing,
// or compaction keeping the last write); records that are not partials
// are counted and skipped, and partials of other experiments ignored.
func TestReadTakesMostComplete(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"), kfake.SeedTopics(2, "partials"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("partials"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	enc := func(next int64, n int) []byte {
		b, err := (&partial.Partial{Topic: "events", Partition: 0, Next: next, Records: next, Agg: aggOf(t, n)}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key := []byte(partial.Key(experiment.Key, "events", 0))
	other := []byte(partial.Key("other", "events", 0))
	if err := cl.ProduceSync(context.Background(),
		&kgo.Record{Key: key, Value: enc(10, 10)},
		&kgo.Record{Key: key, Value: enc(30, 30)},
		&kgo.Record{Key: key, Value: enc(20, 20)}, // written last, covers less
		&kgo.Record{Key: key, Value: []byte("garbage")},
		&kgo.Record{Key: []byte("no-slash"), Value: enc(99, 5)},
		&kgo.Record{Key: other, Value: enc(99, 5)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	snap, err := partial.Read(context.Background(), partial.ReadOptions{Brokers: c.ListenAddrs(), Partials: "partials", Experiment: experiment.Key})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Partials) != 1 || snap.Partials[0].Next != 30 || snap.Skipped != 2 {
		t.Fatalf("got %d partials (first Next %d), %d skipped; want the one with Next 30, 2 skipped", len(snap.Partials), snap.Partials[0].Next, snap.Skipped)
	}
	rep, err := snap.Partials[0].Agg.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	if units := rep.Arms[0].Units + rep.Arms[1].Units; units != 30 {
		t.Errorf("the partial read has %d units; want 30", units)
	}
	if _, err := partial.Read(context.Background(), partial.ReadOptions{Brokers: c.ListenAddrs(), Partials: "partials", Experiment: "nosuch"}); err == nil {
		t.Error("Read of an experiment without partials: nil error")
	}
}

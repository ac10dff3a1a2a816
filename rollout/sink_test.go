package rollout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mapguard/mapguard/rollout"
)

func event(i int) rollout.Event {
	return rollout.Event{Experiment: "map-impl", Arm: "control", Unit: "u" + strconv.Itoa(i), Time: time.Unix(1700000000, 0).UTC(), Metrics: map[string]float64{"latency_ms": float64(i)}}
}

func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := rollout.NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := s.Emit(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var e rollout.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Unit != "u"+strconv.Itoa(n) {
			t.Fatalf("line %d: %v %+v", n, err, e)
		}
	}
	if n != 100 {
		t.Fatalf("%d lines; want 100", n)
	}
}

// TestFileSinkFullDisk writes to /dev/full: the error surfaces from Flush
// and from every later Emit, and nothing panics.
func TestFileSinkFullDisk(t *testing.T) {
	s, err := rollout.NewFileSink("/dev/full")
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	s.Emit(context.Background(), event(1))
	err = s.Flush(context.Background())
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush on a full disk = %v; want ENOSPC", err)
	}
	if err := s.Emit(context.Background(), event(2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Emit after the disk filled = %v; want the sticky ENOSPC", err)
	}
	s.Close()
}

// consume reads every event on topic from the cluster at addrs.
func consume(t *testing.T, addrs []string, topic string, want int) []rollout.Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []rollout.Event
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			var e rollout.Event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Errorf("record %q: %v", r.Value, err)
			}
			out = append(out, e)
		})
	}
	return out
}

func TestKafkaSinkDelivers(t *testing.T) {
	c, err := kfake.NewCluster(kfake.SeedTopics(3, "exposures"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: c.ListenAddrs(), Topic: "exposures"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := s.Emit(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Delivered != 500 || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v; want 500 delivered", st)
	}
	got := consume(t, c.ListenAddrs(), "exposures", 500)
	if len(got) != 500 {
		t.Fatalf("consumed %d events; want 500", len(got))
	}
}

// TestKafkaSinkBrokerDown: with the brokers gone, Drop drops what does
// not fit its bounded buffer and counts it, Block returns at its
// context's deadline, and neither crashes nor grows without bound.
func TestKafkaSinkBrokerDown(t *testing.T) {
	c, err := kfake.NewCluster(kfake.SeedTopics(1, "exposures"))
	if err != nil {
		t.Fatal(err)
	}
	addrs := c.ListenAddrs()
	c.Close()

	drop, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: addrs, Topic: "exposures", MaxBuffered: 10, Policy: rollout.Drop, DeliveryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	errs := 0
	for i := range 100 {
		if err := drop.Emit(context.Background(), event(i)); err != nil {
			errs++
		}
	}
	if st := drop.Stats(); st.Dropped < 90 || int64(errs) != st.Dropped {
		t.Fatalf("Drop with a 10-event buffer and no broker: stats %+v, %d errors; want at least 90 dropped, each reported", st, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	drop.Flush(ctx) // the buffered 10 fail after the delivery timeout
	cancel()
	if st := drop.Stats(); st.Failed == 0 {
		t.Fatalf("stats %+v; want the buffered events counted as failed after the delivery timeout", st)
	}
	drop.Close()

	block, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: addrs, Topic: "exposures", MaxBuffered: 5, Policy: rollout.Block, DeliveryTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		go block.Close() // would wait for the unreachable broker
	}()
	var last error
	start := time.Now()
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		last = block.Emit(ctx, event(i))
		cancel()
		if last != nil {
			break
		}
	}
	if !errors.Is(last, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Block with a full buffer and no broker: %v after %v; want the context deadline", last, time.Since(start))
	}
}

// TestKafkaSinkBrokerRestart stops the broker, emits while it is down,
// starts it again on the same port, and expects the events emitted during
// the outage to arrive.
func TestKafkaSinkBrokerRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// A real broker keeps its log and producer state across a restart:
	// give kfake a data directory so the restarted one does too.
	dir := t.TempDir()
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "exposures"), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: c.ListenAddrs(), Topic: "exposures", DeliveryTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		s.Emit(context.Background(), event(i))
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for i := 10; i < 20; i++ {
		if err := s.Emit(context.Background(), event(i)); err != nil {
			t.Fatalf("Emit during the outage: %v", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	c2, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "exposures"), kfake.DataDir(dir))
	if err != nil {
		t.Fatalf("restarting the broker on port %d: %v", port, err)
	}
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush after the restart: %v (stats %+v)", err, s.Stats())
	}
	got := consume(t, c2.ListenAddrs(), "exposures", 20)
	units := map[string]bool{}
	for _, e := range got {
		units[e.Unit] = true
	}
	for i := 10; i < 20; i++ {
		if !units["u"+strconv.Itoa(i)] {
			t.Fatalf("event u%d emitted during the outage did not arrive after the restart (got %d events, stats %+v)", i, len(got), s.Stats())
		}
	}
	if st := s.Stats(); st.Delivered != 20 || st.Failed != 0 {
		t.Fatalf("stats %+v; want 20 delivered", st)
	}
}

// TestKafkaSinkKeysByUnit: every record of a unit lands in one
// partition, so a consumer of a partition sees all of a unit's events
// (what a per-partition aggregate relies on), and the units spread over
// the partitions.
func TestKafkaSinkKeysByUnit(t *testing.T) {
	const partitions, units, perUnit = 6, 60, 8
	c, err := kfake.NewCluster(kfake.SeedTopics(partitions, "exposures"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: c.ListenAddrs(), Topic: "exposures"})
	if err != nil {
		t.Fatal(err)
	}
	for j := range perUnit {
		for i := range units {
			ev := event(i)
			ev.Time = ev.Time.Add(time.Duration(j) * time.Second)
			if err := s.Emit(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("exposures"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := map[string]map[int32]int{} // unit -> partition -> records
	n := 0
	for n < units*perUnit && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var e rollout.Event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatalf("record %q: %v", r.Value, err)
			}
			if string(r.Key) != e.Unit {
				t.Fatalf("record of unit %s keyed %q", e.Unit, r.Key)
			}
			if in[e.Unit] == nil {
				in[e.Unit] = map[int32]int{}
			}
			in[e.Unit][r.Partition]++
			n++
		})
	}
	if n != units*perUnit || len(in) != units {
		t.Fatalf("consumed %d records of %d units; want %d of %d", n, len(in), units*perUnit, units)
	}
	used := map[int32]bool{}
	for unit, ps := range in {
		if len(ps) != 1 {
			t.Errorf("unit %s's records are in partitions %v; want one", unit, ps)
		}
		for p := range ps {
			used[p] = true
		}
	}
	if len(used) < partitions/2 {
		t.Errorf("%d units in only %d of %d partitions", units, len(used), partitions)
	}
}

package partial_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/partial"
)

// experiment has a mean metric, a sum metric and a ratio metric, so
// that a unit's state spans several events.
var experiment = rollout.Experiment{
	Key:  "map-impl",
	Salt: "map-impl-2026-11",
	Arms: []rollout.Arm{{Name: "control", Weight: 50}, {Name: "treatment", Weight: 50}},
	Metrics: []rollout.Metric{
		{Name: "requests", Reduce: rollout.ReduceSum},
		{Name: "errors", Reduce: rollout.ReduceSum},
		{Name: "error_rate", Numerator: "errors", Denominator: "requests"},
	},
}

// record is one record of the events topic: its key and value.
type record struct{ key, value []byte }

// genRecords returns n records of units units: exposures (with a latency)
// and later outcomes (requests and errors), every 997th record not JSON
// and every 1009th an event without a unit (malformed), keyed by unit.
func genRecords(n, units int, seed uint64) []record {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	out := make([]record, 0, n)
	for i := range n {
		unit := "u" + strconv.Itoa(rng.IntN(units))
		ev := rollout.Event{Experiment: experiment.Key, Unit: unit, Time: base.Add(time.Duration(i) * time.Millisecond)}
		switch {
		case i%997 == 996:
			out = append(out, record{[]byte(unit), []byte("not json")})
			continue
		case i%1009 == 1008:
			ev.Unit = ""
		case rng.IntN(3) == 0:
			arm := experiment.Assign(unit, nil).Arm
			ev.Arm = arm
			lat := 100 + 20*rng.NormFloat64()
			if arm == "treatment" {
				lat -= 5
			}
			ev.Metrics = map[string]float64{"latency_ms": lat}
		default:
			ev.Metrics = map[string]float64{"requests": float64(1 + rng.IntN(10)), "errors": float64(rng.IntN(2))}
		}
		b, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		out = append(out, record{[]byte(unit), b})
	}
	return out
}

// wantReport is the single-process analysis of the records: one
// Aggregator fed every event in order.
func wantReport(t *testing.T, recs []record) *rollout.Report {
	t.Helper()
	agg := rollout.NewAggregator(experiment)
	for _, r := range recs {
		var ev rollout.Event
		if json.Unmarshal(r.value, &ev) == nil {
			agg.Add(ev)
		}
	}
	rep, err := agg.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// produce produces recs to topic events, keyed by unit, in batches.
func produce(t *testing.T, cl *kgo.Client, recs []record) {
	t.Helper()
	const batch = 500
	for len(recs) > 0 {
		n := min(batch, len(recs))
		krs := make([]*kgo.Record, n)
		for i, r := range recs[:n] {
			krs[i] = &kgo.Record{Topic: "events", Key: r.key, Value: r.value}
		}
		if err := cl.ProduceSync(context.Background(), krs...).FirstErr(); err != nil {
			t.Error(err)
			return
		}
		recs = recs[n:]
	}
}

// cluster starts kfake with an 8-partition events topic and returns it
// and a producer.
func cluster(t *testing.T) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

// running is a Member running in its own goroutine.
type running struct {
	m      *partial.Member
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, c *kfake.Cluster, name string, crash bool) *running {
	t.Helper()
	m, err := partial.NewMember(partial.Options{
		Brokers: c.ListenAddrs(), Topic: "events", Group: "analysis", Partials: "partials",
		Experiment: experiment, Every: 300, Interval: 100 * time.Millisecond, Name: name,
		Opts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if crash {
		partial.Abandon(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop stops r and waits for Run to return nil.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of its context's end")
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCovered waits until the partials cover every record of every
// partition, and returns that snapshot.
func waitCovered(t *testing.T, c *kfake.Cluster) *partial.Snapshot {
	t.Helper()
	var snap *partial.Snapshot
	var last string
	waitFor(t, 90*time.Second, "the partials do not cover the events topic: "+last, func() bool {
		s, err := partial.Read(context.Background(), partial.ReadOptions{Brokers: c.ListenAddrs(), Partials: "partials", Experiment: experiment.Key, Source: "events"})
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("missing %v, lag %d", s.Missing, s.Lag())
		snap = s
		return len(s.Missing["events"]) == 0 && s.Lag() == 0
	})
	return snap
}

// checkExactlyOnce asserts that the partials cover every record once
// and that their merged report equals the single-process one.
func checkExactlyOnce(t *testing.T, snap *partial.Snapshot, recs []record) {
	t.Helper()
	var records, skipped int64
	for _, p := range snap.Partials {
		records += p.Records
		skipped += p.Skipped
	}
	junk := 0
	for _, r := range recs {
		if string(r.value) == "not json" {
			junk++
		}
	}
	if records != int64(len(recs)) || skipped != int64(junk) {
		t.Errorf("partials cover %d records, %d of them not events; want %d and %d: a record lost or counted twice", records, skipped, len(recs), junk)
	}
	agg, err := snap.Merge()
	if err != nil {
		t.Fatal(err)
	}
	got, err := agg.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, got, wantReport(t, recs))
}

// near reports whether a and b agree within 1e-9 relative (1e-12
// absolute near zero).
func near(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) || math.Abs(a-b) < 1e-12
}

// sameReport asserts equal counts and, within 1e-9 relative, equal
// means and p-values.
func sameReport(t *testing.T, got, want *rollout.Report) {
	t.Helper()
	if got.Ignored != want.Ignored || got.Malformed != want.Malformed || got.PreExposure != want.PreExposure ||
		got.Unattributed != want.Unattributed || got.MixedUnits != want.MixedUnits || got.Dropped != want.Dropped {
		t.Errorf("counts: got ignored %d malformed %d pre %d unattributed %d mixed %d dropped %d; want %d %d %d %d %d %d",
			got.Ignored, got.Malformed, got.PreExposure, got.Unattributed, got.MixedUnits, got.Dropped,
			want.Ignored, want.Malformed, want.PreExposure, want.Unattributed, want.MixedUnits, want.Dropped)
	}
	if len(got.Arms) != len(want.Arms) {
		t.Fatalf("got %d arms; want %d", len(got.Arms), len(want.Arms))
	}
	for i, w := range want.Arms {
		g := got.Arms[i]
		if g.Arm != w.Arm || g.Units != w.Units || g.Exposures != w.Exposures || g.Outcomes != w.Outcomes {
			t.Errorf("arm %s: got %d units, %d exposures, %d outcomes; want %s: %d, %d, %d", g.Arm, g.Units, g.Exposures, g.Outcomes, w.Arm, w.Units, w.Exposures, w.Outcomes)
		}
		if len(g.Metrics) != len(w.Metrics) {
			t.Errorf("arm %s: got %d metrics; want %d", w.Arm, len(g.Metrics), len(w.Metrics))
		}
		for name, wm := range w.Metrics {
			gm := g.Metrics[name]
			if gm == nil {
				t.Errorf("arm %s: no metric %s", w.Arm, name)
				continue
			}
			if gm.N != wm.N || gm.Values != wm.Values || !near(gm.Mean, wm.Mean) {
				t.Errorf("arm %s metric %s: got N %d values %d mean %v; want %d %d %v", w.Arm, name, gm.N, gm.Values, gm.Mean, wm.N, wm.Values, wm.Mean)
			}
			if (gm.Versus == nil) != (wm.Versus == nil) {
				t.Errorf("arm %s metric %s: got comparison %+v; want %+v", w.Arm, name, gm.Versus, wm.Versus)
			} else if wm.Versus != nil && (!near(gm.Versus.P, wm.Versus.P) || !near(gm.Versus.Diff, wm.Versus.Diff)) {
				t.Errorf("arm %s metric %s: got diff %v p %v; want %v %v", w.Arm, name, gm.Versus.Diff, gm.Versus.P, wm.Versus.Diff, wm.Versus.P)
			}
		}
	}
	if !near(got.SRM.ChiSquare, want.SRM.ChiSquare) || !near(got.SRM.P, want.SRM.P) {
		t.Errorf("SRM: got %+v; want %+v", got.SRM, want.SRM)
	}
}

// waitAssigned waits until every member owns a partition and they own
// all eight between them.
func waitAssigned(t *testing.T, ms ...*running) {
	t.Helper()
	waitFor(t, 60*time.Second, "the members do not share the eight partitions", func() bool {
		for _, r := range ms {
			if r.m.Stats().Partitions == 0 {
				return false
			}
		}
		return owned(ms...) == 8
	})
}

// owned sums the partitions the members own.
func owned(rs ...*running) int {
	n := 0
	for _, r := range rs {
		n += r.m.Stats().Partitions
	}
	return n
}

// TestMemberStoppedMidway: three members share eight partitions; one is
// stopped while events still flow, and the other two take its
// partitions over from its last partials. Every record is covered once,
// and the merged report equals one Aggregator's over the same events.
func TestMemberStoppedMidway(t *testing.T) {
	testStoppedMidway(t, false)
}

// TestMemberCrashedMidway is TestMemberStoppedMidway with a member that
// stops without publishing what it consumed since its last partial, as
// a crash would: its successors consume those records again.
func TestMemberCrashedMidway(t *testing.T) {
	testStoppedMidway(t, true)
}

func testStoppedMidway(t *testing.T, crash bool) {
	c, producer := cluster(t)
	recs := genRecords(30_000, 2_000, 1)
	third := len(recs) / 3
	ms := []*running{start(t, c, "a", false), start(t, c, "b", crash), start(t, c, "c", false)}
	waitAssigned(t, ms...)
	produce(t, producer, recs[:third])
	waitFor(t, 60*time.Second, "the three members do not all consume", func() bool {
		return owned(ms...) == 8 && ms[0].m.Stats().Records > 0 && ms[1].m.Stats().Records > 0 && ms[2].m.Stats().Records > 0
	})
	var wg sync.WaitGroup
	wg.Go(func() { produce(t, producer, recs[third:]) })
	b := ms[1].m.Stats()
	ms[1].stop(t)
	waitFor(t, 60*time.Second, "a and c do not take b's partitions over", func() bool { return owned(ms[0], ms[2]) == 8 })
	wg.Wait()
	snap := waitCovered(t, c)
	if b.Records == 0 || b.Partitions == 0 {
		t.Fatalf("b consumed nothing before it stopped: %+v", b)
	}
	checkExactlyOnce(t, snap, recs)
}

// TestMemberJoinsMidway: a third member joining while events flow takes
// partitions over from the first two, from their partials.
func TestMemberJoinsMidway(t *testing.T) {
	c, producer := cluster(t)
	recs := genRecords(30_000, 2_000, 2)
	third := len(recs) / 3
	ms := []*running{start(t, c, "a", false), start(t, c, "b", false)}
	waitAssigned(t, ms...)
	produce(t, producer, recs[:third])
	waitFor(t, 60*time.Second, "the two members do not both consume", func() bool {
		return owned(ms...) == 8 && ms[0].m.Stats().Records > 0 && ms[1].m.Stats().Records > 0
	})
	var wg sync.WaitGroup
	wg.Go(func() { produce(t, producer, recs[third:2*third]) })
	ms = append(ms, start(t, c, "c", false))
	waitFor(t, 60*time.Second, "c gets no partition", func() bool { return ms[2].m.Stats().Partitions > 0 && owned(ms...) == 8 })
	wg.Wait()
	produce(t, producer, recs[2*third:])
	snap := waitCovered(t, c)
	if ms[2].m.Stats().Records == 0 {
		t.Errorf("c consumed nothing: %+v", ms[2].m.Stats())
	}
	checkExactlyOnce(t, snap, recs)
}

// TestMemberRefusesAnotherDefinition: a member whose experiment differs
// from the one the partials were aggregated under (here, a salt changed)
// stops with an error instead of merging incomparable aggregates.
func TestMemberRefusesAnotherDefinition(t *testing.T) {
	c, producer := cluster(t)
	produce(t, producer, genRecords(2_000, 100, 3))
	a := start(t, c, "a", false)
	waitAssigned(t, a)
	waitCovered(t, c)
	a.stop(t)

	changed := experiment
	changed.Salt = "another-salt"
	m, err := partial.NewMember(partial.Options{Brokers: c.ListenAddrs(), Topic: "events", Group: "analysis", Partials: "partials",
		Experiment: changed, Interval: 100 * time.Millisecond, Opts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = m.Run(ctx)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "another definition") {
		t.Fatalf("Run with a changed salt = %v (context: %v); want an error saying the partials are of another definition", err, ctx.Err())
	}
}

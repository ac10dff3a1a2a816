package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/partial"
)

// TestRolloutAnalyzeCountsMalformedLines pins analyze failing on the
// first malformed line of a file: malformed lines are counted and named
// by line number on stderr, and the report covers the good ones.
func TestRolloutAnalyzeCountsMalformedLines(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	var lines strings.Builder
	for i := range 40 {
		switch i {
		case 2:
			lines.WriteString("{not json\n")
		case 7:
			lines.WriteString(`{"experiment":"map-impl","arm":"syncmap","unit":"","metrics":{"ms":1}}` + "\n")
		default:
			lines.WriteString(`{"experiment":"map-impl","arm":"` + []string{"syncmap", "mapguard"}[i%2] + `","unit":"u` + strconv.Itoa(i) + `","metrics":{"ms":` + strconv.Itoa(i%5) + "}}\n")
		}
	}
	events := writeFile(t, dir, "events.jsonl", lines.String())
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-file", events}, &out, &errOut)
	if err != nil {
		t.Fatalf("analyze of a file with 2 malformed lines: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"2 of 40 lines malformed", events + ":line 3:", events + ":line 8:"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut.String())
		}
	}
	// 38 good events: units 0..39 but 2 and 7, 19 per arm less the bad
	// ones: syncmap (even i) loses 2, mapguard (odd i) loses 7.
	for _, want := range []string{"syncmap   19", "mapguard  19"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report does not show %q:\n%s", want, out.String())
		}
	}
}

// scaleOutRecords returns n events of experiment map-impl from units
// units, each unit's arm as assigned, with a latency metric.
func scaleOutRecords(t *testing.T, n, units int) []rollout.Event {
	t.Helper()
	c, err := rollout.ParseConfig([]byte(mapImplConfig))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Experiments[0]
	out := make([]rollout.Event, n)
	for i := range out {
		u := "instance-" + strconv.Itoa(i*7919%units)
		out[i] = rollout.Event{Experiment: "map-impl", Arm: e.Assign(u, nil).Arm, Unit: u,
			Time: time.Date(2026, 12, 1, 0, 0, 0, i, time.UTC), Metrics: map[string]float64{"ms": float64(i%13) + float64(len(u)%3)}}
	}
	return out
}

// emit publishes events to topic through a KafkaSink, keyed by unit.
func emit(t *testing.T, brokers []string, topic string, events []rollout.Event) {
	t.Helper()
	sink, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if err := sink.Emit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRolloutAggregateReport runs three `rollout aggregate` members of
// one group over an 8-partition topic and checks that `rollout report`
// prints, once the partials cover the topic, the very report `rollout
// analyze` prints reading the topic in one process.
func TestRolloutAggregateReport(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 3)
	for range 3 {
		go func() {
			done <- run(ctx, []string{"rollout", "aggregate", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers,
				"-topic", "events", "-group", "g", "-partials", "partials", "-every", "500", "-interval", "100ms"}, io.Discard, io.Discard)
		}()
	}
	emit(t, c.ListenAddrs(), "events", scaleOutRecords(t, 6000, 900))

	var want bytes.Buffer
	if err := run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers, "-topic", "events"}, &want, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	deadline := time.Now().Add(60 * time.Second)
	for {
		got.Reset()
		err := run(context.Background(), []string{"rollout", "report", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers,
			"-partials", "partials", "-topic", "events"}, &got, io.Discard)
		if err == nil && strings.Contains(got.String(), "partials: 8 partitions, 6000 records covered, 0 records not yet covered") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the partials do not cover the topic: %v\n%s", err, got.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	report, _, _ := strings.Cut(got.String(), "partials: ")
	if report != want.String() {
		t.Errorf("rollout report printed\n%s\nrollout analyze of the same topic printed\n%s", report, want.String())
	}
	cancel()
	for range 3 {
		if err := <-done; err != nil {
			t.Errorf("aggregate: %v", err)
		}
	}
}

// TestRolloutReportNamesMissingPartitions: partitions without a partial
// are named, with the records they hold, and make report fail, instead
// of a smaller report passing for the whole.
func TestRolloutReportNamesMissingPartitions(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events"), kfake.SeedTopics(1, "partials"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	conf, _ := rollout.ParseConfig([]byte(mapImplConfig))
	e := conf.Experiments[0]
	// Partitions 0 and 1 have partials of 20 events each; partition 2
	// holds 5 events and no partial; partition 3 is empty.
	var recs []*kgo.Record
	for p := range int32(2) {
		agg := rollout.NewAggregator(e)
		for i := range 20 {
			u := "u" + strconv.Itoa(int(p)*100+i)
			agg.Add(rollout.Event{Experiment: "map-impl", Arm: e.Assign(u, nil).Arm, Unit: u, Metrics: map[string]float64{"ms": float64(i)}})
		}
		b, err := (&partial.Partial{Topic: "events", Partition: p, Next: 20, Records: 20, Agg: agg}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "partials", Key: []byte(partial.Key("map-impl", "events", p)), Value: b})
		for range 20 {
			recs = append(recs, &kgo.Record{Topic: "events", Partition: p, Value: []byte("{}")})
		}
	}
	for range 5 {
		ev, _ := json.Marshal(rollout.Event{Experiment: "map-impl", Arm: "syncmap", Unit: "x"})
		recs = append(recs, &kgo.Record{Topic: "events", Partition: 2, Value: ev})
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"rollout", "report", "-config", cfg, "-experiment", "map-impl", "-brokers", strings.Join(c.ListenAddrs(), ","),
		"-partials", "partials"}, &out, io.Discard)
	if code := exitCode(err, io.Discard); code != 1 {
		t.Fatalf("report with a partition of 5 records without a partial: exit %d (%v)\n%s; want exit 1", code, err, out.String())
	}
	for _, want := range []string{"events/2 (5 records)", "events/3 (0 records)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report does not name %s:\n%s", want, out.String())
		}
	}
	if !strings.Contains(err.Error(), "events/2 (5 records)") || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("error %q does not name events/2 as incomplete", err)
	}
	if !strings.Contains(out.String(), "partials: 2 partitions, 40 records covered, 5 records not yet covered") {
		t.Errorf("report does not give the coverage:\n%s", out.String())
	}
}

// TestRolloutReportNoPartials: an empty partials topic is exit 1 naming
// the topic and brokers; unreachable brokers are exit 1 naming them.
func TestRolloutReportNoPartials(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "partials"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	var out bytes.Buffer
	err = run(context.Background(), []string{"rollout", "report", "-experiment", "map-impl", "-brokers", brokers, "-partials", "partials"}, &out, io.Discard)
	if code := exitCode(err, io.Discard); code != 1 || !strings.Contains(err.Error(), "no partials of experiment map-impl in topic partials at "+brokers) {
		t.Fatalf("exit %d (%v); want exit 1 naming the topic and brokers", code, err)
	}
	c.Close()
	err = run(context.Background(), []string{"rollout", "report", "-experiment", "map-impl", "-brokers", brokers, "-partials", "partials", "-timeout", "1s"}, &out, io.Discard)
	if code := exitCode(err, io.Discard); code != 1 || !strings.Contains(err.Error(), brokers) {
		t.Fatalf("closed cluster: exit %d (%v); want exit 1 naming %s", code, err, brokers)
	}
}

// TestRolloutScaleOutUsageErrors: the new subcommands' flag errors are
// usage errors (exit 2).
func TestRolloutScaleOutUsageErrors(t *testing.T) {
	good := writeFile(t, t.TempDir(), "good.yaml", mapImplConfig)
	base := []string{"-config", good, "-experiment", "map-impl"}
	for _, args := range [][]string{
		append([]string{"rollout", "aggregate"}, base...),
		append([]string{"rollout", "aggregate", "-brokers", "b", "-topic", "t", "-group", "g"}, base...),
		append([]string{"rollout", "aggregate", "-brokers", "b", "-topic", "t", "-group", "g", "-partials", "t"}, base...),
		append([]string{"rollout", "aggregate", "-brokers", "b", "-topic", "t", "-group", "g", "-partials", "p", "-every", "0"}, base...),
		{"rollout", "report", "-brokers", "b", "-partials", "p"},
		append([]string{"rollout", "report", "-brokers", "b"}, base...),
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v; want a usage error", args, err)
		}
	}
}

// TestRolloutAnalyzeProgress: a long read prints its progress, in
// events/s, on stderr; a short one prints none. The read is made long
// by making the progress interval zero, not by waiting.
func TestRolloutAnalyzeProgress(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	var lines strings.Builder
	for i := range 10_000 {
		lines.WriteString(`{"experiment":"map-impl","arm":"` + []string{"syncmap", "mapguard"}[i%2] + `","unit":"u` + strconv.Itoa(i%500) + `","metrics":{"ms":1}}` + "\n")
	}
	events := writeFile(t, dir, "events.jsonl", lines.String())
	args := []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-file", events}
	var errOut bytes.Buffer
	if err := run(context.Background(), args, io.Discard, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut.String(), "events/s") {
		t.Errorf("a read of well under %v printed progress:\n%s", readProgressEvery, errOut.String())
	}
	defer func(d time.Duration) { readProgressEvery = d }(readProgressEvery)
	readProgressEvery = 0
	errOut.Reset()
	if err := run(context.Background(), args, io.Discard, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{events + ": 4096 events read, ", events + ": 8192 events read, ", events + ": 10000 events read in "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut.String())
		}
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/rollout"
)

const mapImplConfig = `
experiments:
  - key: map-impl
    salt: map-impl-2026-11
    arms:
      - {name: syncmap, weight: 50}
      - {name: mapguard, weight: 50}
`

// TestRolloutEndToEnd is the demo the issue asks for: 10,000 simulated
// instances are assigned between a sync.Map arm and a mapguard.Map arm,
// each runs a short LoadOrStore workload on its arm's map and publishes
// its latency to a Kafka topic (franz-go's in-process kfake cluster), and
// `mapguard rollout analyze` reads the topic and reports mapguard's arm
// faster, significantly, with no sample-ratio mismatch.
func TestRolloutEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 simulated instances")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "experiments.yaml")
	os.WriteFile(cfg, []byte(mapImplConfig), 0o644)
	assigner, err := rollout.NewAssigner([]byte(mapImplConfig))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.SeedTopics(3, "exposures"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sink, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: c.ListenAddrs(), Topic: "exposures"})
	if err != nil {
		t.Fatal(err)
	}

	// One shared map per arm, as one service process would hold; each
	// instance times 256 LoadOrStore calls on 8 hot keys.
	var sm sync.Map
	mg := mapguard.NewMap[string, int]()
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	workload := func(arm string) float64 {
		start := time.Now()
		for i := range 256 {
			k := keys[i%len(keys)]
			if arm == "syncmap" {
				sm.LoadOrStore(k, i)
			} else {
				mg.LoadOrStore(k, i)
			}
		}
		return float64(time.Since(start).Nanoseconds()) / 256
	}
	for i := range 10_000 {
		unit := "instance-" + strconv.Itoa(i)
		a, err := assigner.Assign("map-impl", unit, nil)
		if err != nil || a.Arm == "" {
			t.Fatalf("instance %d: %+v %v", i, a, err)
		}
		ns := workload(a.Arm)
		if err := sink.Emit(context.Background(), rollout.Event{Experiment: "map-impl", Arm: a.Arm, Unit: unit, Time: time.Now(),
			Metrics: map[string]float64{"loadorstore_ns": ns}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Delivered != 10_000 {
		t.Fatalf("sink stats %+v; want 10,000 delivered", st)
	}

	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-control", "syncmap",
		"-brokers", strings.Join(c.ListenAddrs(), ","), "-topic", "exposures", "-group", "analysis"}, &out, &errOut)
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, errOut.String())
	}
	report := out.String()
	t.Log("\n" + report)
	var mgLine string
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "mapguard ") {
			mgLine = line
		}
	}
	switch {
	case raceEnabled:
		// The race detector instruments every memory access of both maps
		// and dwarfs the difference: check the pipeline, not the verdict.
		if !strings.Contains(mgLine, "loadorstore_ns") {
			t.Fatalf("no metric for mapguard's arm:\n%s", report)
		}
	case !strings.Contains(mgLine, " -") || !strings.Contains(mgLine, " *"):
		t.Fatalf("mapguard's arm is not reported significantly faster than sync.Map's:\n%s", report)
	}
	if !strings.Contains(report, "sample ratio:") || strings.Contains(report, "MISMATCH") {
		t.Fatalf("sample ratio check failed:\n%s", report)
	}
}

func TestRolloutAssignAndFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "experiments.yaml")
	os.WriteFile(cfg, []byte(mapImplConfig), 0o644)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"rollout", "assign", "-config", cfg, "-experiment", "map-impl", "-unit", "instance-7"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	e, _ := rollout.ParseConfig([]byte(mapImplConfig))
	want := e.Experiments[0].Assign("instance-7", nil).Arm
	if !strings.Contains(out.String(), "arm "+want+" (enrolled)") {
		t.Fatalf("assign printed %q; want arm %s", out.String(), want)
	}

	events := filepath.Join(dir, "events.jsonl")
	sink, _ := rollout.NewFileSink(events)
	for i := range 400 {
		arm := []string{"syncmap", "mapguard"}[i%2]
		sink.Emit(context.Background(), rollout.Event{Experiment: "map-impl", Arm: arm, Unit: strconv.Itoa(i), Metrics: map[string]float64{"ms": float64(i % 7)}})
	}
	sink.Close()
	out.Reset()
	if err := run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-control", "syncmap", "-file", events}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "syncmap") || !strings.Contains(out.String(), "200") {
		t.Fatalf("file report:\n%s", out.String())
	}

	// A writer killed mid-write leaves a torn last line: analyze says so
	// on stderr and reports the whole lines.
	f, err := os.OpenFile(events, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"experiment":"map-impl","arm":"syncm`)
	f.Close()
	out.Reset()
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-control", "syncmap", "-file", events}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "last line is torn") || strings.Contains(errOut.String(), "malformed") || !strings.Contains(out.String(), "200") {
		t.Fatalf("file with a torn last line: stderr %q, report:\n%s", errOut.String(), out.String())
	}
}

func TestRolloutUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(mapImplConfig), 0o644)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("experiments: [{key: x, salt: s, arms: [{name: a, weight: 70}, {name: b, weight: 40}]}]"), 0o644)
	for _, args := range [][]string{
		{"rollout"},
		{"rollout", "frob"},
		{"rollout", "assign", "-config", good, "-experiment", "map-impl"},
		{"rollout", "assign", "-config", bad, "-experiment", "x", "-unit", "u"},
		{"rollout", "assign", "-config", good, "-experiment", "nosuch", "-unit", "u"},
		{"rollout", "analyze", "-config", good, "-experiment", "map-impl"},
		{"rollout", "analyze", "-config", good, "-experiment", "map-impl", "-file", "x", "-brokers", "y"},
		{"rollout", "analyze", "-config", good, "-experiment", "map-impl", "-control", "nosuch", "-file", empty},
		{"rollout", "analyze", "-config", good, "-experiment", "map-impl", "-file", empty, "-follow"},
		{"rollout", "analyze", "-config", good, "-experiment", "map-impl", "-brokers", "b", "-topic", "t", "-timeout", "0s"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v; want a usage error", args, err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/partial"
)

// TestRolloutScaleOutMeasure measures the scale-out mode end to end; it
// runs only when MAPGUARD_SCALEOUT_EVENTS is set (the number of events,
// e.g. 2000000), with MAPGUARD_SCALEOUT_UNITS units (default events/20)
// and MAPGUARD_SCALEOUT_MEMBERS members (default 3):
//
//	MAPGUARD_SCALEOUT_EVENTS=2000000 MAPGUARD_SCALEOUT_UNITS=100000 go test -run TestRolloutScaleOutMeasure -v -timeout 30m ./cmd/mapguard/
//
// The members, each a `mapguard rollout aggregate` process of its own,
// join a group on an 8-partition topic of an in-process kfake cluster;
// once each owns partitions, the test produces the events and logs the
// wall time from the start of production until the partials cover the
// whole topic, each member's peak RSS, the
// time of `rollout report`, and for comparison the wall time and peak
// RSS of one `mapguard rollout analyze` process reading the topic. It
// checks that the merged report equals the single process's.
func TestRolloutScaleOutMeasure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MAPGUARD_SCALEOUT_EVENTS"))
	if n <= 0 {
		t.Skip("set MAPGUARD_SCALEOUT_EVENTS to measure")
	}
	units, _ := strconv.Atoi(os.Getenv("MAPGUARD_SCALEOUT_UNITS"))
	if units <= 0 {
		units = max(1, n/20)
	}
	members, _ := strconv.Atoi(os.Getenv("MAPGUARD_SCALEOUT_MEMBERS"))
	if members <= 0 {
		members = 3
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mapguard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")

	conf, _ := rollout.ParseConfig([]byte(mapImplConfig))
	e := conf.Experiments[0]
	arms := make([]string, units)
	for u := range units {
		arms[u] = e.Assign("instance-"+strconv.Itoa(u), nil).Arm
	}
	procs := make([]*exec.Cmd, members)
	errs := make([]*bytes.Buffer, members)
	for i := range procs {
		errs[i] = &bytes.Buffer{}
		procs[i] = exec.Command(bin, "rollout", "aggregate", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers,
			"-topic", "events", "-group", "g", "-partials", "partials", "-every", "200000", "-interval", "2s", "-progress", "0")
		procs[i].Stderr = errs[i]
		if err := procs[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, p := range procs {
			if p.ProcessState == nil {
				p.Process.Kill()
				p.Wait()
			}
		}
	}()
	// Produce once the group has formed: every member owns partitions,
	// as the writers of their first (empty) partials show.
	for start := time.Now(); ; {
		snap, err := partial.Read(context.Background(), partial.ReadOptions{Brokers: c.ListenAddrs(), Partials: "partials", Experiment: "map-impl", Source: "events"})
		writers := map[string]bool{}
		if err == nil {
			for _, p := range snap.Partials {
				writers[p.Writer] = true
			}
		}
		if err == nil && len(snap.Missing["events"]) == 0 && len(writers) == members {
			t.Logf("group of %d members formed in %v", members, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("after a minute the group has not formed: %v %+v %v", err, snap, writers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("events"), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		t.Fatal(err)
	}
	produceStart := time.Now()
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		u := i * 7919 % units
		unit := "instance-" + strconv.Itoa(u)
		b, _ := json.Marshal(rollout.Event{Experiment: "map-impl", Arm: arms[u], Unit: unit, Time: base.Add(time.Duration(i) * time.Microsecond),
			Metrics: map[string]float64{"ms": float64(i%97) / 7}})
		cl.Produce(context.Background(), &kgo.Record{Key: []byte(unit), Value: b}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	t.Logf("produced %d events of %d units to 8 partitions in %v", n, units, time.Since(produceStart).Round(time.Millisecond))

	var snap *partial.Snapshot
	for {
		snap, err = partial.Read(context.Background(), partial.ReadOptions{Brokers: c.ListenAddrs(), Partials: "partials", Experiment: "map-impl", Source: "events"})
		if err == nil && len(snap.Missing["events"]) == 0 && snap.Lag() == 0 {
			break
		}
		if time.Since(produceStart) > 20*time.Minute {
			t.Fatalf("after 20 minutes: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	wall := time.Since(produceStart)
	for i, p := range procs {
		p.Process.Signal(os.Interrupt)
		if err := p.Wait(); err != nil {
			t.Errorf("member %d: %v\n%s", i, err, errs[i].String())
		}
		t.Logf("member %d: peak RSS %d MiB, CPU %v user %v sys; %s", i, p.ProcessState.SysUsage().(*syscall.Rusage).Maxrss>>10,
			p.ProcessState.UserTime().Round(time.Millisecond), p.ProcessState.SystemTime().Round(time.Millisecond), strings.TrimSpace(lastLine(errs[i].String())))
	}
	t.Logf("%d members: all %d events covered by partials %v after production started (%.0f events/s)", members, n, wall.Round(time.Millisecond), float64(n)/wall.Seconds())

	start := time.Now()
	var got bytes.Buffer
	if err := run(context.Background(), []string{"rollout", "report", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers, "-partials", "partials"}, &got, os.Stderr); err != nil {
		t.Fatal(err)
	}
	t.Logf("rollout report (in the test process): %v\n%s", time.Since(start).Round(time.Millisecond), got.String())

	start = time.Now()
	analyze := exec.Command(bin, "rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers, "-topic", "events")
	var want, aerr bytes.Buffer
	analyze.Stdout, analyze.Stderr = &want, &aerr
	if err := analyze.Run(); err != nil {
		t.Fatalf("analyze: %v\n%s", err, aerr.String())
	}
	t.Logf("one `rollout analyze` process: %v (incl. its 2 s idle wait at the end), peak RSS %d MiB", time.Since(start).Round(time.Millisecond),
		analyze.ProcessState.SysUsage().(*syscall.Rusage).Maxrss>>10)
	if report, _, _ := strings.Cut(got.String(), "partials: "); report != want.String() {
		t.Errorf("report\n%s\ndiffers from analyze\n%s", report, want.String())
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

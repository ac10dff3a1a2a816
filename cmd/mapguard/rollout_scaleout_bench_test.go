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
	"sync"
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
// checks that the merged report equals the single process's. With
// MAPGUARD_SCALEOUT_BACKLOG set, the events are produced before the
// members start, and the wall time runs from their start: the analysis
// of a backlog.
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
	// produce produces the n events, keyed by unit, and returns when it began.
	produce := func() time.Time {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("events"), kgo.MaxBufferedRecords(100_000))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
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
		t.Logf("produced %d events of %d units to 8 partitions in %v", n, units, time.Since(start).Round(time.Millisecond))
		return start
	}
	backlog := os.Getenv("MAPGUARD_SCALEOUT_BACKLOG") != ""
	var produceStart time.Time
	if backlog {
		produce()
		produceStart = time.Now() // the members' start
	}
	procs := make([]*exec.Cmd, members)
	errs := make([]*bytes.Buffer, members)
	hwms := make([]func() int64, members)
	for i := range procs {
		errs[i] = &bytes.Buffer{}
		procs[i] = exec.Command(bin, "rollout", "aggregate", "-config", cfg, "-experiment", "map-impl", "-brokers", brokers,
			"-topic", "events", "-group", "g", "-partials", "partials", "-every", "200000", "-interval", "2s", "-progress", "0")
		procs[i].Stderr = errs[i]
		if err := procs[i].Start(); err != nil {
			t.Fatal(err)
		}
		hwms[i] = watchPeakRSS(procs[i].Process.Pid)
	}
	defer func() {
		for _, p := range procs {
			if p.ProcessState == nil {
				p.Process.Kill()
				p.Wait()
			}
		}
	}()
	if !backlog {
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
		produceStart = produce()
	}

	for {
		snap, err := partial.Read(context.Background(), partial.ReadOptions{Brokers: c.ListenAddrs(), Partials: "partials", Experiment: "map-impl", Source: "events"})
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
		hwm := hwms[i]()
		p.Process.Signal(os.Interrupt)
		if err := p.Wait(); err != nil {
			t.Errorf("member %d: %v\n%s", i, err, errs[i].String())
		}
		t.Logf("member %d: peak RSS %d MiB, CPU %v user %v sys; %s", i, hwm>>20,
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
	if err := analyze.Start(); err != nil {
		t.Fatal(err)
	}
	hwm := watchPeakRSS(analyze.Process.Pid)
	if err := analyze.Wait(); err != nil {
		t.Fatalf("analyze: %v\n%s", err, aerr.String())
	}
	t.Logf("one `rollout analyze` process: %v (incl. its 2 s idle wait at the end), peak RSS %d MiB, CPU %v user %v sys", time.Since(start).Round(time.Millisecond),
		hwm()>>20, analyze.ProcessState.UserTime().Round(time.Millisecond), analyze.ProcessState.SystemTime().Round(time.Millisecond))
	if report, _, _ := strings.Cut(got.String(), "partials: "); report != want.String() {
		t.Errorf("report\n%s\ndiffers from analyze\n%s", report, want.String())
	}
}

// watchPeakRSS polls the peak RSS (VmHWM) of process pid every 10 ms
// until it exits, and returns a function giving the largest seen, in
// bytes. The rusage of a child is no good here: Go starts it sharing the
// parent's memory until exec, so its ru_maxrss is at least the test
// process's RSS, which holds the whole kfake topic.
func watchPeakRSS(pid int) func() int64 {
	var mu sync.Mutex
	var peak int64
	go func() {
		for {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			if err != nil {
				return
			}
			for line := range strings.SplitSeq(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					mu.Lock()
					peak = max(peak, kb<<10)
					mu.Unlock()
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

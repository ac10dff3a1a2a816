package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mapguard/mapguard/rollout"
)

// writeFile writes data to name under dir and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRolloutHelp pins `mapguard rollout -h` failing with "unknown
// rollout subcommand" and exit 2: it prints the usage and exits 0.
func TestRolloutHelp(t *testing.T) {
	for _, h := range []string{"-h", "-help", "--help", "help"} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"rollout", h}, &out, io.Discard)
		if code := exitCode(err, io.Discard); code != 0 || !strings.Contains(out.String(), "usage: mapguard rollout") {
			t.Errorf("rollout %s: exit %d (%v), stdout %q; want exit 0 and the usage", h, code, err, out.String())
		}
	}
}

// TestRolloutAnalyzeNoExposures pins the empty report with "sample ratio
// ... ok" and exit 0 that analyze gave for an empty file, a file of
// unrelated events, a file of only malformed lines (which it called
// "no events") and an empty topic: each is now exit 1 naming the
// source.
func TestRolloutAnalyzeNoExposures(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	empty := writeFile(t, dir, "empty.jsonl", "")
	malformed := writeFile(t, dir, "malformed.jsonl", "not json\n{\"experiment\n")
	unrelated := writeFile(t, dir, "unrelated.jsonl", `{"experiment":"other","arm":"syncmap","unit":"u1"}`+"\n"+`{"foo":1}`+"\n")

	c := exposureCluster(t)
	brokers := strings.Join(c.ListenAddrs(), ",")

	for _, tc := range []struct {
		source []string
		names  []string // what the error must name
	}{
		{[]string{"-file", empty}, []string{empty, "no events"}},
		{[]string{"-file", malformed}, []string{malformed, "all 2 of its lines are malformed"}},
		{[]string{"-file", unrelated}, []string{unrelated, "2 events"}},
		{[]string{"-brokers", brokers, "-topic", "exposures"}, []string{"topic exposures", brokers}},
		{[]string{"-brokers", brokers, "-topic", "exposures", "-group", "g"}, []string{"topic exposures", brokers, "leave out -group"}},
	} {
		var out bytes.Buffer
		args := append([]string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-control", "syncmap"}, tc.source...)
		err := run(context.Background(), args, &out, io.Discard)
		if code := exitCode(err, io.Discard); code != 1 {
			t.Errorf("%q: exit %d (%v), stdout:\n%s\nwant exit 1", tc.source, code, err, out.String())
			continue
		}
		for _, want := range append(tc.names, "no exposures of experiment map-impl") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not say %q", tc.source, err, want)
			}
		}
		if out.Len() > 0 {
			t.Errorf("%q: printed a report:\n%s", tc.source, out.String())
		}
	}
}

// TestRolloutAnalyzeUnreachableBroker: a closed port is an error naming
// the broker within -timeout, not an empty report.
func TestRolloutAnalyzeUnreachableBroker(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	var out bytes.Buffer
	err = run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl",
		"-brokers", addr, "-topic", "exposures", "-timeout", "1s"}, &out, io.Discard)
	took := time.Since(start)
	if code := exitCode(err, io.Discard); code != 1 || !strings.Contains(err.Error(), addr) {
		t.Fatalf("exit %d (%v), stdout:\n%s\nwant exit 1 naming %s", code, err, out.String(), addr)
	}
	if took > 3*time.Second {
		t.Fatalf("the error came after %v; want it within -timeout 1s (plus slack)", took)
	}
	if out.Len() > 0 {
		t.Fatalf("printed a report:\n%s", out.String())
	}
}

// TestRolloutAnalyzeDefaultControl pins -control defaulting to "control",
// an arm no config in the README has: the default is the first arm.
func TestRolloutAnalyzeDefaultControl(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	var lines strings.Builder
	for i := range 40 {
		lines.WriteString(`{"experiment":"map-impl","arm":"` + []string{"mapguard", "syncmap"}[i%2] + `","unit":"u` + strconv.Itoa(i) + `","metrics":{"ms":` + strconv.Itoa(i%5) + "}}\n")
	}
	events := writeFile(t, dir, "events.jsonl", lines.String())
	var out bytes.Buffer
	err := run(context.Background(), []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl", "-file", events}, &out, io.Discard)
	if err != nil {
		t.Fatalf("analyze without -control: %v", err)
	}
	if !strings.Contains(out.String(), "(control: syncmap)") {
		t.Fatalf("report:\n%s\nwant the first arm, syncmap, as the control", out.String())
	}
}

// reportWriter collects reports and cancels after the n-th is complete.
type reportWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	n      int
	cancel context.CancelFunc
}

func (w *reportWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Count(w.buf.String(), "* significant at") >= w.n {
		w.cancel()
	}
	return len(p), nil
}

// TestRolloutFollowCountsOnce pins -follow without -group counting every
// event again at each report (each read starts at the topic's
// beginning): every report of an unchanged topic shows the same counts.
func TestRolloutFollowCountsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("two Kafka reads of 2 s each")
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	c := exposureCluster(t)
	publishExposures(t, c.ListenAddrs(), 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &reportWriter{n: 2, cancel: cancel}
	err := run(ctx, []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl",
		"-control", "syncmap",
		"-brokers", strings.Join(c.ListenAddrs(), ","), "-topic", "exposures", "-follow", "-every", "10ms"}, w, io.Discard)
	if err != nil {
		t.Fatalf("analyze -follow: %v", err)
	}
	rows := regexp.MustCompile(`(?m)^syncmap +(\d+) +(\d+) `).FindAllStringSubmatch(w.buf.String(), -1)
	if len(rows) < 2 {
		t.Fatalf("want 2 reports, got:\n%s", w.buf.String())
	}
	for _, r := range rows {
		if r[1] != "50" || r[2] != "50" {
			t.Fatalf("syncmap arm: %s units, %s exposures; want 50 and 50 in every report:\n%s", r[1], r[2], w.buf.String())
		}
	}
}

// TestRolloutAssignExplainsNoArm: a unit with no arm says why, naming the
// targeting attribute it lacks, instead of a bare "(none)".
func TestRolloutAssignExplainsNoArm(t *testing.T) {
	dir := t.TempDir()
	const targeted = `
experiments:
  - key: map-impl
    salt: map-impl-2026-11
    arms:
      - {name: syncmap, weight: 5}
      - {name: mapguard, weight: 10}
    targeting: {region: [eu-west-1, eu-north-1]}
`
	cfg := writeFile(t, dir, "experiments.yaml", targeted)
	c, err := rollout.ParseConfig([]byte(targeted))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Experiments[0]
	notEnrolled, enrolled := "", ""
	for i := 0; notEnrolled == "" || enrolled == ""; i++ {
		switch u := "instance-" + strconv.Itoa(i); e.Assign(u, map[string]string{"region": "eu-west-1"}).Reason {
		case "not-enrolled":
			notEnrolled = u
		case "enrolled":
			enrolled = u
		}
	}
	for _, tc := range []struct {
		unit  string
		attrs []string
		want  string
	}{
		{enrolled, nil, "no arm (not-targeted): attribute region is not given and the targeting wants one of eu-west-1, eu-north-1 (add -attr region=eu-west-1)"},
		{enrolled, []string{"-attr", "region=us-east-1"}, `no arm (not-targeted): attribute region is "us-east-1" and the targeting wants one of eu-west-1, eu-north-1`},
		{notEnrolled, []string{"-attr", "region=eu-west-1"}, "no arm (not-enrolled): the unit's bucket is outside the 15% of units"},
		{enrolled, []string{"-attr", "region=eu-west-1"}, "arm " + e.Assign(enrolled, map[string]string{"region": "eu-west-1"}).Arm + " (enrolled)"},
	} {
		var out bytes.Buffer
		args := append([]string{"rollout", "assign", "-config", cfg, "-experiment", "map-impl", "-unit", tc.unit}, tc.attrs...)
		if err := run(context.Background(), args, &out, io.Discard); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q printed %q; want %q", args, out.String(), tc.want)
		}
	}
}

// TestRolloutFollowWaitsForFirstExposures pins that -follow on a topic the
// service has not written to yet waits and reports once exposures arrive,
// while a one-shot analyze of the same empty topic is an error.
func TestRolloutFollowWaitsForFirstExposures(t *testing.T) {
	if testing.Short() {
		t.Skip("several Kafka reads")
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "experiments.yaml", mapImplConfig)
	c := exposureCluster(t)
	brokers := strings.Join(c.ListenAddrs(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := &reportWriter{n: 1, cancel: cancel}
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"rollout", "analyze", "-config", cfg, "-experiment", "map-impl",
			"-brokers", brokers, "-topic", "exposures", "-follow", "-every", "50ms"}, w, &stderr)
	}()
	// Publish only once -follow has said the topic has no exposures yet.
	for !strings.Contains(stderr.String(), "no exposures of experiment map-impl in topic exposures") {
		select {
		case err := <-done:
			t.Fatalf("analyze -follow on an empty topic returned %v before any exposure; stderr:\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	publishExposures(t, c.ListenAddrs(), 100)
	if err := <-done; err != nil {
		t.Fatalf("analyze -follow: %v\nstderr:\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`(?m)^syncmap +50 +50 `).MatchString(w.buf.String()) {
		t.Errorf("no report of the 50 syncmap exposures:\n%s", w.buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRolloutAssignExplainsAsAssignDecides pins that assign's explanation
// follows Assign's reason: a targeting that allows the empty value accepts
// a unit without the attribute, so a unit it does not enrol is explained
// by its bucket, not by the missing attribute.
func TestRolloutAssignExplainsAsAssignDecides(t *testing.T) {
	const cfgText = `
experiments:
  - key: map-impl
    salt: map-impl-2026-11
    arms:
      - {name: syncmap, weight: 5}
      - {name: mapguard, weight: 10}
    targeting: {region: ["", eu-west-1]}
`
	cfg := writeFile(t, t.TempDir(), "experiments.yaml", cfgText)
	c, err := rollout.ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Experiments[0]
	unit := ""
	for i := 0; unit == ""; i++ {
		if u := "instance-" + strconv.Itoa(i); e.Assign(u, nil).Reason == "not-enrolled" {
			unit = u
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"rollout", "assign", "-config", cfg, "-experiment", "map-impl", "-unit", unit}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "no arm (not-enrolled): the unit's bucket is outside") {
		t.Errorf("assign of a unit outside the enrolled buckets printed %q; want the bucket explanation", got)
	}
}

// publishExposures publishes n exposures of experiment map-impl to the
// topic exposures, one unit each, alternately in arms syncmap and
// mapguard.
func publishExposures(t *testing.T, brokers []string, n int) {
	t.Helper()
	sink, err := rollout.NewKafkaSink(rollout.KafkaOptions{Brokers: brokers, Topic: "exposures"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		arm := []string{"syncmap", "mapguard"}[i%2]
		if err := sink.Emit(context.Background(), rollout.Event{Experiment: "map-impl", Arm: arm, Unit: strconv.Itoa(i),
			Metrics: map[string]float64{"ms": float64(i % 7)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// exposureCluster starts an in-process Kafka cluster with an empty topic
// exposures, closed when the test ends.
func exposureCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.SeedTopics(1, "exposures"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

// config is the command line.
type config struct {
	duration, up, down       time.Duration
	deliveryTimeout          time.Duration
	rate, buffer, partitions int
	keys, workers, mapOps    int
	views                    int
	viewEvery                time.Duration
	// The bounds: RSS growth and live-heap growth in MiB, goroutines.
	maxRSSGrowth, maxHeapGrowth, maxGoroutineGrowth int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 10*time.Minute, "how long to run")
	fs.DurationVar(&c.up, "up", 20*time.Second, "how long the broker is up each cycle")
	fs.DurationVar(&c.down, "down", 4*time.Second, "how long the broker is down each cycle")
	fs.DurationVar(&c.deliveryTimeout, "delivery-timeout", 3*time.Second, "the sink's DeliveryTimeout: below -down, so that each outage fails some events")
	fs.IntVar(&c.rate, "rate", 1000, "events emitted per second")
	fs.IntVar(&c.buffer, "buffer", 2000, "the sink's MaxBuffered: below -rate times -down, so that each outage drops some events")
	fs.IntVar(&c.partitions, "partitions", 3, "partitions of the topic")
	fs.IntVar(&c.keys, "keys", 50_000, "key space of each map")
	fs.IntVar(&c.workers, "workers", 2, "goroutines loading the maps")
	fs.IntVar(&c.mapOps, "map-ops", 100_000, "map operations per second, all workers together (each on both maps)")
	fs.IntVar(&c.views, "views", 4, "Views of the SnapshotMap alive at once, at most")
	fs.DurationVar(&c.viewEvery, "view-every", 200*time.Millisecond, "how often a View is taken and read whole")
	fs.IntVar(&c.maxRSSGrowth, "max-rss-growth", 256, "fail if the peak RSS exceeds the RSS at start by more than this many MiB")
	fs.IntVar(&c.maxHeapGrowth, "max-heap-growth", 32, "fail if the live heap grows by more than this many MiB from the first cycle to the last")
	fs.IntVar(&c.maxGoroutineGrowth, "max-goroutine-growth", 5, "fail if goroutines grow by more than this from start to end, or from the first cycle to the last")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: soak [flags]\n\n"+
			"Runs the Kafka sink through broker stops and restarts on kfake, and the\n"+
			"maps under mixed load with Views taken and released, for -duration; fails\n"+
			"when an accounting identity does not hold or memory or goroutines grow\n"+
			"beyond the bounds.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return c, usagef("soak takes no arguments, got %q", fs.Args())
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-duration", c.duration}, {"-up", c.up}, {"-down", c.down}, {"-delivery-timeout", c.deliveryTimeout}, {"-view-every", c.viewEvery}} {
		if d.v <= 0 {
			return c, usagef("%s must be positive, got %v", d.name, d.v)
		}
	}
	if c.deliveryTimeout < time.Second {
		return c, usagef("-delivery-timeout must be at least 1s (franz-go's least), got %v", c.deliveryTimeout)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"-rate", c.rate}, {"-buffer", c.buffer}, {"-partitions", c.partitions}, {"-keys", c.keys}, {"-map-ops", c.mapOps}, {"-views", c.views}} {
		if n.v <= 0 {
			return c, usagef("%s must be positive, got %d", n.name, n.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"-workers", c.workers}, {"-max-rss-growth", c.maxRSSGrowth}, {"-max-heap-growth", c.maxHeapGrowth}, {"-max-goroutine-growth", c.maxGoroutineGrowth}} {
		if n.v < 0 {
			return c, usagef("%s must not be negative, got %d", n.name, n.v)
		}
	}
	return c, nil
}

// run runs the soak that args describe, reporting on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	s := &soak{cfg: cfg, out: stdout}
	return s.run(ctx, exe, stderr)
}

// checkpoint is what the soak saw at the end of a cycle's up time, the
// emitter paused and the sink flushed.
type checkpoint struct {
	cycle      int
	emitted    int64 // Emit calls
	errs       int64 // Emit calls that returned an error
	stats      rollout.KafkaStats
	heap       int64 // live heap after a collection
	mem        memory
	goroutines int
}

// soak is one run.
type soak struct {
	cfg    config
	out    io.Writer
	sink   *rollout.KafkaSink
	em     *emitter
	load   *mapLoad
	broker *broker
	// phase says what is running, for the report of an interruption;
	// stoppedWhile is the phase an interruption stopped.
	phase, stoppedWhile string
	// checks are the checkpoints, one per cycle; fails the checks that
	// failed.
	checks []checkpoint
	fails  []string
	// restarted is when the broker last restarted, deliveredAtRestart
	// the events delivered then, and recovery how long after it the sink
	// delivered again (-1: not yet); recoveries are those of every
	// cycle.
	restarted          time.Time
	deliveredAtRestart int64
	recovery           time.Duration
	recoveries         []time.Duration
}

func (s *soak) printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

// fail records a failed check and prints it.
func (s *soak) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.fails = append(s.fails, msg)
	s.printf("FAIL: %s\n", msg)
}

// sleep waits for d, and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// freePort returns a loopback port nobody listens on, for the broker to
// listen on across its restarts.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("soak: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *soak) run(ctx context.Context, exe string, stderr io.Writer) error {
	c := s.cfg
	start := time.Now()
	// Peak RSS counts from here: in a test the process may have peaked
	// before (Linux resets VmHWM on "5" to clear_refs).
	resetPeak := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	mem0, err := readMemory()
	if err != nil {
		return err
	}
	g0 := runtime.NumGoroutine()
	s.printf("soak: %v; each cycle the broker is up %v, down %v; %d events/s (buffer %d, delivery timeout %v, Drop); "+
		"a Map and a SnapshotMap of %d keys, %d operations/s on %d workers; a View every %v, at most %d alive\n",
		c.duration, c.up, c.down, c.rate, c.buffer, c.deliveryTimeout, c.keys, c.mapOps, c.workers, c.viewEvery, c.views)
	if resetPeak != nil {
		s.printf("note: cannot reset the peak RSS (%v): it counts from the process's start\n", resetPeak)
	}
	s.printf("start: RSS %s, goroutines %d\n", mib(mem0.rss), g0)

	dir, err := os.MkdirTemp("", "mapguard-soak-")
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	s.broker = &broker{exe: exe, spec: brokerSpec{port: port, dir: dir, partitions: c.partitions, topic: "soak"}, stderr: stderr}
	defer s.broker.kill()
	s.phase = "starting the broker"
	if err := s.broker.start(ctx); err != nil {
		if ctx.Err() != nil {
			s.stoppedWhile = s.phase
			return s.interrupted(start)
		}
		return err
	}
	s.printf("broker: listening on %s (data in %s)\n", s.broker.addr(), dir)
	s.sink, err = rollout.NewKafkaSink(rollout.KafkaOptions{
		Brokers: []string{s.broker.addr()}, Topic: "soak",
		MaxBuffered: c.buffer, Policy: rollout.Drop, DeliveryTimeout: c.deliveryTimeout,
	})
	if err != nil {
		return err
	}
	s.em = newEmitter(s.sink, c.rate)
	s.load = startMapLoad(c.keys, c.workers, c.mapOps, c.views, c.viewEvery)

	deadline := start.Add(c.duration)
	interrupted, flushed := s.cycles(ctx, deadline)
	// The emitter is paused here, the broker up unless interrupted while
	// it was down or restarting, or a restart failed.
	if !interrupted && !s.broker.up() {
		s.phase = "restarting the broker for the final flush"
		if err := s.broker.start(ctx); err != nil {
			interrupted = ctx.Err() != nil
			if !interrupted {
				s.fail("restarting the broker for the final flush: %v", err)
			}
		}
	}
	if !interrupted && !flushed && s.broker.up() {
		s.phase = "the final flush"
		if !s.checkpoint(ctx, len(s.checks)+1) {
			interrupted = true
		}
	}
	if interrupted {
		s.printf("soak: interrupted after %v, while %s; stopping and reporting (closing the sink takes up to 10 s while the broker is down)\n",
			time.Since(start).Round(100*time.Millisecond), s.phase)
		s.stoppedWhile = s.phase
	}
	s.finish(mem0, g0)
	if interrupted {
		return s.interrupted(start)
	}
	s.printf("soak: ran %v: %d cycles checked, the broker stopped and restarted %d times\n",
		time.Since(start).Round(100*time.Millisecond), len(s.checks), s.broker.starts-1)
	if len(s.fails) > 0 {
		s.printf("soak: FAIL\n")
		return fmt.Errorf("soak: %d checks failed: %s", len(s.fails), strings.Join(s.fails, "; "))
	}
	s.printf("soak: PASS\n")
	return nil
}

// interrupted reports the end of an interrupted soak and returns its
// error.
func (s *soak) interrupted(start time.Time) error {
	s.printf("soak: INTERRUPTED\n")
	return fmt.Errorf("soak: interrupted while %s; stopped after %v, %d cycles checked, %d checks failed",
		s.stoppedWhile, time.Since(start).Round(100*time.Millisecond), len(s.checks), len(s.fails))
}

// cycles runs broker cycles until deadline, and reports whether ctx
// ended first, and whether the sink was flushed and checked since the
// emitter last ran. It returns with the emitter paused.
func (s *soak) cycles(ctx context.Context, deadline time.Time) (interrupted, flushed bool) {
	for cycle := 1; ; cycle++ {
		s.phase = fmt.Sprintf("cycle %d, the broker up", cycle)
		if !s.upTime(ctx, min(s.cfg.up, time.Until(deadline))) {
			s.em.pause()
			return true, false
		}
		s.em.pause()
		if !s.checkpoint(ctx, cycle) {
			return true, false
		}
		if !time.Now().Before(deadline) {
			return false, true
		}
		s.em.resume()
		s.phase = fmt.Sprintf("cycle %d, stopping the broker", cycle)
		if err := s.broker.stop(); err != nil {
			s.fail("cycle %d: %v", cycle, err)
		}
		s.phase = fmt.Sprintf("cycle %d, the broker down", cycle)
		s.printf("cycle %d: broker stopped\n", cycle)
		ok := sleep(ctx, min(s.cfg.down, max(time.Until(deadline), 0)))
		s.em.pause()
		if !ok {
			return true, false
		}
		s.phase = fmt.Sprintf("cycle %d, restarting the broker", cycle)
		if err := s.broker.start(ctx); err != nil {
			if ctx.Err() != nil {
				return true, false
			}
			s.fail("cycle %d: %v", cycle, err)
			return false, false
		}
		s.printf("cycle %d: broker restarted\n", cycle)
		s.restarted, s.deliveredAtRestart = time.Now(), s.sink.Stats().Delivered
		if !time.Now().Before(deadline) {
			return false, false
		}
		s.em.resume()
	}
}

// upTime waits for d while the broker is up, and measures how long after
// its restart the sink delivers again (recovery). It reports false if ctx
// ended first.
func (s *soak) upTime(ctx context.Context, d time.Duration) bool {
	s.recovery = -1
	end := time.Now().Add(d)
	for {
		if s.recovery < 0 && !s.restarted.IsZero() && s.sink.Stats().Delivered > s.deliveredAtRestart {
			s.recovery = time.Since(s.restarted)
		}
		left := time.Until(end)
		if left <= 0 {
			return true
		}
		if !sleep(ctx, min(left, recoveryPoll)) {
			return false
		}
	}
}

// recoveryPoll is how often upTime looks for the first delivery after a
// restart: the recovery times it measures are a second or more.
const recoveryPoll = 20 * time.Millisecond

// checkpoint flushes the sink (the emitter paused), checks its accounting
// identities, samples memory and goroutines, and prints the cycle's line.
// It reports false if ctx ended during the flush.
func (s *soak) checkpoint(ctx context.Context, cycle int) bool {
	fctx, cancel := context.WithTimeout(ctx, s.cfg.deliveryTimeout+30*time.Second)
	err := s.sink.Flush(fctx)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		s.fail("cycle %d: the flush did not finish: %v (stats %+v)", cycle, err, s.sink.Stats())
	}
	cp := checkpoint{cycle: cycle, emitted: s.em.emitted.Load(), errs: s.em.errs.Load(), stats: s.sink.Stats()}
	recovered := ""
	if !s.restarted.IsZero() {
		switch {
		case s.recovery >= 0:
			recovered = fmt.Sprintf(", delivering again %v after the restart", s.recovery.Round(10*time.Millisecond))
			s.recoveries = append(s.recoveries, s.recovery)
		default:
			recovered = ", nothing delivered in the up time after the restart"
		}
	}
	cp.heap = liveHeap()
	cp.mem, err = readMemory()
	if err != nil {
		s.fail("%v", err)
	}
	cp.goroutines = runtime.NumGoroutine()
	var prev checkpoint
	if n := len(s.checks); n > 0 {
		prev = s.checks[n-1]
	}
	s.checks = append(s.checks, cp)
	st, ps := cp.stats, prev.stats
	s.printf("cycle %d: emitted %d = delivered %d + dropped %d + failed %d (%s)%s; RSS %s (peak %s), live heap %s, goroutines %d; Map %d entries, SnapshotMap %d, %d Views taken\n",
		cycle, cp.emitted-prev.emitted, st.Delivered-ps.Delivered, st.Dropped-ps.Dropped, st.Failed-ps.Failed,
		holds(sinkIdentity(cp.emitted, st)), recovered, mib(cp.mem.rss), mib(cp.mem.peakRSS), mib(cp.heap), cp.goroutines,
		s.load.m.Size(), s.load.sm.Size(), s.load.viewsTaken.Load())
	if !sinkIdentity(cp.emitted, st) {
		s.fail("cycle %d: emitted %d != delivered %d + dropped %d + failed %d", cycle, cp.emitted, st.Delivered, st.Dropped, st.Failed)
	}
	if cp.errs != st.Dropped {
		s.fail("cycle %d: %d Emit errors, but %d events dropped", cycle, cp.errs, st.Dropped)
	}
	return true
}

// sinkIdentity is the sink's accounting once nothing is in flight: every
// event emitted was delivered, dropped or failed.
func sinkIdentity(emitted int64, st rollout.KafkaStats) bool {
	return emitted == st.Delivered+st.Dropped+st.Failed
}

func holds(ok bool) string {
	if ok {
		return "holds"
	}
	return "DOES NOT HOLD"
}

// finish stops everything (the emitter paused), checks the end-of-run
// identities and bounds, and prints them.
func (s *soak) finish(mem0 memory, g0 int) {
	c := s.cfg
	s.phase = "stopping"
	// The maps: the load stopped, each map's Size is its net insertions.
	s.load.close()
	l := s.load
	mSize, smSize := l.m.Size(), l.sm.Size()
	s.printf("maps: Map %d entries, %d inserted less deleted (%s); SnapshotMap %d entries, %d inserted less deleted (%s); %d operations on each\n",
		mSize, l.mNet.Load(), holds(int64(mSize) == l.mNet.Load()), smSize, l.smNet.Load(), holds(int64(smSize) == l.smNet.Load()), l.ops.Load())
	if int64(mSize) != l.mNet.Load() {
		s.fail("Map has %d entries; its operations inserted %d more than they deleted", mSize, l.mNet.Load())
	}
	if int64(smSize) != l.smNet.Load() {
		s.fail("SnapshotMap has %d entries; its operations inserted %d more than they deleted", smSize, l.smNet.Load())
	}
	taken, released := l.viewsTaken.Load(), l.viewsReleased.Load()
	s.printf("views: %d taken, %d released (%s), at most %d alive at once\n", taken, released, holds(taken == released), l.maxLive.Load())
	if taken != released {
		s.fail("%d Views taken, %d released", taken, released)
	}
	if msg := l.viewErr.Load(); msg != nil {
		s.fail("%s", *msg)
	}

	// The sink: Close fails what it could not deliver, so the identity
	// holds after it whatever the broker's state.
	s.sink.Close()
	emitted, errs := s.em.emitted.Load(), s.em.errs.Load()
	st := s.sink.Stats()
	for wait := time.Now(); !sinkIdentity(emitted, st) && time.Since(wait) < 5*time.Second; st = s.sink.Stats() {
		time.Sleep(10 * time.Millisecond) // a failure callback still running
	}
	s.printf("sink: emitted %d = delivered %d + dropped %d + failed %d (%s); Emit errors %d = dropped (%s)\n",
		emitted, st.Delivered, st.Dropped, st.Failed, holds(sinkIdentity(emitted, st)), errs, holds(errs == st.Dropped))
	if !sinkIdentity(emitted, st) {
		s.fail("after Close: emitted %d != delivered %d + dropped %d + failed %d", emitted, st.Delivered, st.Dropped, st.Failed)
	}
	if errs != st.Dropped {
		s.fail("after Close: %d Emit errors, but %d events dropped", errs, st.Dropped)
	}
	// What the broker holds: every delivered event, and at most the
	// failed ones besides (a batch the broker wrote but never
	// acknowledged before it stopped).
	if s.broker.up() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := s.broker.records(ctx)
		cancel()
		switch {
		case err != nil:
			s.fail("%v", err)
		default:
			ok := st.Delivered <= n && n <= st.Delivered+st.Failed
			s.printf("broker: the topic holds %d records (delivered %d <= %d <= delivered + failed %d: %s)\n",
				n, st.Delivered, n, st.Delivered+st.Failed, holds(ok))
			if !ok {
				s.fail("the topic holds %d records; delivered %d, failed %d", n, st.Delivered, st.Failed)
			}
		}
	} else {
		s.printf("broker: down when the soak stopped, its records not counted\n")
	}
	if err := s.broker.stop(); err != nil {
		s.fail("%v", err)
	}
	s.em.close()
	if r := slices.Sorted(slices.Values(s.recoveries)); len(r) > 0 {
		s.printf("recovery: the sink delivered again %v (median) after a restart, %v to %v over %d restarts\n",
			r[len(r)/2].Round(10*time.Millisecond), r[0].Round(10*time.Millisecond), r[len(r)-1].Round(10*time.Millisecond), len(r))
	}

	// Memory and goroutines.
	end, err := readMemory()
	if err != nil {
		s.fail("%v", err)
	}
	growth := end.peakRSS - mem0.rss
	s.printf("memory: peak RSS %s (VmHWM); RSS %s at start, %s at the end; growth %s (bound %d MiB: %s)\n",
		mib(end.peakRSS), mib(mem0.rss), mib(end.rss), mib(growth), c.maxRSSGrowth, within(growth <= int64(c.maxRSSGrowth)<<20))
	if growth > int64(c.maxRSSGrowth)<<20 {
		s.fail("RSS growth %s exceeds -max-rss-growth %d MiB", mib(growth), c.maxRSSGrowth)
	}
	if n := len(s.checks); n >= 2 {
		first, last := s.checks[0], s.checks[n-1]
		hg := last.heap - first.heap
		s.printf("live heap: %s at cycle 1, %s at cycle %d; growth %s (bound %d MiB: %s)\n",
			mib(first.heap), mib(last.heap), last.cycle, mib(hg), c.maxHeapGrowth, within(hg <= int64(c.maxHeapGrowth)<<20))
		if hg > int64(c.maxHeapGrowth)<<20 {
			s.fail("live heap growth %s from cycle 1 to cycle %d exceeds -max-heap-growth %d MiB", mib(hg), last.cycle, c.maxHeapGrowth)
		}
		gg := last.goroutines - first.goroutines
		s.printf("goroutines over the cycles: %d at cycle 1, %d at cycle %d; growth %d (bound %d: %s)\n",
			first.goroutines, last.goroutines, last.cycle, gg, c.maxGoroutineGrowth, within(gg <= c.maxGoroutineGrowth))
		if gg > c.maxGoroutineGrowth {
			s.fail("goroutines grew by %d from cycle 1 to cycle %d, above -max-goroutine-growth %d", gg, last.cycle, c.maxGoroutineGrowth)
		}
	} else {
		s.printf("live heap and goroutines over the cycles: fewer than two cycles checked, no growth to measure\n")
	}
	// Goroutines that end with the sink's client may take a moment.
	g := runtime.NumGoroutine()
	for wait := time.Now(); g-g0 > c.maxGoroutineGrowth && time.Since(wait) < 5*time.Second; g = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	s.printf("goroutines: %d at start, %d at the end; growth %d (bound %d: %s)\n", g0, g, g-g0, c.maxGoroutineGrowth, within(g-g0 <= c.maxGoroutineGrowth))
	if g-g0 > c.maxGoroutineGrowth {
		s.fail("goroutines grew by %d from start to end, above -max-goroutine-growth %d", g-g0, c.maxGoroutineGrowth)
	}
}

func within(ok bool) string {
	if ok {
		return "within"
	}
	return "EXCEEDED"
}

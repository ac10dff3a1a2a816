package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/partial"
)

const rolloutUsage = `usage: mapguard rollout <assign|analyze|aggregate|report> [flags]

  assign     print the arm a unit gets, or why it gets none:
             -config f.yaml -experiment key -unit u [-attr k=v,...]
  analyze    per-arm report of exposure events from a JSON-lines file or a Kafka topic:
             -config f.yaml -experiment key [-control arm] (-file events.jsonl | -brokers a,b -topic t [-group g] [-follow] [-timeout d])
  aggregate  scale-out: one member of a consumer group that aggregates its partitions of
             the events topic and publishes their partial aggregates to a compacted topic:
             -config f.yaml -experiment key -brokers a,b -topic events -group g -partials t [-every n] [-interval d]
  report     scale-out: the report merged from the latest partial of every partition:
             [-config f.yaml] -experiment key [-control arm] -brokers a,b -partials t [-topic events]

` + kafkaAuthUsage + `
"mapguard rollout <subcommand> -h" lists a subcommand's flags.
`

func runRollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, rolloutUsage)
		return usagef("rollout needs a subcommand: assign, analyze, aggregate or report")
	}
	switch args[0] {
	case "assign":
		return rolloutAssign(args[1:], stdout, stderr)
	case "analyze":
		return rolloutAnalyze(ctx, args[1:], stdout, stderr)
	case "aggregate":
		return rolloutAggregate(ctx, args[1:], stderr)
	case "report":
		return rolloutReport(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		_, err := fmt.Fprint(stdout, rolloutUsage)
		return err
	}
	fmt.Fprint(stderr, rolloutUsage)
	return usagef("unknown rollout subcommand %q", args[0])
}

// loadExperiment reads the config file and returns the experiment.
func loadExperiment(path, key string) (rollout.Experiment, error) {
	if path == "" || key == "" {
		return rollout.Experiment{}, usagef("-config and -experiment are required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return rollout.Experiment{}, usagef("-config: %v", err)
	}
	a, err := rollout.NewAssigner(data)
	if err != nil {
		return rollout.Experiment{}, usagef("%s: %v", path, err)
	}
	e, ok := a.Experiment(key)
	if !ok {
		return rollout.Experiment{}, usagef("experiment %q is not in %s", key, path)
	}
	return e, nil
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

func rolloutAssign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard rollout assign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "experiments config (YAML or JSON)")
	key := fs.String("experiment", "", "experiment key")
	unit := fs.String("unit", "", "unit id")
	attrs := fs.String("attr", "", "unit attributes for targeting, k=v,k=v")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *unit == "" {
		return usagef("-unit is required")
	}
	e, err := loadExperiment(*config, *key)
	if err != nil {
		return err
	}
	at := map[string]string{}
	if *attrs != "" {
		for kv := range strings.SplitSeq(*attrs, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return usagef("-attr: %q is not k=v", kv)
			}
			at[k] = v
		}
	}
	a := e.Assign(*unit, at)
	if a.Arm != "" {
		_, err = fmt.Fprintf(stdout, "experiment %s unit %s: arm %s (%s)\n", a.Experiment, a.Unit, a.Arm, a.Reason)
		return err
	}
	_, err = fmt.Fprintf(stdout, "experiment %s unit %s: no arm (%s): %s\n", a.Experiment, a.Unit, a.Reason, whyNoArm(e, a.Reason, at))
	return err
}

// whyNoArm explains why a unit with attributes attrs is not enrolled in e,
// as Assign decided (reason): the first targeting attribute it fails, or
// the share of traffic the arms enrol.
func whyNoArm(e rollout.Experiment, reason string, attrs map[string]string) string {
	if reason != "not-targeted" {
		return enrolledShare(e)
	}
	for _, attr := range slices.Sorted(maps.Keys(e.Targeting)) {
		allowed := e.Targeting[attr]
		want := allowed[0]
		if len(allowed) > 1 {
			want = "one of " + strings.Join(allowed, ", ")
		}
		// Assign compares attrs[attr], "" when absent, as this does.
		v, ok := attrs[attr]
		switch {
		case slices.Contains(allowed, v):
		case !ok:
			return fmt.Sprintf("attribute %s is not given and the targeting wants %s (add -attr %s=%s)", attr, want, attr, allowed[0])
		default:
			return fmt.Sprintf("attribute %s is %q and the targeting wants %s", attr, v, want)
		}
	}
	return enrolledShare(e)
}

// enrolledShare says that a unit falls outside the traffic e's arms enrol.
func enrolledShare(e rollout.Experiment) string {
	total := 0.0
	for _, arm := range e.Arms {
		total += arm.Weight
	}
	return fmt.Sprintf("the unit's bucket is outside the %.4g%% of units the arms' weights enrol", total)
}

func rolloutAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard rollout analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "experiments config (YAML or JSON)")
	key := fs.String("experiment", "", "experiment key")
	control := fs.String("control", "", "the control arm (default: the experiment's first arm)")
	file := fs.String("file", "", "JSON-lines events file")
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated")
	topic := fs.String("topic", "", "Kafka topic of exposure events")
	group := fs.String("group", "", "Kafka consumer group: resume where its last read stopped and report only the events since (default: read the whole topic)")
	follow := fs.Bool("follow", false, "keep consuming and print a report every -every")
	every := fs.Duration("every", 10*time.Second, "report interval with -follow")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for a Kafka broker to answer before giving up")
	kafkaAuth := kafkaAuthFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := loadExperiment(*config, *key)
	if err != nil {
		return err
	}
	if (*file == "") == (*brokers == "") {
		return usagef("give exactly one of -file and -brokers")
	}
	if *control == "" {
		*control = e.Arms[0].Name
	}
	if !slices.ContainsFunc(e.Arms, func(a rollout.Arm) bool { return a.Name == *control }) {
		return usagef("-control: %q is not an arm of experiment %q", *control, e.Key)
	}
	if *timeout <= 0 {
		return usagef("-timeout must be positive, got %v", *timeout)
	}
	if *every <= 0 {
		return usagef("-every must be positive, got %v", *every)
	}
	// The events stream through one Aggregator: memory grows with the
	// units and metrics, never with the events.
	agg := rollout.NewAggregator(e)
	if _, err := agg.AddAll(strings.NewReader("")); err != nil {
		return usagef("%s: experiment %s: %v", *config, e.Key, err)
	}
	hint := ""
	if *group != "" {
		hint = fmt.Sprintf("; consumer group %s resumes where its last read stopped, leave out -group to read the whole topic", *group)
	}
	report := func(source string) error {
		return writeReport(stdout, agg, e.Key, *control, source, hint)
	}
	if *file != "" {
		if *follow {
			return usagef("-follow needs -brokers")
		}
		return analyzeFile(agg, *file, stderr, report)
	}
	if *topic == "" {
		return usagef("-topic is required with -brokers")
	}
	auth, err := kafkaAuth()
	if err != nil {
		return err
	}
	opts := rollout.KafkaReadOptions{Brokers: strings.Split(*brokers, ","), Topic: *topic, Group: *group, Timeout: *timeout, Auth: auth}
	source := fmt.Sprintf("topic %s at %s", *topic, *brokers)
	for reports := 0; ; reports++ {
		if *group == "" {
			// Without a group every read starts at the topic's beginning:
			// keeping the last read's aggregate would count it twice.
			agg = rollout.NewAggregator(e)
		}
		p := newReadProgress(stderr, "mapguard rollout: "+source)
		malformed := 0
		skipped, err := rollout.ReadEventsKafka(ctx, opts, func(ev rollout.Event) {
			p.tick()
			if err := agg.Add(ev); err != nil {
				if malformed++; malformed <= rollout.MaxLineErrors {
					fmt.Fprintf(stderr, "mapguard rollout: %s: event %d: %v\n", source, p.n, err)
				}
			}
		})
		p.done()
		if err != nil && (ctx.Err() == nil || reports == 0) {
			return err
		}
		if ctx.Err() != nil {
			if reports > 0 {
				return nil // -follow stopped between reports
			}
			// The read is partial: a report of it would mislead.
			return fmt.Errorf("rollout analyze: interrupted before %s was read to its end", source)
		}
		if skipped > 0 {
			fmt.Fprintf(stderr, "mapguard rollout: skipped %d records that are not events\n", skipped)
		}
		if malformed > 0 {
			fmt.Fprintf(stderr, "mapguard rollout: %d malformed events in %s (not counted in any arm)\n", malformed, source)
		}
		if err := report(source); err != nil {
			var none *rollout.NoExposuresError
			if !*follow || !errors.As(err, &none) {
				return err
			}
			// -follow watches a rollout that may not have started yet:
			// no exposures is news to print, not the end.
			fmt.Fprintf(stderr, "mapguard rollout: no exposures of experiment %s in %s yet; reading again in %v\n", e.Key, source, *every)
		}
		if !*follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
}

// analyzeFile streams the events of a JSON-lines file into agg, says on
// stderr how many lines were malformed (the first few with their line
// numbers), and reports.
func analyzeFile(agg *rollout.Aggregator, path string, stderr io.Writer, report func(source string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("rollout analyze: %w", err)
	}
	defer f.Close()
	p := newReadProgress(stderr, "mapguard rollout: "+path)
	st, err := rollout.ScanEvents(f, func(ev rollout.Event) error {
		p.tick()
		return agg.Add(ev)
	})
	p.done()
	if err != nil {
		return fmt.Errorf("rollout analyze: %s: %w", path, err)
	}
	if st.Torn > 0 {
		fmt.Fprintf(stderr, "mapguard rollout: %s: its last line is torn (its writer stopped mid-write), skipped\n", path)
	}
	if st.Malformed > 0 {
		fmt.Fprintf(stderr, "mapguard rollout: %s: %d of %d lines malformed, not counted in any arm:\n", path, st.Malformed, st.Lines)
		for _, le := range st.First {
			fmt.Fprintf(stderr, "  %s:%v\n", path, le)
		}
		if st.Malformed > len(st.First) {
			fmt.Fprintf(stderr, "  and %d more\n", st.Malformed-len(st.First))
		}
		if st.Events == 0 {
			// Not "it holds no events": it holds only lines that are not.
			key := agg.Experiment().Key
			return noExposures(&rollout.NoExposuresError{Experiment: key, Malformed: st.Malformed},
				"rollout analyze: no exposures of experiment %s in %s: all %d of its lines are malformed", key, path, st.Malformed)
		}
	}
	return report(path)
}

// writeReport writes agg's report with control as the control arm, or
// returns analyze's error naming source when it holds no exposure of
// experiment key; hint follows that error.
func writeReport(w io.Writer, agg *rollout.Aggregator, key, control, source, hint string) error {
	rep, err := agg.Report(control)
	var none *rollout.NoExposuresError
	if errors.As(err, &none) {
		why := ""
		if none.Outcomes > 0 || none.Malformed > 0 {
			why = fmt.Sprintf(" (%d outcomes without an exposure, %d malformed)", none.Outcomes, none.Malformed)
		}
		switch none.Events {
		case 0:
			return noExposures(none, "rollout analyze: no exposures of experiment %s in %s: it holds no events%s", key, source, hint)
		case 1:
			return noExposures(none, "rollout analyze: no exposures of experiment %s in %s: its one event is of another experiment or an arm %s does not have%s%s",
				key, source, key, why, hint)
		}
		return noExposures(none, "rollout analyze: no exposures of experiment %s in %s: its %d events are of other experiments or arms %s does not have%s%s",
			key, source, none.Events, key, why, hint)
	}
	if err != nil {
		return fmt.Errorf("rollout analyze: %w", err)
	}
	return rep.WriteText(w)
}

// readProgressEvery is how often a long read says how far it got:
// often enough to show it is alive, rarely enough not to flood a
// terminal. A read shorter than this prints nothing. A variable for
// tests.
var readProgressEvery = 2 * time.Second

// readProgress prints, every readProgressEvery while events are read, how many
// were read and how fast.
type readProgress struct {
	w          io.Writer
	what       string
	n          int
	start      time.Time
	last       time.Time
	lastN      int
	everPrints bool
}

func newReadProgress(w io.Writer, what string) *readProgress {
	now := time.Now()
	return &readProgress{w: w, what: what, start: now, last: now}
}

// tick counts one event; it reads the clock once every 4096 events.
func (p *readProgress) tick() {
	p.n++
	if p.n%4096 != 0 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= readProgressEvery {
		fmt.Fprintf(p.w, "%s: %d events read, %.0f events/s\n", p.what, p.n, float64(p.n-p.lastN)/now.Sub(p.last).Seconds())
		p.last, p.lastN, p.everPrints = now, p.n, true
	}
}

// done prints the total, if tick printed anything.
func (p *readProgress) done() {
	if p.everPrints {
		d := time.Since(p.start)
		fmt.Fprintf(p.w, "%s: %d events read in %v, %.0f events/s\n", p.what, p.n, d.Round(time.Millisecond), float64(p.n)/d.Seconds())
	}
}

// noExposuresError is analyze's message for a source without exposures of
// the experiment; it wraps the rollout package's error, so that -follow
// can tell it apart and wait.
type noExposuresError struct {
	msg string
	err *rollout.NoExposuresError
}

func (e *noExposuresError) Error() string { return e.msg }
func (e *noExposuresError) Unwrap() error { return e.err }

func noExposures(err *rollout.NoExposuresError, format string, args ...any) error {
	return &noExposuresError{fmt.Sprintf(format, args...), err}
}

func rolloutAggregate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard rollout aggregate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "experiments config (YAML or JSON)")
	key := fs.String("experiment", "", "experiment key")
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated")
	topic := fs.String("topic", "", "Kafka topic of exposure events, keyed by unit")
	group := fs.String("group", "", "Kafka consumer group the members share")
	partials := fs.String("partials", "", "compacted Kafka topic the partial aggregates are published to (created if absent)")
	every := fs.Int("every", 100_000, "publish a partition's partial once it covers this many more records")
	interval := fs.Duration("interval", 10*time.Second, "publish a partition's partial at least this often while it changes")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for a Kafka broker to answer before giving up")
	kafkaAuth := kafkaAuthFlags(fs)
	progressEvery := fs.Duration("progress", 10*time.Second, "how often to print progress on stderr (0: never)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	e, err := loadExperiment(*config, *key)
	if err != nil {
		return err
	}
	switch {
	case *brokers == "" || *topic == "" || *group == "" || *partials == "":
		return usagef("-brokers, -topic, -group and -partials are required")
	case *every <= 0:
		return usagef("-every must be positive, got %d", *every)
	case *interval <= 0:
		return usagef("-interval must be positive, got %v", *interval)
	case *timeout <= 0:
		return usagef("-timeout must be positive, got %v", *timeout)
	case *progressEvery < 0:
		return usagef("-progress must not be negative, got %v", *progressEvery)
	}
	auth, err := kafkaAuth()
	if err != nil {
		return err
	}
	m, err := partial.NewMember(partial.Options{
		Brokers: strings.Split(*brokers, ","), Topic: *topic, Group: *group, Partials: *partials, Auth: auth,
		Experiment: e, Every: *every, Interval: *interval, Timeout: *timeout,
		Logf: func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) },
	})
	if err != nil {
		return usagef("%v", err)
	}
	done := make(chan struct{})
	defer close(done)
	if *progressEvery > 0 {
		go func() {
			t := time.NewTicker(*progressEvery)
			defer t.Stop()
			last, lastAt := int64(0), time.Now()
			for {
				select {
				case <-done:
					return
				case now := <-t.C:
					st := m.Stats()
					if st.Records != last {
						fmt.Fprintf(stderr, "mapguard rollout aggregate: %d partitions, %d records, %.0f records/s, %d partials published\n",
							st.Partitions, st.Records, float64(st.Records-last)/now.Sub(lastAt).Seconds(), st.Published)
					}
					last, lastAt = st.Records, now
				}
			}
		}()
	}
	if err := m.Run(ctx); err != nil {
		return fmt.Errorf("rollout aggregate: %w", err)
	}
	st := m.Stats()
	fmt.Fprintf(stderr, "mapguard rollout aggregate: stopped after %d records; %d partials published\n", st.Records, st.Published)
	return nil
}

func rolloutReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard rollout report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "experiments config (YAML or JSON); if given, the partials must be of its definition of the experiment")
	key := fs.String("experiment", "", "experiment key")
	control := fs.String("control", "", "the control arm (default: the experiment's first arm)")
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated")
	partials := fs.String("partials", "", "compacted Kafka topic of the partial aggregates")
	topic := fs.String("topic", "", "Kafka topic of the events, to name its partitions without a partial even when none has one (default: the topics the partials name)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for a Kafka broker to answer before giving up")
	kafkaAuth := kafkaAuthFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *key == "":
		return usagef("-experiment is required")
	case *brokers == "" || *partials == "":
		return usagef("-brokers and -partials are required")
	case *timeout <= 0:
		return usagef("-timeout must be positive, got %v", *timeout)
	}
	var want *rollout.Experiment
	if *config != "" {
		e, err := loadExperiment(*config, *key)
		if err != nil {
			return err
		}
		want = &e
	}
	auth, err := kafkaAuth()
	if err != nil {
		return err
	}
	snap, err := partial.Read(ctx, partial.ReadOptions{Brokers: strings.Split(*brokers, ","), Partials: *partials, Experiment: *key, Source: *topic, Timeout: *timeout, Auth: auth})
	var none *partial.NoPartialsError
	if errors.As(err, &none) {
		return fmt.Errorf("rollout report: no partials of experiment %s in topic %s at %s: is a `mapguard rollout aggregate` group running?", *key, *partials, *brokers)
	}
	if err != nil {
		return fmt.Errorf("rollout report: %w", err)
	}
	var agg *rollout.Aggregator
	if len(snap.Partials) > 0 {
		if agg, err = snap.Merge(); err != nil {
			return fmt.Errorf("rollout report: %w", err)
		}
	} else if want != nil {
		agg = rollout.NewAggregator(*want) // every partition is missing: said below
	} else {
		return fmt.Errorf("rollout report: no partials of experiment %s in topic %s at %s, and no -config to report an empty aggregate of", *key, *partials, *brokers)
	}
	e := agg.Experiment()
	if want != nil {
		if err := agg.Merge(rollout.NewAggregator(*want)); err != nil {
			return fmt.Errorf("rollout report: the partials in %s are of another definition of experiment %s than %s's: %w", *partials, *key, *config, err)
		}
	}
	if *control == "" {
		*control = e.Arms[0].Name
	}
	if !slices.ContainsFunc(e.Arms, func(a rollout.Arm) bool { return a.Name == *control }) {
		return usagef("-control: %q is not an arm of experiment %q", *control, e.Key)
	}
	source := fmt.Sprintf("the partials in topic %s at %s", *partials, *brokers)
	rerr := writeReport(stdout, agg, *key, *control, source, "")
	var records int64
	for _, p := range snap.Partials {
		records += p.Records
	}
	var missing []string
	var missed int64
	for _, t := range slices.Sorted(maps.Keys(snap.Missing)) {
		for _, p := range snap.Missing[t] {
			n := snap.Ends[t][p]
			missing = append(missing, fmt.Sprintf("%s/%d (%d records)", t, p, n))
			missed += n
		}
	}
	fmt.Fprintf(stdout, "partials: %d partitions, %d records covered, %d records not yet covered\n", len(snap.Partials), records, snap.Lag())
	if rerr != nil {
		return rerr
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "partitions without a partial, left out of the report: %s\n", strings.Join(missing, ", "))
		if missed > 0 {
			return fmt.Errorf("rollout report: incomplete: %d partitions without a partial hold %d records the report leaves out: %s", len(missing), missed, strings.Join(missing, ", "))
		}
	}
	return nil
}

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
)

const rolloutUsage = `usage: mapguard rollout <assign|analyze> [flags]

  assign   print the arm a unit gets, or why it gets none:
           -config f.yaml -experiment key -unit u [-attr k=v,...]
  analyze  per-arm report of exposure events from a JSON-lines file or a Kafka topic:
           -config f.yaml -experiment key [-control arm] (-file events.jsonl | -brokers a,b -topic t [-group g] [-follow] [-timeout d])

"mapguard rollout <assign|analyze> -h" lists a subcommand's flags.
`

func runRollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, rolloutUsage)
		return usagef("rollout needs a subcommand: assign or analyze")
	}
	switch args[0] {
	case "assign":
		return rolloutAssign(args[1:], stdout, stderr)
	case "analyze":
		return rolloutAnalyze(ctx, args[1:], stdout, stderr)
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
	var events []rollout.Event
	report := func(source string) error {
		rep, err := rollout.Analyze(e, *control, events)
		var none *rollout.NoExposuresError
		if errors.As(err, &none) {
			hint := ""
			if *group != "" {
				hint = fmt.Sprintf("; consumer group %s resumes where its last read stopped, leave out -group to read the whole topic", *group)
			}
			switch none.Events {
			case 0:
				return noExposures(none, "rollout analyze: no exposures of experiment %s in %s: it holds no events%s", e.Key, source, hint)
			case 1:
				return noExposures(none, "rollout analyze: no exposures of experiment %s in %s: its one event is of another experiment or an arm %s does not have%s",
					e.Key, source, e.Key, hint)
			}
			return noExposures(none, "rollout analyze: no exposures of experiment %s in %s: its %d events are of other experiments or arms %s does not have%s",
				e.Key, source, none.Events, e.Key, hint)
		}
		if err != nil {
			return fmt.Errorf("rollout analyze: %w", err)
		}
		return rep.WriteText(stdout)
	}
	if *file != "" {
		if *follow {
			return usagef("-follow needs -brokers")
		}
		events, err = rollout.ReadEventsFile(*file)
		if err != nil {
			return err
		}
		return report(*file)
	}
	if *topic == "" {
		return usagef("-topic is required with -brokers")
	}
	opts := rollout.KafkaReadOptions{Brokers: strings.Split(*brokers, ","), Topic: *topic, Group: *group, Timeout: *timeout}
	source := fmt.Sprintf("topic %s at %s", *topic, *brokers)
	for reports := 0; ; reports++ {
		if *group == "" {
			// Without a group every read starts at the topic's beginning:
			// keeping the last read's events would count them twice.
			events = events[:0]
		}
		skipped, err := rollout.ReadEventsKafka(ctx, opts, func(ev rollout.Event) { events = append(events, ev) })
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

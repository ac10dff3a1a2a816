package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

const rolloutUsage = `usage: mapguard rollout <assign|analyze> [flags]

  assign   print the arm a unit gets:  -config f.yaml -experiment key -unit u [-attr k=v,...]
  analyze  per-arm report of exposure events from a JSON-lines file or a Kafka topic:
           -config f.yaml -experiment key [-control arm] (-file events.jsonl | -brokers a,b -topic t [-group g] [-follow])
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
	arm := a.Arm
	if arm == "" {
		arm = "(none)"
	}
	_, err = fmt.Fprintf(stdout, "experiment %s unit %s: arm %s (%s)\n", a.Experiment, a.Unit, arm, a.Reason)
	return err
}

func rolloutAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard rollout analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "experiments config (YAML or JSON)")
	key := fs.String("experiment", "", "experiment key")
	control := fs.String("control", "control", "the control arm")
	file := fs.String("file", "", "JSON-lines events file")
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated")
	topic := fs.String("topic", "", "Kafka topic of exposure events")
	group := fs.String("group", "", "Kafka consumer group (optional)")
	follow := fs.Bool("follow", false, "keep consuming and print a report every -every")
	every := fs.Duration("every", 10*time.Second, "report interval with -follow")
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
	var events []rollout.Event
	report := func() error {
		rep, err := rollout.Analyze(e, *control, events)
		if err != nil {
			return usagef("%v", err)
		}
		return rep.WriteText(stdout)
	}
	if *file != "" {
		events, err = rollout.ReadEventsFile(*file)
		if err != nil {
			return err
		}
		return report()
	}
	if *topic == "" {
		return usagef("-topic is required with -brokers")
	}
	opts := rollout.KafkaReadOptions{Brokers: strings.Split(*brokers, ","), Topic: *topic, Group: *group}
	for {
		skipped, err := rollout.ReadEventsKafka(ctx, opts, func(ev rollout.Event) { events = append(events, ev) })
		if err != nil {
			return err
		}
		if skipped > 0 {
			fmt.Fprintf(stderr, "mapguard rollout: skipped %d records that are not events\n", skipped)
		}
		if err := report(); err != nil {
			return err
		}
		if !*follow || ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
}

// Command soak runs the Kafka sink and the maps under load for a set time
// and fails when they leak: scripts/soak builds and runs it (see there for
// the flags and what it prints).
//
// The sink (rollout.KafkaSink, Drop policy) produces a steady stream of
// events to a kfake broker that runs as a child process (this binary
// again, its memory and goroutines apart from what is measured) and is
// stopped and restarted on the same port and data directory every cycle:
// up for -up, down for -down. At the end of each cycle's up time the
// events are flushed and the sink's accounting identity is checked:
// emitted = delivered + dropped + failed, and how long after the restart
// the sink delivered again is reported. Meanwhile a mapguard.Map and a
// SnapshotMap take a mixed load (Load, Swap, LoadOrStore, LoadAndDelete,
// Compute, partial Range) whose net insertions are counted, and Snapshot
// Views are taken, read (a View's Range sees exactly Len entries) and
// released, a few alive at a time.
//
// It reports peak RSS (VmHWM), the live heap after a collection at each
// cycle, goroutines at start, per cycle and at the end, and fails (exit
// status 1) when an identity does not hold or a bound is exceeded: RSS
// growth (peak RSS over RSS at start), live-heap growth (last cycle over
// first) and goroutine growth (end over start, last cycle over first).
// SIGINT or SIGTERM stops it at any phase: it closes the sink, stops the
// broker, reports what ran, and exits 1 saying it was interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if spec := os.Getenv(brokerEnv); spec != "" {
		os.Exit(brokerMain(spec, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(soakMain(os.Args[1:]))
}

// soakMain is the command: it runs the soak that args describe, stopping
// it on SIGINT or SIGTERM, and returns the exit status.
func soakMain(args []string) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		cancel() // the soak stops, reports, and exits 1
		first := time.Now()
		for s := range sigs {
			// A Ctrl-C reaches both scripts/soak and the soak, and the
			// script forwards it: the same one, within a second.
			if time.Since(first) < duplicateSignal {
				continue
			}
			fmt.Fprintf(os.Stderr, "soak: %v again: exiting without a report\n", s)
			os.Exit(1)
		}
	}()
	return exitCode(run(ctx, args, os.Stdout, os.Stderr), os.Stderr)
}

// duplicateSignal is how long after the first SIGINT or SIGTERM another
// counts as the same one (forwarded by scripts/soak) rather than a second
// request, which exits at once.
const duplicateSignal = time.Second

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCode reports err on stderr and returns the process exit status: 0
// for success and -h, 2 for usage errors, 1 for anything else (a failed
// check, an interruption).
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 2
	default:
		fmt.Fprintln(stderr, err) // named "soak: ..." where it was made
		return 1
	}
}

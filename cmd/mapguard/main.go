// Command mapguard runs mapguard's tools.
//
//	mapguard bench [flags]   compare every map implementation side by side
//	mapguard demo [flags]    serve a small service with instrumented maps
//	mapguard lab [flags]     test the common claims about Go maps by experiment
//	mapguard rollout ...     assign units to arms; analyse exposures per arm
//
// Run "mapguard <command> -h" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// The first Ctrl-C asks the command to stop and report what finished;
	// restoring the default handling then lets a second one kill it.
	go func() { <-ctx.Done(); stop() }()
	code := runProcess(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runProcess runs the command line as the whole process does, CPU
// profile included (MAPGUARD_CPUPROFILE_DIR), and returns its exit status.
func runProcess(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stopProfile, err := startCPUProfile(os.Getenv(cpuProfileEnv))
	if err != nil {
		return exitCode(err, stderr)
	}
	err = run(ctx, args, stdout, stderr)
	if perr := stopProfile(); err == nil {
		err = perr
	}
	return exitCode(err, stderr)
}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitCode reports err on stderr and returns the process exit status:
// 0 for success and -h, 2 for usage errors, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mapguard: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "mapguard: %v\n", err)
		return 1
	}
}

const usage = `usage: mapguard <command> [flags]

commands:
  bench   compare concurrent map implementations side by side on your workloads
  demo    serve a small session service with instrumented maps, /metrics and pprof
  lab     run the Go map pitfalls everybody quotes as experiments, with verdicts
  rollout assign units to experiment arms, and analyse exposure events per arm
`

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "lab":
		return runLab(ctx, args[1:], stdout, stderr)
	case "rollout":
		return runRollout(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", args[0])
	}
}

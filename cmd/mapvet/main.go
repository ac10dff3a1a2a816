// Command mapvet reports map concurrency bugs: self-deadlocking writes in
// iterations and callbacks (rangelock), check-then-act races on
// concurrent maps (checkthenact), builtin maps shared with a goroutine
// without synchronization (unsyncmap), maps in struct fields accessed
// without the lock that guards them elsewhere (lockset), and closures
// that keep a whole map alive for a few constant keys (mapcapture).
//
// Standalone:
//
//	mapvet ./...
//	mapvet -fix ./...                     (apply suggested fixes, report the rest)
//	mapvet -mapcapture=false ./...        (disable one analyzer)
//	mapvet -checkthenact ./...            (run only the named analyzers)
//	mapvet -json ./...                    (findings as one JSON tree)
//
// As a go vet tool:
//
//	go vet -vettool=$(which mapvet) ./...
//
// Exit codes: 0 when clean, 1 on errors (a package that does not build,
// an analyzer that fails, an interrupt), 2 on a usage error, and 3 when
// it reports findings (go vet itself exits 1 then). With -json the exit
// code is 0 even with findings, as with x/tools' drivers.
//
// A standalone run is a go vet run with this binary as the vet tool:
// mapvet runs "go vet -vettool=<itself> -json" on the packages and prints
// what the analyzers found. The go command analyses one package per
// process, as many at a time as -p allows (the number of CPUs), reads the
// dependencies' types from export data instead of type-checking their
// source, passes the analyzers' facts between packages in vetx files and
// keeps every result in its build cache: a second run over unchanged
// packages is served from the cache, and after an edit only the edited
// packages and those importing them are analysed again. The first run
// with a new mapvet binary also analyses the standard library once, for
// facts. Each analysis process runs with GOMEMLIMIT=768MiB unless GOGC or
// GOMEMLIMIT is set (see memoryLimit). The go command must be Go 1.26 or
// later, and on PATH.
//
// Flags: every analyzer's enable flag (-NAME, -NAME=false) and its own
// flags (-NAME.flag) are handed to go vet as given, as is -tags. -json
// prints one JSON tree for all packages, in x/tools' format; -c=N shows N
// lines of context around each finding.
//
// With -fix, mapvet first runs "go vet -fix", which applies the
// suggested fixes, and then analyses the packages again, reporting what
// remains (the findings no analyzer can rewrite, such as unsyncmap's and
// mapcapture's) with exit code 3, as without -fix. The x/tools drivers
// instead print nothing and exit 0 after fixing, which reads as "clean"
// while findings remain. With -fix -diff the files are not changed: the
// diff is printed, and the second pass reports every finding, the fixable
// ones included.
//
// The profiling and debugging flags (-cpuprofile, -memprofile, -trace,
// -debug) and -test=false run x/tools' multichecker in this process
// instead, as mapvet did before: it loads and type-checks every
// dependency from source and holds it all in memory (on nats-server, 22
// packages, 2.7 to 3.4 GB in one process). Test files are always
// analysed otherwise, as go vet does.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/mapguard/mapguard/analysis/suite"
)

func main() {
	args := os.Args[1:]
	if toolProtocol(args) {
		// go vet calling us (a *.cfg unit, -flags, -V=full), or help.
		multichecker.Main(suite.Analyzers()...)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, args, os.Stdout, os.Stderr)
	stop()
	var code exitCode
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, errInProcess):
		runInProcess(args)
	case errors.As(err, &code):
		os.Exit(int(code))
	default:
		fmt.Fprintf(os.Stderr, "mapvet: %v\n", err)
		os.Exit(1)
	}
}

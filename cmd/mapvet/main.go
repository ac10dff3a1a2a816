// Command mapvet reports map concurrency bugs: self-deadlocking writes in
// iterations and callbacks (rangelock), check-then-act races on
// concurrent maps (checkthenact), builtin maps shared with a goroutine
// without synchronization (unsyncmap), and closures that keep a whole map
// alive for a few constant keys (mapcapture).
//
// Standalone:
//
//	mapvet ./...
//	mapvet -fix ./...                     (apply suggested fixes, report the rest)
//	mapvet -mapcapture=false ./...        (disable one analyzer)
//
// As a go vet tool:
//
//	go vet -vettool=$(which mapvet) ./...
//
// Exit codes follow go vet: 0 when clean, 1 on errors, and 3 when it
// reports findings (go vet itself exits 1 then).
//
// With -fix, mapvet applies the suggested fixes and then analyses the
// packages again, reporting what remains (the findings no analyzer can
// rewrite, such as unsyncmap's and mapcapture's) with exit code 3, as
// without -fix. The x/tools drivers instead print nothing and exit 0
// after fixing, which reads as "clean" while findings remain. The price
// is a second analysis of the packages. With -fix -diff the files are
// not changed, so the second pass reports every finding, the fixable
// ones included. Everything else (flags, -json, the go vet protocol) is
// x/tools' multichecker unchanged.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/mapguard/mapguard/analysis/suite"
)

// fixPassEnv marks the child process that applies the fixes: it runs
// x/tools' -fix as is.
const fixPassEnv = "MAPVET_FIX_PASS"

func main() {
	args := os.Args[1:]
	if os.Getenv(fixPassEnv) == "" {
		if at := fixFlags(args); at != nil {
			if code := applyFixes(args); code != 0 {
				os.Exit(code)
			}
			// Report what the fixes left, as a run without -fix would.
			rest := append([]string(nil), args...)
			for _, i := range at {
				rest[i] = "-fix=false"
			}
			os.Args = append(os.Args[:1], rest...)
		}
	}
	multichecker.Main(suite.Analyzers()...)
}

// fixFlags returns the positions of the -fix flags in args when the last
// one turns fixing on, and nil otherwise. It also returns nil for the go
// vet (and go fix) protocol, a single *.cfg argument, which x/tools'
// unitchecker handles, fixes included. An unparsable -fix=value counts as
// on, so that the fixing pass reports the usage error.
func fixFlags(args []string) []int {
	if len(args) > 0 && strings.HasSuffix(args[len(args)-1], ".cfg") {
		return nil
	}
	var at []int
	on := false
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue // a package, or a flag's value
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if name != "fix" {
			continue
		}
		at = append(at, i)
		on = true
		if hasVal {
			if b, err := strconv.ParseBool(val); err == nil {
				on = b
			}
		}
	}
	if !on {
		return nil
	}
	return at
}

// applyFixes runs this binary with args in a child process, which applies
// the fixes with x/tools' -fix, and returns its exit code.
func applyFixes(args []string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mapvet: finding this binary to apply the fixes: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), fixPassEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return max(ee.ExitCode(), 1)
	case err != nil:
		fmt.Fprintf(os.Stderr, "mapvet: applying the fixes: %v\n", err)
		return 1
	}
	return 0
}

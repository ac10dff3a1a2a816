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

// fixPassEnv marks the child process that applies the fixes in the
// in-process mode: it runs x/tools' -fix as is.
const fixPassEnv = "MAPVET_FIX_PASS"

// runInProcess runs x/tools' multichecker in this process, as mapvet did
// before it ran through go vet: the profiling and debugging flags and
// -test=false need it. With -fix it applies the fixes in a child process
// first and then reports what remains.
func runInProcess(args []string) {
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

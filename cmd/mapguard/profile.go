package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// cpuProfileEnv names a directory in which every mapguard process, the
// lab's children included, writes a CPU profile of its whole run,
// cpu-<pid>.pprof. scripts/pgo sets it to collect default.pgo from the
// default bench run and the lab; it is an environment variable rather
// than a flag so that it reaches the children without passing through
// every command's flags.
const cpuProfileEnv = "MAPGUARD_CPUPROFILE_DIR"

// startCPUProfile starts profiling into dir, if dir is not empty, and
// returns the function that stops it and closes the file.
func startCPUProfile(dir string) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: writing the profile: %w", cpuProfileEnv, err)
		}
		return nil
	}, nil
}

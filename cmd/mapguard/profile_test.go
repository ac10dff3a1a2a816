package main

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfileEnvCoversLabChildren runs the lab as a process with
// MAPGUARD_CPUPROFILE_DIR set: the parent and each child (scenario 12
// has two variants) must leave a CPU profile, a gzipped protobuf as
// runtime/pprof writes, which scripts/pgo merges into default.pgo.
func TestCPUProfileEnvCoversLabChildren(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "lab", "-short", "-race", "off", "-scenario", "12")
	cmd.Env = append(os.Environ(), "MAPGUARD_TEST_AS_COMMAND=1", cpuProfileEnv+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lab: %v\n%s", err, out)
	}
	files, err := filepath.Glob(filepath.Join(dir, "cpu-*.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d profiles %v; want 3 (the parent and two children)", len(files), files)
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n, err := io.Copy(io.Discard, z)
		r.Close()
		if err != nil || n == 0 {
			t.Fatalf("%s: %d bytes of profile, %v", f, n, err)
		}
	}
}

// TestCPUProfileEnvBadDirectory checks that a directory that cannot take
// the profile stops the command before it runs, naming the variable.
func TestCPUProfileEnvBadDirectory(t *testing.T) {
	cmd := exec.Command(os.Args[0], "lab", "-short", "-race", "off", "-scenario", "12")
	cmd.Env = append(os.Environ(), "MAPGUARD_TEST_AS_COMMAND=1", cpuProfileEnv+"="+filepath.Join(t.TempDir(), "missing"))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v; want status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), cpuProfileEnv) || strings.Contains(string(out), "map-memory-back") {
		t.Fatalf("output %q: want the variable named and no scenario run", out)
	}
}

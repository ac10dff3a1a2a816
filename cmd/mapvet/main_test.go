package main_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// build compiles mapvet into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mapvet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestMapvet runs the built command the three ways users do: over this
// repository (which must be clean), over the corpus of buggy snippets
// (findings, exit 3), and as go vet's tool (findings, exit 1).
func TestMapvet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := build(t)
	repo := "../.."

	cmd := exec.Command(bin, "./...")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mapvet ./... on mapguard itself: exit %d\n%s", exitCode(err), out)
	}

	corpus := "./analysis/testdata/src/corpus"
	cmd = exec.Command(bin, corpus)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if exitCode(err) != 3 {
		t.Fatalf("mapvet on the corpus: exit %d; want 3 (findings)\n%s", exitCode(err), out)
	}
	for _, want := range []string{"Store of s.byID", "c.mu.Lock inside a range", "len of status", "captures the whole map cfg"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("corpus findings lack %q:\n%s", want, out)
		}
	}

	cmd = exec.Command(bin, "-rangelock=false", "-checkthenact=false", "-unsyncmap=false", "-mapcapture=false", corpus)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("with every analyzer disabled: exit %d\n%s", exitCode(err), out)
	}

	cmd = exec.Command("go", "vet", "-vettool="+bin, corpus)
	cmd.Dir = repo
	out, err = cmd.CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "Store of s.byID") {
		t.Fatalf("go vet -vettool: exit %d; want 1 with findings\n%s", exitCode(err), out)
	}
}

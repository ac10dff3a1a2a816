package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tagged holds an unsynchronized map read in a file built only with the
// "special" tag.
const tagged = `//go:build special

package fixme

import "fmt"

// Count counts in the background and prints what it has.
func Count(words []string) {
	counts := map[string]int{}
	go func() {
		for _, w := range words {
			counts[w]++
		}
	}()
	fmt.Println(len(counts))
}
`

// TestTagsReachGoVet pins that -tags selects the files analysed: the
// in-process driver mapvet used before took -tags and ignored it ("no
// effect (deprecated)"), so a finding behind a build tag was never seen.
func TestTagsReachGoVet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	dir := module(t, map[string]string{"count.go": tagged, "doc.go": "// Package fixme is a test.\npackage fixme\n"})
	if out, code := mapvet(t, dir, "./..."); code != 0 {
		t.Errorf("mapvet without the tag: exit %d; want 0\n%s", code, out)
	}
	out, code := mapvet(t, dir, "-tags=special", "./...")
	if code != 3 || !strings.Contains(out, "len of counts while the goroutine") {
		t.Errorf("mapvet -tags=special: exit %d; want 3 with the finding\n%s", code, out)
	}
}

// TestSecondRunIsCached pins the design of the standalone mode: mapvet
// runs go vet with itself as the tool, so the go command analyses each
// package in its own process and caches the results; a second run over
// unchanged packages starts no analysis process at all. (The in-process
// driver used before started none either time and re-analysed
// everything, dependencies included, on every run.)
func TestSecondRunIsCached(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	dir := module(t, map[string]string{"login.go": fixable, "count.go": unfixable})
	units := func() int {
		cmd := exec.Command(build(t), "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-x")
		out, err := cmd.CombinedOutput()
		if exitCode(err) != 3 || !strings.Contains(string(out), "len of counts while the goroutine") {
			t.Fatalf("mapvet: exit %d; want 3 with findings\n%s", exitCode(err), out)
		}
		n := 0
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(line, "vet.cfg") && strings.Contains(line, build(t)) {
				n++
			}
		}
		return n
	}
	// The first run may find the standard library's facts cached by an
	// earlier test; the module's own package is always new.
	if n := units(); n == 0 {
		t.Fatalf("first run started no analysis process (go vet -x shows none)")
	}
	if n := units(); n != 0 {
		t.Errorf("second run over unchanged packages started %d analysis processes; want 0 (cached)", n)
	}
}

// TestJSONIsOneTree pins -json: one JSON object for every package (go
// vet prints one per package), exit 0 as with x/tools' drivers, with each
// package's findings under its analyzer.
func TestJSONIsOneTree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	dir := module(t, map[string]string{"login.go": fixable})
	if err := os.Mkdir(filepath.Join(dir, "count"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "count", "count.go"), []byte(strings.Replace(unfixable, "package fixme", "package count", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(build(t), "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mapvet -json: exit %d; want 0\n%s%s", exitCode(err), stdout.String(), stderr.String())
	}
	var tree map[string]map[string][]struct{ Posn, Message string }
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&tree); err != nil {
		t.Fatalf("decoding the JSON tree: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Errorf("more than one JSON value on stdout:\n%s", stdout.String())
	}
	if got := tree["example.com/fixme"]["checkthenact"]; len(got) != 1 || !strings.Contains(got[0].Message, "Store of sessions after a Load") {
		t.Errorf("example.com/fixme checkthenact: got %v; want the Store finding", got)
	}
	if got := tree["example.com/fixme/count"]["unsyncmap"]; len(got) != 1 || !strings.HasSuffix(got[0].Posn, filepath.Join("count", "count.go")+":13:14") {
		t.Errorf("example.com/fixme/count unsyncmap: got %v; want the len finding at count.go:13:14", got)
	}
}

// TestInterruptStopsEverything pins Ctrl-C: mapvet passes the interrupt
// to the go command it runs, waits for it, says so and exits 1, and
// leaves no process behind. (Killed by the signal, the in-process
// driver exited with no message and no status.)
func TestInterruptStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	dir := module(t, map[string]string{"login.go": fixable, "count.go": unfixable})
	// An empty build cache makes the run long: every dependency is
	// compiled and analysed.
	cache := t.TempDir()
	cmd := exec.Command(build(t), "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOCACHE="+cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 1 || !strings.Contains(out.String(), "mapvet: interrupted") {
			t.Errorf("interrupted mapvet: exit %d; want 1 and \"mapvet: interrupted\"\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("mapvet still running 30 s after the interrupt\n%s", out.String())
	}
	// Every process the run started had GOCACHE=cache in its environment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := processesWithEnv("GOCACHE=" + cache)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("processes %v still running 10 s after mapvet exited", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// processesWithEnv returns the pids of the processes whose environment
// holds kv.
func processesWithEnv(kv string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue
		}
		for _, e := range bytes.Split(env, []byte{0}) {
			if string(e) == kv {
				var pid int
				if _, err := fmt.Sscan(filepath.Base(d), &pid); err == nil && pid != os.Getpid() {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoStopsWhenParentDies pins the orphaned demo: killing go run's
// PID left the compiled demo serving its port (and, with -grow, leaking).
// A wrapper process stands in for go run: it starts the demo as its child
// and is killed with SIGKILL; the orphaned demo must stop serving within
// a few seconds.
func TestDemoStopsWhenParentDies(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wrapper := exec.Command(self)
	wrapper.Env = append(os.Environ(), "MAPGUARD_TEST_DEMO_WRAPPER=demo -addr "+addr+" -load -grow")
	wrapper.Stdout, wrapper.Stderr = w, w
	if err := wrapper.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close() // the wrapper and the demo hold the write end; EOF when both are gone
	wrapperDone := false
	defer func() {
		if !wrapperDone {
			wrapper.Process.Kill()
			wrapper.Wait()
		}
	}()

	// Read the demo's PID, then keep draining the pipe (a demo writing to
	// a closed pipe would die of SIGPIPE and pass the test by accident).
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(r); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	var output []string
	pid := 0
	for pid == 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the wrapper ended before starting the demo: %q", output)
			}
			output = append(output, line)
			if p, ok := strings.CutPrefix(line, "demo pid "); ok {
				pid, _ = strconv.Atoi(p)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no demo PID from the wrapper after 30 s: %q", output)
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for line := range lines {
			output = append(output, line)
		}
	}()
	defer func() {
		select {
		case <-drained:
			t.Logf("wrapper and demo output:\n%s", strings.Join(output, "\n"))
		case <-time.After(5 * time.Second):
			t.Log("the demo's output pipe is still open 5 s after the test")
		}
	}()
	// If the demo outlives the test, stop it: it is this test's process,
	// identified by its PID and checked to still run this binary.
	defer func() {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == self {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()

	serving := func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !serving(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo never served %s", addr)
		}
	}

	if err := wrapper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wrapper.Wait()
	wrapperDone = true
	killed := time.Now()
	for serving() {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("the demo (PID %d) still serves %s 5 s after its parent was killed", pid, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the demo stopped serving %v after its parent was killed", time.Since(killed).Round(time.Millisecond))
	// Gone, or a zombie waiting for its new parent to reap it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo (PID %d) closed its port but has not exited: %s", pid, stat)
		}
	}
}

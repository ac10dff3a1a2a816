package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStatus returns a "kB" field of /proc/self/status ("VmRSS",
// "VmHWM") in bytes.
func procStatus(field string) (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status %s: %w", field, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", field)
}

// rss returns the process's resident set size in bytes.
func rss() (float64, error) { return procStatus("VmRSS") }

// peakRSS returns the highest resident set size the process reached.
func peakRSS() (float64, error) { return procStatus("VmHWM") }

// kernelRelease returns the running kernel's release ("6.8.0-45-generic").
func kernelRelease() (string, error) {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(data)), err
}

// cpuTime returns the CPU time the process has used, in user and in
// system (kernel) mode, from getrusage(2).
func cpuTime() (user, system time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// dieWithParent has the kernel kill cmd's process when this one dies:
// the lab kills a child that times out or is interrupted, and what the
// child started (a go build, a program it times) must not outlive it.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

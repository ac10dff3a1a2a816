//go:build !linux

package lab

import (
	"errors"
	"os/exec"
	"time"
)

// errNotLinux is why the measurements of resident memory, kernel version
// and system CPU are missing: the lab reads them from Linux's /proc and
// getrusage(2).
var errNotLinux = errors.New("measuring resident memory, the kernel and system CPU needs Linux")

func rss() (float64, error)                            { return 0, errNotLinux }
func peakRSS() (float64, error)                        { return 0, errNotLinux }
func kernelRelease() (string, error)                   { return "", errNotLinux }
func cpuTime() (user, system time.Duration, err error) { return 0, 0, errNotLinux }

// dieWithParent returns cmd: outside Linux what a child starts may
// outlive it when the lab kills it.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd { return cmd }

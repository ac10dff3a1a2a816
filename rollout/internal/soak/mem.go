package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
)

// memory is the process's memory at one moment.
type memory struct {
	rss, peakRSS int64 // VmRSS and VmHWM, bytes
}

// readMemory reads VmRSS and VmHWM (the peak RSS) from /proc/self/status.
// The soak runs on Linux, where kfake and the kernel's counters are what
// it measures; elsewhere it says so.
func readMemory() (memory, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return memory{}, fmt.Errorf("soak: reading RSS (Linux's /proc/self/status): %w", err)
	}
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 3 || string(f[2]) != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "VmRSS:":
			m.rss = kb << 10
		case "VmHWM:":
			m.peakRSS = kb << 10
		}
	}
	if m.rss == 0 || m.peakRSS == 0 {
		return memory{}, fmt.Errorf("soak: /proc/self/status has no VmRSS or VmHWM")
	}
	return m, nil
}

// liveHeap collects garbage and returns the live heap it found.
func liveHeap() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

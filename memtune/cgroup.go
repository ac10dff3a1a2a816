package memtune

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// unlimited marks "no limit" in cgroup files: "max" in v2, and in v1 a
// value near the top of int64 (the kernel reports 2^63 rounded to pages).
const unlimitedV1 = 1 << 62

// ErrNoLimit is returned when no cgroup memory limit applies to the
// process and no fallback was given.
var ErrNoLimit = errors.New("memtune: no memory limit found: the process is not in a memory-limited cgroup; give WithFallbackLimit to tune anyway")

// membership is the process's place in the cgroup hierarchy: for v2, the
// unified path; for v1, the memory controller's path.
type membership struct {
	v2, v1 string
	hasV2  bool
	hasV1  bool
}

// parseSelfCgroup reads /proc/self/cgroup's format: "0::/path" for v2,
// "N:controllers:/path" for v1.
func parseSelfCgroup(data string) membership {
	var m membership
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			m.v2, m.hasV2 = parts[2], true
		case strings.Contains(","+parts[1]+",", ",memory,"):
			m.v1, m.hasV1 = parts[2], true
		}
	}
	return m
}

// limitSource describes where a limit came from.
type limitSource struct {
	bytes  uint64
	source string // e.g. "cgroup v2 /sys/fs/cgroup/app/memory.max"
}

// readLimit finds the lowest memory limit on the process's cgroup path
// under root: cgroup v2 (memory.max and memory.high of the process's
// cgroup and every ancestor), else v1 (memory.limit_in_bytes likewise).
func readLimit(root, selfCgroup string) (limitSource, error) {
	m := parseSelfCgroup(selfCgroup)
	if m.hasV2 {
		if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
			return walk(root, m.v2, []string{"memory.max", "memory.high"}, "cgroup v2", parseV2)
		}
	}
	if m.hasV1 {
		base := filepath.Join(root, "memory")
		if _, err := os.Stat(base); err == nil {
			return walk(base, m.v1, []string{"memory.limit_in_bytes"}, "cgroup v1", parseV1)
		}
	}
	if _, err := os.Stat(root); err != nil {
		return limitSource{}, fmt.Errorf("memtune: no cgroup filesystem at %s: %w", root, err)
	}
	return limitSource{}, ErrNoLimit
}

// walk reads files in dir/rel and each ancestor up to dir, and returns
// the lowest limit found.
func walk(dir, rel string, files []string, kind string, parse func(string) (uint64, bool, error)) (limitSource, error) {
	best := limitSource{bytes: math.MaxUint64}
	rel = path.Clean("/" + rel)
	for {
		d := filepath.Join(dir, filepath.FromSlash(rel))
		for _, f := range files {
			p := filepath.Join(d, f)
			data, err := os.ReadFile(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return limitSource{}, fmt.Errorf("memtune: reading %s: %w", p, err)
			}
			v, limited, err := parse(strings.TrimSpace(string(data)))
			if err != nil {
				return limitSource{}, fmt.Errorf("memtune: %s: %w", p, err)
			}
			if limited && v < best.bytes {
				best = limitSource{bytes: v, source: kind + " " + p}
			}
		}
		if rel == "/" {
			break
		}
		rel = path.Dir(rel)
	}
	if best.bytes == math.MaxUint64 {
		return limitSource{}, ErrNoLimit
	}
	return best, nil
}

func parseV2(s string) (uint64, bool, error) {
	if s == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("want a byte count or \"max\", got %q", s)
	}
	return v, true, nil
}

func parseV1(s string) (uint64, bool, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// -1 means unlimited on some kernels.
		if s == "-1" {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("want a byte count, got %q", s)
	}
	return v, v < unlimitedV1, nil
}

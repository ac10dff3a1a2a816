package bench

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// entryCost is the heap one entry costs in the implementation's map,
// beyond the key's own string data and the stored *Value, for string and
// int keys: the worst of the measurements at 1<<10 to 1.5M entries (Go
// 1.26, amd64; a builtin map costs most just after it doubles; sync.Map's
// trie varies by 15% from run to run), rounded up. TestEntryCostsCoverMeasurement keeps them above what BytesPerEntry
// measures.
var entryCost = map[string]struct{ str, int uint64 }{
	"syncmap":     {150, 145},
	"mutex":       {60, 40},
	"rwmutex":     {60, 40},
	"shardedsync": {150, 145},
	"shardedrw":   {60, 44},
	"xsync":       {64, 56},
	"cmap":        {60, 40},
	"mapguard":    {64, 56},
	"snapshotmap": {110, 92},
	"readmostly":  {60, 40},
}

// MemoryEstimate is the memory a set of runs needs at its peak. Runs
// happen one after another and each starts with a full collection, so
// the peak is that of the most demanding single run, not a sum over
// implementations.
type MemoryEstimate struct {
	// Peak is the heap at the peak: Live plus Garbage.
	Peak uint64
	// Live is the live heap of the most demanding run.
	Live uint64
	// Garbage is what the run discards that the collector lets pile up
	// before it collects: up to GOGC percent of Live (capped by
	// GOMEMLIMIT) for a mix that writes; the map's old tables as it
	// grows, at most, for one that only reads.
	Garbage uint64
	// Workload and Impl name the most demanding run; Parts says what its
	// live heap is made of.
	Workload, Impl string
	Parts          string
}

// String describes the estimate in one line. Live is close to what a run
// holds (within 5% of the resident memory measured for 2M string keys on
// sync.Map); Peak is an upper bound that a short run does not reach, as it
// makes less garbage than GOGC lets pile up.
func (e MemoryEstimate) String() string {
	return fmt.Sprintf("up to about %s at its peak, for %s on %s: %s live (%s) and up to %s of garbage before a collection",
		FormatBytes(e.Peak), e.Workload, e.Impl, FormatBytes(e.Live), e.Parts, FormatBytes(e.Garbage))
}

// EstimateMemory estimates the memory that running each of ws on each of
// impls needs at its peak, with gomaxprocs the largest GOMAXPROCS the
// runs use (a workload's goroutines default to it, and each goroutine
// keeps its own record of the keys for the check).
func EstimateMemory(ws []Workload, impls []string, gomaxprocs int) MemoryEstimate {
	var best MemoryEstimate
	for _, w := range ws {
		for _, impl := range impls {
			live, mapBytes, parts := liveBytes(w, impl, gomaxprocs)
			garbage := gcHeadroom(live)
			if !writes(w) {
				garbage = min(garbage, mapBytes)
			}
			if e := (MemoryEstimate{Peak: live + garbage, Live: live, Garbage: garbage, Workload: w.Name, Impl: impl, Parts: parts}); e.Peak > best.Peak || best.Workload == "" {
				best = e
			}
		}
	}
	return best
}

// liveBytes is the live heap of one run of w on impl at its peak: the
// keys (and, for string keys, the index from key to position the check
// uses), the map, a value per key (every key may be stored during the
// run), each goroutine's record of its keys, and the check's copy of the
// final state. A ReadMostly write holds two versions of the map at once.
func liveBytes(w Workload, impl string, gomaxprocs int) (live, mapBytes uint64, parts string) {
	n := uint64(w.Keys)
	cost, ok := entryCost[impl]
	if !ok {
		cost.str, cost.int = 150, 145 // an unknown implementation: the dearest known
	}
	var keys, index, entry uint64
	if w.KeyType == "int" {
		keys, entry = 8*n, cost.int
	} else {
		keys, entry = 32*n, cost.str // a string header and its 16 bytes
		index = n * entryCost["mutex"].str
	}
	mapBytes = n * entry
	if impl == "readmostly" && writes(w) {
		mapBytes *= 2
	}
	value := uint64(48) // Value{N, Data}: 40 bytes in a 48-byte size class
	if w.ValueType == "int" {
		value = 0 // in the map's entry, which entry costs count as a pointer's
	} else if w.ValueSize > 0 {
		value += uint64(w.ValueSize) + uint64(w.ValueSize)/8 + 16 // the payload and its size class's waste
	}
	values := n * value
	g := uint64(w.Goroutines)
	if g == 0 {
		g = uint64(max(gomaxprocs, 1))
	}
	perKey := uint64(9) // present bool and value int64
	if sharedWrites(w) {
		perKey = 24 // increments, winners and seen, int64 each
	}
	models := g * n * perKey
	final := 9 * n
	live = keys + index + mapBytes + values + models + final
	parts = fmt.Sprintf("%d keys: %s keys, %s map, %s values, %s check records",
		n, FormatBytes(keys+index), FormatBytes(mapBytes), FormatBytes(values), FormatBytes(models+final))
	return live, mapBytes, parts
}

// writes reports whether w's mix writes.
func writes(w Workload) bool {
	return w.Mix["load"]+w.Mix["range"] < 100 || w.BulkEvery > 0
}

// sharedWrites reports whether w's only write is LoadOrStore or Compute,
// which the goroutines share (see model).
func sharedWrites(w Workload) bool {
	kinds := 0
	for _, op := range opNames {
		if op != "load" && op != "range" && w.Mix[op] > 0 {
			kinds++
		}
	}
	return kinds == 1 && (w.Mix["loadorstore"] > 0 || w.Mix["compute"] > 0)
}

// gcHeadroom returns the garbage the collector lets pile up on a live
// heap before it collects: GOGC percent of live, less if GOMEMLIMIT
// caps the heap sooner. GOGC is read from the environment, as the runtime
// reads it at start (debug.SetGCPercent could read the current value, but
// setting it to read it waits for a running collection to finish).
func gcHeadroom(live uint64) uint64 {
	room := uint64(math.MaxUint64 / 2) // GOGC=off: no collection at all
	if gogc, ok := envGOGC(); ok {
		room = live / 100 * uint64(gogc)
	}
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		room = min(room, uint64(limit)-min(live, uint64(limit)))
	}
	return room
}

// envGOGC returns the GOGC environment variable's percentage: 100 when
// unset or invalid (as the runtime takes it), ok false for "off" or a
// negative value.
func envGOGC() (percent int, ok bool) {
	v := os.Getenv("GOGC")
	if v == "off" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n, n >= 0 // a negative GOGC turns the collector off too
	}
	return 100, true
}

// FormatBytes formats n bytes in binary units: 512 B, 1.5 KiB, 9.3 GiB.
func FormatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// MemoryBudget is the memory the machine, and the cgroup the process
// runs in, let a run use now.
type MemoryBudget struct {
	Bytes uint64
	// Source says where Bytes comes from.
	Source string
}

// AvailableMemory returns the smaller of the machine's available memory
// (MemAvailable in /proc/meminfo) and the room left under the memory
// limit of the process's cgroup (v2: memory.max and memory.high, v1:
// memory.limit_in_bytes, of its cgroup and each ancestor, less the
// cgroup's usage without its inactive file cache). It fails where
// /proc/meminfo cannot be read (not Linux).
func AvailableMemory() (MemoryBudget, error) {
	return availableMemory("/proc", "/sys/fs/cgroup")
}

func availableMemory(proc, cgroupRoot string) (MemoryBudget, error) {
	avail, err := memAvailable(filepath.Join(proc, "meminfo"))
	if err != nil {
		return MemoryBudget{}, err
	}
	b := MemoryBudget{Bytes: avail, Source: "MemAvailable in " + filepath.Join(proc, "meminfo")}
	self, err := os.ReadFile(filepath.Join(proc, "self", "cgroup"))
	if err != nil {
		return b, nil // no cgroups: the machine's figure stands
	}
	if room, source, ok := cgroupRoom(cgroupRoot, string(self)); ok && room < b.Bytes {
		b = MemoryBudget{Bytes: room, Source: source}
	}
	return b, nil
}

// memAvailable reads MemAvailable (or, on kernels before 3.14, MemFree)
// from a meminfo file.
func memAvailable(file string) (uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("bench: cannot tell the available memory: %w", err)
	}
	defer f.Close()
	fields := map[string]uint64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			continue
		}
		if unit == "kB" {
			n *= 1024
		}
		fields[k] = n
	}
	if n, ok := fields["MemAvailable"]; ok {
		return n, nil
	}
	if n, ok := fields["MemFree"]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("bench: cannot tell the available memory: %s has no MemAvailable", file)
}

// cgroupRoom returns the room left under the lowest memory limit on the
// process's cgroup path (selfCgroup is /proc/self/cgroup's content), and
// a description of where it comes from; ok is false when no limit
// applies.
func cgroupRoom(root, selfCgroup string) (room uint64, source string, ok bool) {
	var v1, v2 string
	hasV1, hasV2 := false, false
	for _, line := range strings.Split(selfCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2, hasV2 = parts[2], true
		case strings.Contains(","+parts[1]+",", ",memory,"):
			v1, hasV1 = parts[2], true
		}
	}
	type layout struct {
		dir, rel, usage, stat, inactive, kind string
		limits                                []string
	}
	var l layout
	switch {
	case hasV2 && exists(filepath.Join(root, "cgroup.controllers")):
		l = layout{root, v2, "memory.current", "memory.stat", "inactive_file", "cgroup v2", []string{"memory.max", "memory.high"}}
	case hasV1 && exists(filepath.Join(root, "memory")):
		l = layout{filepath.Join(root, "memory"), v1, "memory.usage_in_bytes", "memory.stat", "total_inactive_file", "cgroup v1", []string{"memory.limit_in_bytes"}}
	default:
		return 0, "", false
	}
	rel := path.Clean("/" + l.rel)
	// The process's own cgroup directory may not be visible inside a
	// container (it is the root there): walk up to the first that is.
	for rel != "/" && !exists(filepath.Join(l.dir, filepath.FromSlash(rel))) {
		rel = path.Dir(rel)
	}
	best, bestRoom := "", uint64(math.MaxUint64)
	for {
		d := filepath.Join(l.dir, filepath.FromSlash(rel))
		usage, _ := readUint(filepath.Join(d, l.usage))
		if inactive, ok := statField(filepath.Join(d, l.stat), l.inactive); ok && inactive <= usage {
			usage -= inactive
		}
		for _, f := range l.limits {
			limit, ok := readUint(filepath.Join(d, f))
			if !ok || limit >= 1<<62 { // "max", or v1's "no limit"
				continue
			}
			r := uint64(0)
			if limit > usage {
				r = limit - usage
			}
			if r < bestRoom {
				bestRoom = r
				best = fmt.Sprintf("%s limit %s in %s, less %s in use", l.kind, FormatBytes(limit), filepath.Join(d, f), FormatBytes(usage))
			}
		}
		if rel == "/" {
			break
		}
		rel = path.Dir(rel)
	}
	if best == "" {
		return 0, "", false
	}
	return bestRoom, best, true
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readUint reads a file holding one number; "max" and unreadable files
// are not numbers.
func readUint(file string) (uint64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

// statField reads one "name value" line of a memory.stat file.
func statField(file, name string) (uint64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == name {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/internal/gcpause"
	"github.com/mapguard/mapguard/memtune"
)

// The seed document's last chapter: claims about the runtime and the
// kernel around a map-heavy service rather than about maps themselves.
var runtimeScenarios = []Scenario{
	{
		ID: 13, Name: "zero-copy-io",
		Claim:    "A ReaderFrom that calls sendfile raises streaming throughput about 37% and cuts system CPU about 52%; socket-to-socket needs Linux 5.19+.",
		Instead:  "Call io.Copy with the *os.File and the *net.TCPConn themselves: the standard library already takes the zero-copy path (sendfile from a file, splice between sockets). Wrappers that hide ReadFrom/WriteTo (a counting io.Writer, bufio) lose it; unwrap before copying instead of writing a ReaderFrom.",
		Variants: []string{"file-iocopy", "file-hidden", "tcp-iocopy", "tcp-hidden"}, Runs: 3, ShortRuns: 1, MinRuns: timingRuns, Timeout: 60 * time.Second,
		Child: zeroCopyChild,
		Judge: judgeZeroCopy,
	},
	{
		ID: 14, Name: "pgo",
		Claim:    "Profile-guided optimization cuts hot-path cost substantially.",
		Instead:  "Profile your own service under production load (net/http/pprof's /debug/pprof/profile), commit it as default.pgo beside the main package, and measure before and after with interleaved runs: the gain depends on how much of the hot path is calls the compiler can inline or devirtualize.",
		Variants: []string{"interleaved"}, Runs: 1, ShortRuns: 1,
		MinRuns: Minimum{1, "one run, which interleaves its own rounds of both builds"},
		// Two builds of a program and of everything it imports, the
		// second with the profile: a minute or more on a cold cache.
		Timeout: 5 * time.Minute,
		Child:   pgoChild,
		Judge:   judgePGO,
	},
	{
		ID: 15, Name: "free-os-memory",
		Claim:    "Calling debug.FreeOSMemory() after GC when usage passes 85% of the limit, with GODEBUG=madvdontneed=1, keeps RSS within ±8%.",
		Instead:  "Leave GODEBUG alone (madvdontneed=1 is Linux's default since Go 1.16) and set a memory limit (memtune); if RSS must drop at once after a large map is released, call debug.FreeOSMemory() once then (memtune.WithReleaseOnPressure does it under pressure), not on a timer.",
		Variants: []string{"scavenger", "free", "free-madvdontneed=1", "free-madvdontneed=0"}, Runs: 2, ShortRuns: 1, MinRuns: oneRun, Timeout: 60 * time.Second,
		Env: func(variant string) []string {
			if v, ok := strings.CutPrefix(variant, "free-"); ok {
				return []string{"GODEBUG=" + v}
			}
			// The runtime's defaults, whatever the parent's GODEBUG says.
			return []string{"GODEBUG="}
		},
		Child: freeOSMemoryChild,
		Judge: judgeFreeOSMemory,
	},
	{
		ID: 16, Name: "dynamic-gogc",
		Claim:    "Tuning GOGC from the allocation rate, with a pre-emptive GC when the heap grows faster than 15 MB/s, cuts pause times compared with a fixed GOGC.",
		Instead:  "Keep GOGC fixed and bound memory with GOMEMLIMIT (memtune sets it from the container's limit); reduce allocation in the hot path (mapguard.Map stores small values inline) rather than steer the collector, and watch /sched/pauses/total/gc:seconds before and after.",
		Variants: []string{"gogc100", "memtune", "slope"}, Runs: 3, ShortRuns: 1, MinRuns: timingRuns, Timeout: 60 * time.Second,
		// GOGC and GOMEMLIMIT from the parent would change the baseline;
		// an empty GOMEMLIMIT also lets memtune set the limit.
		Env:   func(string) []string { return []string{"GOGC=100", "GOMEMLIMIT="} },
		Child: dynamicGOGCChild,
		Judge: judgeDynamicGOGC,
	},
}

// fail records why a child could not measure: its verdict is
// inconclusive, with the reason.
func fail(out *Output, err error) { out.Note("error", err.Error()) }

// childError returns the first error a variant's runs noted.
func childError(e Evidence, variants ...string) string {
	for _, v := range variants {
		if msg := e.Note(v, "error"); msg != "" {
			return v + ": " + msg
		}
	}
	return ""
}

// zeroCopyChild streams bytes over loopback TCP to a sink in this
// process, either from a file or through a proxy between two connections,
// with io.Copy as it is ("-iocopy") or with the interfaces io.Copy looks
// for hidden behind plain io.Reader and io.Writer ("-hidden": the
// user-space loop a wrapper leaves). It records throughput and the
// process's CPU time per GB.
func zeroCopyChild(variant string, short bool, out *Output) {
	if k, err := kernelRelease(); err == nil {
		out.Note("kernel", k)
	}
	chunk := int64(64 << 20) // one file, or what the source writes per round
	total := int64(1 << 30)
	if short {
		chunk, total = 16<<20, 64<<20
	}
	source, hidden, ok := strings.Cut(variant, "-")
	if !ok || (hidden != "iocopy" && hidden != "hidden") || (source != "file" && source != "tcp") {
		fail(out, fmt.Errorf("unknown variant %q", variant))
		return
	}
	res, err := stream(source == "file", hidden == "hidden", chunk, total)
	if err != nil {
		fail(out, err)
		return
	}
	gb := float64(res.bytes) / 1e9
	out.Set("mb_per_s", float64(res.bytes)/1e6/res.wall.Seconds())
	out.Set("user_s_per_gb", res.user.Seconds()/gb)
	out.Set("sys_s_per_gb", res.sys.Seconds()/gb)
	out.Set("bytes", float64(res.bytes))
}

type streamResult struct {
	bytes           int64
	wall, user, sys time.Duration
}

// hiddenReader and hiddenWriter pass only Read and Write on, so that
// io.Copy cannot find ReadFrom or WriteTo: the user-space loop a wrapper
// leaves.
type (
	hiddenReader struct{ io.Reader }
	hiddenWriter struct{ io.Writer }
)

// stream sends total bytes to a sink over loopback TCP: from a file of
// chunk bytes read again and again, or from a source connection through a
// proxy (an io.Copy between two connections). The clock and the CPU
// time cover the copying, the sink's reads and, for the proxy, the
// source's writes: the same in both ways of copying.
func stream(fromFile, hide bool, chunk, total int64) (streamResult, error) {
	var res streamResult
	sinkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer sinkLn.Close()
	received := make(chan int64, 1)
	sinkErr := make(chan error, 1)
	go func() {
		c, err := sinkLn.Accept()
		if err != nil {
			sinkErr <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<20)
		n := int64(0)
		for {
			m, err := c.Read(buf)
			n += int64(m)
			if err == io.EOF {
				received <- n
				return
			}
			if err != nil {
				sinkErr <- err
				return
			}
		}
	}()
	out, err := net.Dial("tcp", sinkLn.Addr().String())
	if err != nil {
		return res, err
	}
	defer out.Close()
	dst := io.Writer(out)
	if hide {
		dst = hiddenWriter{out}
	}

	var copyAll func() (int64, error)
	if fromFile {
		f, err := os.CreateTemp("", "mapguard-lab-zerocopy")
		if err != nil {
			return res, err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		block := make([]byte, 1<<20)
		for i := range block {
			block[i] = byte(i)
		}
		for range chunk / int64(len(block)) {
			if _, err := f.Write(block); err != nil {
				return res, fmt.Errorf("writing the file to send: %w", err)
			}
		}
		copyAll = func() (int64, error) {
			sent := int64(0)
			for sent < total {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return sent, err
				}
				src := io.Reader(f)
				if hide {
					src = hiddenReader{f}
				}
				n, err := io.Copy(dst, src)
				sent += n
				if err != nil {
					return sent, err
				}
			}
			return sent, nil
		}
	} else {
		proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return res, err
		}
		defer proxyLn.Close()
		srcErr := make(chan error, 1)
		begin := make(chan struct{}) // closed when the clock starts
		go func() {
			c, err := net.Dial("tcp", proxyLn.Addr().String())
			if err != nil {
				srcErr <- err
				proxyLn.Close() // so that Accept below returns
				return
			}
			defer c.Close()
			<-begin
			block := make([]byte, 1<<20)
			for sent := int64(0); sent < total; sent += int64(len(block)) {
				if _, err := c.Write(block); err != nil {
					srcErr <- err
					return
				}
			}
			srcErr <- c.(*net.TCPConn).CloseWrite()
		}()
		// However stream returns, the source must not wait for the clock
		// forever: closing begin lets it write, and fail once the
		// deferred closes have run.
		defer func() {
			select {
			case <-begin:
			default:
				close(begin)
			}
		}()
		in, err := proxyLn.Accept()
		if err != nil {
			select {
			case serr := <-srcErr: // the source could not dial
				err = serr
			default:
			}
			return res, err
		}
		defer in.Close()
		copyAll = func() (int64, error) {
			close(begin)
			src := io.Reader(in)
			if hide {
				src = hiddenReader{in}
			}
			n, err := io.Copy(dst, src)
			if err == nil {
				err = <-srcErr
			}
			return n, err
		}
	}

	u0, s0, err := cpuTime()
	if err != nil {
		return res, err
	}
	start := time.Now()
	sent, err := copyAll()
	if err != nil {
		return res, fmt.Errorf("copying after %d bytes: %w", sent, err)
	}
	if err := out.(*net.TCPConn).CloseWrite(); err != nil {
		return res, err
	}
	select {
	case n := <-received:
		if n != sent {
			return res, fmt.Errorf("the sink received %d bytes of %d", n, sent)
		}
	case err := <-sinkErr:
		return res, fmt.Errorf("the sink: %w", err)
	}
	res.wall = time.Since(start)
	u1, s1, err := cpuTime()
	if err != nil {
		return res, err
	}
	res.bytes, res.user, res.sys = sent, u1-u0, s1-s0
	return res, nil
}

// kernelAtLeast reports whether release ("5.15.0-91-generic") is at
// least major.minor, and whether it could be read.
func kernelAtLeast(release string, major, minor int) (at, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false, false
	}
	maj, err1 := strconv.Atoi(parts[0])
	min, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false, false
	}
	return maj > major || (maj == major && min >= minor), true
}

func judgeZeroCopy(e Evidence) (Verdict, string) {
	if msg := childError(e, "file-iocopy", "file-hidden", "tcp-iocopy", "tcp-hidden"); msg != "" {
		return Inconclusive, "a run could not measure: " + msg
	}
	type side struct{ mbps, sys, user float64 }
	get := func(v string) (side, bool) {
		tp, ok1 := e.Median(v, "mb_per_s")
		sys, ok2 := e.Median(v, "sys_s_per_gb")
		user, ok3 := e.Median(v, "user_s_per_gb")
		return side{tp, sys, user}, ok1 && ok2 && ok3 && tp > 0
	}
	f, ok1 := get("file-iocopy")
	fh, ok2 := get("file-hidden")
	t, ok3 := get("tcp-iocopy")
	th, ok4 := get("tcp-hidden")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return Inconclusive, "a variant reported no throughput"
	}
	if fh.sys+fh.user <= 0 || th.sys+th.user <= 0 {
		return Inconclusive, "no CPU time measured for the user-space loop (getrusage)"
	}
	kernel := e.Note("file-iocopy", "kernel")
	cut := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return 1 - a/b
	}
	fileGain, fileSysCut := f.mbps/fh.mbps-1, cut(f.sys, fh.sys)
	fileCPUCut := cut(f.sys+f.user, fh.sys+fh.user)
	tcpGain, tcpCPUCut := t.mbps/th.mbps-1, cut(t.sys+t.user, th.sys+th.user)
	ev := fmt.Sprintf("loopback TCP on Linux %s; file to socket: io.Copy %.0f MB/s, %.2f s system and %.2f s user CPU per GB; "+
		"the same copy with ReadFrom/WriteTo hidden (a user-space loop) %.0f MB/s, %.2f s and %.2f s: throughput %+.0f%%, system CPU %+.0f%%, all CPU %+.0f%%; "+
		"socket to socket through a proxy: io.Copy %.0f MB/s, %.2f s CPU per GB, hidden %.0f MB/s, %.2f s: throughput %+.0f%%, CPU %+.0f%% (CPU of the whole process, the sink's reads included)",
		kernel, f.mbps, f.sys, f.user, fh.mbps, fh.sys, fh.user, 100*fileGain, -100*fileSysCut, -100*fileCPUCut,
		t.mbps, t.sys+t.user, th.mbps, th.sys+th.user, 100*tcpGain, -100*tcpCPUCut)
	// The standard library took a zero-copy path where io.Copy used
	// clearly less CPU per byte than the loop.
	fileZero, tcpZero := fileCPUCut >= 0.15, tcpCPUCut >= 0.15
	switch {
	case fileZero && tcpZero:
		ev += "; the standard library already copies without user space both ways (sendfile, splice): TCPConn.ReadFrom is the ReaderFrom the claim describes, and writing another adds nothing"
	case fileZero:
		ev += "; the standard library already sends a file without user space (sendfile); between sockets it showed no gain here"
	case tcpZero:
		ev += "; between sockets io.Copy already avoids user space (splice); from a file it showed no gain here"
	}
	if at, ok := kernelAtLeast(kernel, 5, 19); ok && !at && tcpZero {
		ev += fmt.Sprintf("; socket-to-socket splice took effect on kernel %s, older than 5.19", kernel)
		if fileGain >= 0.2 && fileSysCut >= 0.3 {
			return Partly, ev + ": the gains hold, the 5.19 requirement does not"
		}
	}
	switch {
	case fileGain >= 0.2 && fileSysCut >= 0.3:
		return Confirmed, ev
	case fileGain < 0.05 && fileSysCut < 0.1:
		why := ": on loopback, sending a file without user space gains neither the throughput nor the system CPU claimed"
		if tcpZero {
			why += " (between sockets, splice did save CPU)"
		}
		return Refuted, ev + why + "; a network card's path may differ: measure on yours"
	case fileSysCut >= 0.3:
		return Partly, ev + ": the CPU saving holds, the throughput gain does not on loopback"
	}
	return Partly, ev + ": a smaller gain than claimed, on loopback"
}

// pgoChild builds lab/pgowork without a profile, collects a CPU profile
// from that build, builds it again with the profile, and runs the two
// builds in alternation, recording the median time per operation of each
// and their sizes.
func pgoChild(_ string, short bool, out *Output) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		fail(out, errors.New("no Go toolchain in PATH to build the program with and without a profile"))
		return
	}
	dir, err := os.MkdirTemp("", "mapguard-lab-pgo")
	if err != nil {
		fail(out, err)
		return
	}
	defer os.RemoveAll(dir)
	const pkg = "github.com/mapguard/mapguard/lab/pgowork"
	var buildTime time.Duration
	build := func(pgo, bin string) error {
		cmd := dieWithParent(exec.Command(goBin, "build", "-pgo="+pgo, "-o", bin, pkg))
		// The program is built for the platform this child runs on,
		// whatever the environment or `go env -w` say; GOWORK stays: from
		// a clone, the workspace is what finds the lab module.
		cmd.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "GOFLAGS=", "CGO_ENABLED=0")
		start := time.Now()
		b, err := cmd.CombinedOutput()
		buildTime += time.Since(start)
		if err != nil {
			return fmt.Errorf("go build -pgo=%s %s (the program is built from source: run the lab from a clone of mapguard): %v: %s", pgo, pkg, err, strings.TrimSpace(string(b)))
		}
		return nil
	}
	ops, rounds := 5_000_000, 7
	if short {
		ops, rounds = 500_000, 3
	}
	run := func(bin string, args ...string) (float64, error) {
		b, err := dieWithParent(exec.Command(bin, append([]string{"-ops", strconv.Itoa(ops)}, args...)...)).Output()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Base(bin), err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "ns/op "); ok {
				return strconv.ParseFloat(v, 64)
			}
		}
		return 0, fmt.Errorf("%s printed no ns/op: %q", filepath.Base(bin), b)
	}
	plain, opt, profile := filepath.Join(dir, "plain"), filepath.Join(dir, "pgo"), filepath.Join(dir, "cpu.pprof")
	if err := build("off", plain); err != nil {
		fail(out, err)
		return
	}
	// The profile comes from a longer run, for more samples.
	if _, err := run(plain, "-cpuprofile", profile, "-ops", strconv.Itoa(4*ops)); err != nil {
		fail(out, err)
		return
	}
	if err := build(profile, opt); err != nil {
		fail(out, err)
		return
	}
	out.Set("build_s", buildTime.Seconds())
	var plainNs, optNs []float64
	for i := range rounds {
		// Alternate which build goes first, so neither always runs on a
		// machine the other just warmed or disturbed.
		order := []string{plain, opt}
		if i%2 == 1 {
			order = []string{opt, plain}
		}
		for _, bin := range order {
			ns, err := run(bin)
			if err != nil {
				fail(out, err)
				return
			}
			if bin == plain {
				plainNs = append(plainNs, ns)
			} else {
				optNs = append(optNs, ns)
			}
		}
	}
	faster := 0
	for i := range plainNs {
		if optNs[i] < plainNs[i] {
			faster++
		}
	}
	out.Set("rounds", float64(rounds))
	out.Set("pgo_faster_rounds", float64(faster))
	out.Set("plain_ns", median(plainNs))
	out.Set("pgo_ns", median(optNs))
	for name, bin := range map[string]string{"plain_bytes": plain, "pgo_bytes": opt, "profile_bytes": profile} {
		if fi, err := os.Stat(bin); err == nil {
			out.Set(name, float64(fi.Size()))
		}
	}
}

// median returns the median of xs (the mean of the middle two for an
// even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}

func judgePGO(e Evidence) (Verdict, string) {
	if msg := childError(e, "interleaved"); msg != "" {
		return Inconclusive, "the run could not measure: " + msg
	}
	plain, ok1 := e.Median("interleaved", "plain_ns")
	opt, ok2 := e.Median("interleaved", "pgo_ns")
	rounds, _ := e.Median("interleaved", "rounds")
	if !ok1 || !ok2 || plain <= 0 {
		return Inconclusive, "no timings"
	}
	faster, _ := e.Median("interleaved", "pgo_faster_rounds")
	gain := 1 - opt/plain
	ev := fmt.Sprintf("lab/pgowork (a session table in mapguard.Map and a builtin map of counters, one goroutine) built without a profile: %.1f ns/op; with a profile collected from it: %.1f ns/op (PGO/plain %.3f, a gain of %.1f%%), medians of %.0f interleaved rounds, the PGO build faster in %.0f of them",
		plain, opt, opt/plain, 100*gain, rounds, faster)
	pb, ok1 := e.Median("interleaved", "plain_bytes")
	ob, ok2 := e.Median("interleaved", "pgo_bytes")
	if ok1 && ok2 && pb > 0 {
		ev += fmt.Sprintf("; binaries %.2f MB and %.2f MB (%+.1f%%)", pb/1e6, ob/1e6, 100*(ob/pb-1))
	}
	if rounds < 3 {
		return Inconclusive, ev + ": fewer than 3 rounds"
	}
	// A gain the rounds do not agree on is noise, not a finding: the
	// PGO build must win at least two rounds in three.
	if gain >= 0.02 && faster < math.Ceil(2*rounds/3) {
		return Inconclusive, ev + ": the rounds disagree, so the gain is within this machine's noise"
	}
	switch {
	case gain >= 0.10:
		return Confirmed, ev
	case gain >= 0.02:
		return Partly, ev + ": a measurable gain, not a substantial one"
	}
	return Refuted, ev
}

// freeOSMemoryChild fills a large builtin map, drops it, collects, and
// then either waits for the runtime's background scavenger or calls
// debug.FreeOSMemory, recording the resident set at each step. The
// GODEBUG setting comes from Scenario.Env.
func freeOSMemoryChild(variant string, short bool, out *Output) {
	n := scale(2_000_000, short)
	before, err := rss()
	if err != nil {
		fail(out, err)
		return
	}
	m := make(map[int][48]byte)
	for i := range n {
		m[i] = [48]byte{byte(i)}
	}
	full, _ := rss()
	out.Set("entries", float64(len(m)))
	m = nil
	runtime.GC()
	afterGC, _ := rss()
	if variant == "scavenger" {
		time.Sleep(time.Second)
	} else {
		debug.FreeOSMemory()
	}
	after, err := rss()
	if err != nil {
		fail(out, err)
		return
	}
	out.Set("before_bytes", before)
	out.Set("full_bytes", full)
	out.Set("after_gc_bytes", afterGC)
	out.Set("after_bytes", after)
	runtime.KeepAlive(m)
}

func judgeFreeOSMemory(e Evidence) (Verdict, string) {
	vs := []string{"scavenger", "free", "free-madvdontneed=1", "free-madvdontneed=0"}
	if msg := childError(e, vs...); msg != "" {
		return Inconclusive, "a run could not measure: " + msg
	}
	// kept is the median over a variant's runs of the part of the map's
	// resident memory still resident, each run against its own baseline.
	kept := map[string]float64{}
	var added []float64
	for _, v := range vs {
		var parts []float64
		for _, r := range e.Of(v) {
			before, ok1 := r.Metrics["before_bytes"]
			full, ok2 := r.Metrics["full_bytes"]
			after, ok3 := r.Metrics["after_bytes"]
			if ok1 && ok2 && ok3 && full > before {
				parts = append(parts, math.Max(0, after-before)/(full-before))
				added = append(added, full-before)
			}
		}
		if len(parts) == 0 {
			return Inconclusive, "no resident-memory measurements for " + v
		}
		kept[v] = median(parts)
	}
	n, _ := e.Median("free", "entries")
	ev := fmt.Sprintf("a builtin map of %.0f entries added %.0f MB of RSS; after dropping it and a GC, the part still resident: "+
		"FreeOSMemory with madvdontneed=1 %s, with madvdontneed=0 %s, with the default GODEBUG %s; no call, 1 s of the runtime's background scavenger %s "+
		"(the claim's ±8%%: at most 8%% left; its 85%%-of-the-limit trigger is a policy, not measured: memtune.WithReleaseOnPressure is one)",
		n, median(added)/1e6, pct(kept["free-madvdontneed=1"]), pct(kept["free-madvdontneed=0"]), pct(kept["free"]), pct(kept["scavenger"]))
	isDefault := math.Abs(kept["free"]-kept["free-madvdontneed=1"]) <= 0.05
	if isDefault {
		ev += fmt.Sprintf("; madvdontneed=1 is what %s does by default (the default run matched it)", e.GoVersion)
	}
	if kept["free-madvdontneed=0"]-kept["free-madvdontneed=1"] > 0.2 {
		ev += "; with madvdontneed=0 (MADV_FREE) the kernel takes the pages back only under memory pressure, so RSS stays up"
	}
	switch r1, rs := kept["free-madvdontneed=1"], kept["scavenger"]; {
	case r1 > 0.08:
		return Refuted, ev
	case rs <= 0.08:
		return Partly, ev + ": FreeOSMemory does it, but the runtime returned the memory within a second without the call"
	case isDefault:
		return Partly, ev + ": FreeOSMemory does it (without the call most of it was still resident a second later), but setting madvdontneed=1 changes nothing: it is the default"
	}
	return Confirmed, ev + ": without the call most of it was still resident a second later"
}

// dynamicGOGCChild churns a mapguard.Map holding a live set of byte
// slices (every write replaces a value, so the old one is garbage) under
// one of three policies, and records GC cycles, GC CPU, pauses and peak
// RSS.
func dynamicGOGCChild(variant string, short bool, out *Output) {
	entries, ops := scale(400_000, short), scale(6_000_000, short)
	m := mapguard.NewMap[int, []byte]()
	for i := range entries {
		m.Store(i, make([]byte, 128))
	}
	live := liveHeap()
	out.Set("live_bytes", live)
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var forced func() int
	switch variant {
	case "gogc100":
	case "memtune":
		// A container whose limit puts the soft limit (0.9 of it) at 1.5
		// times the live heap: memtune reads no cgroup here (an empty
		// directory), so the fallback is the limit.
		dir, err := os.MkdirTemp("", "mapguard-lab-cgroup")
		if err != nil {
			fail(out, err)
			return
		}
		defer os.RemoveAll(dir)
		limit := uint64(live * 1.5 / 0.9)
		t, err := memtune.Start(ctx, memtune.WithCgroupRoot(dir), memtune.WithFallbackLimit(limit), memtune.WithRefreshInterval(100*time.Millisecond))
		if err != nil {
			fail(out, err)
			return
		}
		defer t.Stop()
		out.Set("limit_bytes", float64(limit))
	case "slope": // started below, after the baseline readings
	default:
		fail(out, fmt.Errorf("unknown variant %q", variant))
		return
	}
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	cycles0, gc0, total0, idle0 := s[0].Value.Uint64(), s[1].Value.Float64(), s[2].Value.Float64(), s[3].Value.Float64()
	pauses := gcpause.Read()
	if variant == "slope" {
		forced = slopePolicy(ctx)
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for i := range ops {
		k := r.IntN(entries)
		if i%4 == 0 {
			m.Load(k)
		} else {
			m.Store(k, make([]byte, 128))
		}
	}
	elapsed := time.Since(start)
	cancel()
	if forced != nil {
		// Wait for the policy to stop (a GC it forced included) before
		// the readings.
		out.Set("forced_gcs", float64(forced()))
	}
	p := gcpause.Since(pauses)
	metrics.Read(s)
	busy := (s[2].Value.Float64() - total0) - (s[3].Value.Float64() - idle0)
	out.Set("ns_per_op", float64(elapsed.Nanoseconds())/float64(ops))
	out.Set("gc_cycles", float64(s[0].Value.Uint64()-cycles0))
	if busy > 0 {
		out.Set("gc_cpu_share", (s[1].Value.Float64()-gc0)/busy)
	}
	out.Set("pauses", float64(p.Count))
	out.Set("p99_pause_ms", p.P99.Seconds()*1000)
	out.Set("max_pause_ms", p.Max.Seconds()*1000)
	if peak, err := peakRSS(); err == nil {
		out.Set("peak_rss_bytes", peak)
	}
	runtime.KeepAlive(m)
}

// slopePolicy runs the claim's policy until ctx is done: every 50 ms it
// sets GOGC from the allocation rate (100 at 64 MB/s, in proportion,
// between 50 and 400: a faster allocator gets a larger heap and fewer
// cycles) and forces a GC when the heap grew faster than 15 MB/s since the
// last tick. The function it returns waits for the policy to stop and
// returns how many GCs it forced.
func slopePolicy(ctx context.Context) func() int {
	var (
		wg     sync.WaitGroup
		forced int
	)
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		allocs, heap, last := s[0].Value.Uint64(), s[1].Value.Uint64(), time.Now()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				metrics.Read(s)
				dt := now.Sub(last).Seconds()
				rate := float64(s[0].Value.Uint64()-allocs) / dt
				growth := (float64(s[1].Value.Uint64()) - float64(heap)) / dt
				allocs, heap, last = s[0].Value.Uint64(), s[1].Value.Uint64(), now
				debug.SetGCPercent(int(math.Round(100 * math.Min(4, math.Max(0.5, rate/64e6)))))
				if growth > 15e6 {
					runtime.GC()
					forced++
					metrics.Read(s)
					heap = s[1].Value.Uint64()
				}
			}
		}
	})
	return func() int { wg.Wait(); return forced }
}

func judgeDynamicGOGC(e Evidence) (Verdict, string) {
	vs := []string{"gogc100", "memtune", "slope"}
	if msg := childError(e, vs...); msg != "" {
		return Inconclusive, "a run could not measure: " + msg
	}
	// Each row's figures as text, "n/a" where a run did not report one
	// (GC CPU with no busy time, peak RSS off Linux).
	desc := func(name, v string) string {
		f := func(metric, format string, scale float64) string {
			x, ok := e.Median(v, metric)
			if !ok {
				return "n/a"
			}
			return fmt.Sprintf(format, x*scale)
		}
		return fmt.Sprintf("%s: pause p99 %s ms (longest %s) over %s pauses, %s GC cycles, GC %s%% of CPU, %s ns/op, peak RSS %s MB", name,
			f("p99_pause_ms", "%.3f", 1), f("max_pause_ms", "%.3f", 1), f("pauses", "%.0f", 1), f("gc_cycles", "%.0f", 1),
			f("gc_cpu_share", "%.0f", 100), f("ns_per_op", "%.0f", 1), f("peak_rss_bytes", "%.0f", 1e-6))
	}
	fixed, ok1 := e.Median("gogc100", "p99_pause_ms")
	slope, ok2 := e.Median("slope", "p99_pause_ms")
	if _, ok3 := e.Median("memtune", "p99_pause_ms"); !ok1 || !ok2 || !ok3 {
		return Inconclusive, "a policy reported no pause measurements"
	}
	live, _ := e.Median("gogc100", "live_bytes")
	forced, _ := e.Median("slope", "forced_gcs")
	ev := fmt.Sprintf("a mapguard.Map of byte slices (%.0f MB live) rewritten at full speed; %s; %s; %s (the policy forced %.0f GCs)",
		live/1e6, desc("fixed GOGC=100", "gogc100"), desc("memtune (soft limit 1.5x the live heap)", "memtune"), desc("slope policy", "slope"), forced)
	if fixed == 0 {
		return Inconclusive, ev + ": no GC pause with a fixed GOGC to compare"
	}
	// The pause histogram has four buckets per doubling (bounds 1.25,
	// 1.2, 1.17 and 1.14 times apart) and p99 is a bucket's upper bound:
	// a cut counts when it is more than one bucket, below 0.7 times.
	switch {
	case slope <= 0.7*fixed:
		return Confirmed, ev
	case slope >= fixed:
		return Refuted, ev + ": the policy does not cut pauses"
	}
	return Partly, ev + ": shorter pauses, by about one bucket of the runtime's pause histogram"
}

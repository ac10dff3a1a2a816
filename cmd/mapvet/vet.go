package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/tools/go/analysis"

	"github.com/mapguard/mapguard/analysis/suite"
)

// exitCode is an error that asks main to exit with that code, having
// printed what the user needs to know.
type exitCode int

func (c exitCode) Error() string { return "exit status " + strconv.Itoa(int(c)) }

const (
	// findings is the exit code when the analyzers report something,
	// as x/tools' drivers exit.
	findings exitCode = 3
	// usage is the exit code of a usage error.
	usage exitCode = 2
)

// errInProcess asks main to run x/tools' multichecker in this process.
var errInProcess = errors.New("run in process")

// memoryLimit is the GOMEMLIMIT each analysis process gets unless the
// user set GOGC or GOMEMLIMIT. The largest unit of a nats-server-sized
// project, its server package with its tests (404,000 lines, about 700
// MB live), peaked at 1.24 GB alone with the default GOGC=100, which lets
// the heap double before the collector runs, and at 0.95 GB with this
// limit (at the price of about 45% more CPU for that unit); the whole
// run, go command and parallel units included, peaked at 1.03 GB. A soft
// limit never fails a run: a unit whose live data exceeds it runs with
// the collector taking at most half its CPU.
const memoryLimit = "768MiB"

// toolProtocol reports whether args are go vet's (a single *.cfg unit,
// -flags, -V) or ask for help, which x/tools' multichecker answers.
func toolProtocol(args []string) bool {
	if len(args) > 0 && strings.HasSuffix(args[len(args)-1], ".cfg") {
		return true
	}
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			return a == "help"
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "flags" || name == "V" {
			return true
		}
	}
	return false
}

// options are the standalone flags, parsed as x/tools' multichecker
// parses them.
type options struct {
	json, fix, diff, test   bool
	context                 int
	tags                    string
	debug, cpuprof, memprof string
	trace                   string
	analyzerFlags           []string // -NAME=value and -NAME.flag=value, as given
	patterns                []string
}

// enableFlag is an analyzer's -NAME flag: a boolean that records whether
// it was given.
type enableFlag struct{ val string }

func (f *enableFlag) String() string   { return f.val }
func (f *enableFlag) IsBoolFlag() bool { return true }
func (f *enableFlag) Set(s string) error {
	if _, err := strconv.ParseBool(s); err != nil {
		return err
	}
	f.val = s
	return nil
}

// parse parses args. A usage error is printed to stderr and returned as
// exit code 2.
func parse(args []string, analyzers []*analysis.Analyzer, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("mapvet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mapvet [-flag] [package]\nRun 'mapvet help' for the analyzers and their flags.\n")
	}
	fs.BoolVar(&o.json, "json", false, "emit JSON output")
	fs.IntVar(&o.context, "c", -1, "display offending line with this many lines of context")
	fs.BoolVar(&o.fix, "fix", false, "apply all suggested fixes, then report what remains")
	fs.BoolVar(&o.diff, "diff", false, "with -fix, don't update the files, but print a unified diff")
	fs.BoolVar(&o.test, "test", true, "indicates whether test files should be analyzed, too")
	fs.StringVar(&o.tags, "tags", "", "build tags")
	fs.StringVar(&o.debug, "debug", "", "debug flags (in-process)")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write CPU profile to this file (in-process)")
	fs.StringVar(&o.memprof, "memprofile", "", "write memory profile to this file (in-process)")
	fs.StringVar(&o.trace, "trace", "", "write trace log to this file (in-process)")
	for _, name := range []string{"source", "v", "all"} {
		fs.Bool(name, false, "no effect (deprecated)")
	}
	passed := map[string]bool{}
	for _, a := range analyzers {
		fs.Var(new(enableFlag), a.Name, "enable "+a.Name+" analysis")
		passed[a.Name] = true
		a.Flags.VisitAll(func(f *flag.Flag) {
			fs.Var(f.Value, a.Name+"."+f.Name, f.Usage)
			passed[a.Name+"."+f.Name] = true
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitCode(0)
		}
		return nil, usage
	}
	fs.Visit(func(f *flag.Flag) {
		if passed[f.Name] {
			o.analyzerFlags = append(o.analyzerFlags, "-"+f.Name+"="+f.Value.String())
		}
	})
	o.patterns = fs.Args()
	return o, nil
}

// run is mapvet's standalone mode: it parses args and runs go vet with
// this binary as the vet tool.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, suite.Analyzers(), stderr)
	if err != nil {
		return err
	}
	if o.debug != "" || o.cpuprof != "" || o.memprof != "" || o.trace != "" || !o.test {
		return errInProcess
	}
	if len(o.patterns) == 0 {
		fmt.Fprintf(stderr, "usage: mapvet [-flag] [package]\nRun 'mapvet help' for the analyzers and their flags.\n")
		return exitCode(1)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary to run it as go vet's tool: %v", err)
	}
	if o.fix {
		// go vet -fix applies the fixes (-diff: prints them) after
		// analysing every package, then we report what remains.
		args := append(vetArgs(self, o), "-fix")
		if o.diff {
			args = append(args, "-diff")
		}
		if err := goVet(ctx, append(args, o.patterns...), stdout, stderr); err != nil {
			var ee *exec.ExitError
			// -diff exits 1 when there is a diff; a real error shows
			// again in the report below.
			if !o.diff || !errors.As(err, &ee) {
				return vetFailed(ctx, err)
			}
		}
	}
	var out bytes.Buffer
	err = goVet(ctx, append(append(vetArgs(self, o), "-json"), o.patterns...), &out, stderr)
	if err != nil {
		return vetFailed(ctx, err)
	}
	tree, err := readTrees(&out)
	if err != nil {
		return fmt.Errorf("reading go vet's JSON output: %v", err)
	}
	if o.json {
		data, err := json.MarshalIndent(tree, "", "\t")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", data)
		return nil
	}
	return report(tree, o.context, stderr)
}

// vetArgs returns the go vet command line before the mode flags and the
// packages.
func vetArgs(self string, o *options) []string {
	args := []string{"vet", "-vettool=" + self}
	if o.tags != "" {
		args = append(args, "-tags="+o.tags)
	}
	return append(args, o.analyzerFlags...)
}

// goVet runs the go command with args. An interrupt (ctx done) is passed
// on to it, and it is killed if it has not exited 10 seconds later.
func goVet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = os.Environ()
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+memoryLimit)
	}
	if runtime.GOOS != "windows" {
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd.Run()
}

// vetFailed turns go vet's failure into mapvet's: its own messages are
// already on stderr.
func vetFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(1)
	}
	return fmt.Errorf("running go vet: %v", err)
}

// A tree is x/tools' JSON output: package ID, then analyzer name, then
// either a list of diagnostics or an error.
type tree map[string]map[string]json.RawMessage

// readTrees merges the JSON trees go vet prints, one per package.
func readTrees(r io.Reader) (tree, error) {
	all := tree{}
	dec := json.NewDecoder(r)
	for {
		var t tree
		if err := dec.Decode(&t); err == io.EOF {
			return all, nil
		} else if err != nil {
			return nil, err
		}
		for id, byAnalyzer := range t {
			if all[id] == nil {
				all[id] = map[string]json.RawMessage{}
			}
			for name, v := range byAnalyzer {
				all[id][name] = v
			}
		}
	}
}

type diagnostic struct {
	Posn    string `json:"posn"`
	End     string `json:"end"`
	Message string `json:"message"`
	Related []struct {
		Posn    string `json:"posn"`
		End     string `json:"end"`
		Message string `json:"message"`
	} `json:"related"`
}

// report prints the findings of t in x/tools' plain form, sorted by
// position, and returns exit code 3 when there are any, 1 when an
// analyzer failed.
func report(t tree, context int, stderr io.Writer) error {
	var diags []diagnostic
	failed := false
	for _, id := range slices.Sorted(maps.Keys(t)) {
		for _, name := range slices.Sorted(maps.Keys(t[id])) {
			v := t[id][name]
			var list []diagnostic
			if err := json.Unmarshal(v, &list); err != nil {
				var e struct{ Error string }
				if json.Unmarshal(v, &e) != nil {
					return fmt.Errorf("reading go vet's JSON output for %s: %v", id, err)
				}
				fmt.Fprintf(stderr, "mapvet: %s: %s: %s\n", id, name, e.Error)
				failed = true
				continue
			}
			diags = append(diags, list...)
		}
	}
	slices.SortStableFunc(diags, func(a, b diagnostic) int {
		fa, la, ca := splitPosn(a.Posn)
		fb, lb, cb := splitPosn(b.Posn)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb), cmp.Compare(ca, cb), cmp.Compare(a.Message, b.Message))
	})
	diags = slices.CompactFunc(diags, func(a, b diagnostic) bool { return a.Posn == b.Posn && a.Message == b.Message })
	for _, d := range diags {
		printPlain(stderr, d.Posn, d.End, d.Message, context)
		for _, r := range d.Related {
			printPlain(stderr, r.Posn, r.End, "\t"+r.Message, context)
		}
	}
	switch {
	case failed:
		return exitCode(1)
	case len(diags) > 0:
		return findings
	}
	return nil
}

// printPlain prints a finding as x/tools' drivers do: "posn: message",
// then, with context ≥ 0, the lines from posn to end with context lines
// around them.
func printPlain(w io.Writer, posn, end, message string, context int) {
	fmt.Fprintf(w, "%s: %s\n", posn, message)
	if context < 0 {
		return
	}
	file, line, _ := splitPosn(posn)
	_, endLine, _ := splitPosn(end)
	endLine = max(endLine, line)
	data, _ := os.ReadFile(file)
	lines := strings.Split(string(data), "\n")
	for i := line - context; i <= endLine+context; i++ {
		if 1 <= i && i <= len(lines) {
			fmt.Fprintf(w, "%d\t%s\n", i, lines[i-1])
		}
	}
}

// splitPosn splits "file:line:col" (the file may hold colons).
func splitPosn(posn string) (file string, line, col int) {
	rest, c, ok := cut(posn)
	if !ok {
		return posn, 0, 0
	}
	file, l, ok := cut(rest)
	if !ok {
		return rest, c, 0
	}
	return file, l, c
}

func cut(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, 0, false
	}
	return s[:i], n, true
}

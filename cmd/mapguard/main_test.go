package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/mapguard/mapguard/bench"
)

// quick are flags that keep a test run short.
var quick = []string{"-duration", "20ms", "-impl", "syncmap,xsync,mapguard", "-preset", "session-table,hot-keys", "-keys", "4096"}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"bench"}, args...), &out, &errOut); err != nil {
		t.Fatalf("run(%q): %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

func TestBenchPrintsSideBySideTable(t *testing.T) {
	ratio := regexp.MustCompile(`^\d+\.\d\dx$`)
	for _, tc := range []struct {
		wide bool
		want []string
	}{
		{false, []string{"GOMAXPROCS=", "session-table", "hot-keys", "vs syncmap", "latencies", "p50", "p99", "B/entry", "GCs", "-wide"}},
		{true, []string{"GOMAXPROCS=", "session-table", "hot-keys", "vs syncmap", "loadorstore p50", "p99.9", "min-max", "B/op", "B/entry", "pause p99"}},
	} {
		args := quick
		if tc.wide {
			args = append(slices.Clone(quick), "-wide")
		}
		got := runOK(t, args...)
		for _, want := range tc.want {
			if !strings.Contains(got, want) {
				t.Errorf("-wide=%v: output lacks %q:\n%s", tc.wide, want, got)
			}
		}
		if strings.Contains(got, "rwmutex") {
			t.Errorf("output shows rwmutex, which -impl left out:\n%s", got)
		}
		rows := 0
		for _, line := range strings.Split(got, "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && (f[0] == "syncmap" || f[0] == "xsync" || f[0] == "mapguard") && !strings.HasSuffix(f[1], ":") {
				rows++
				if !slices.ContainsFunc(f, ratio.MatchString) || f[len(f)-1] != "ok" {
					t.Errorf("row without a ratio or a passed check: %q", line)
				}
			}
		}
		if rows != 6 {
			t.Errorf("%d implementation rows; want 3 per workload, 6:\n%s", rows, got)
		}
	}
}

func TestBenchCustomWorkloadFromFlags(t *testing.T) {
	got := runOK(t, "-duration", "20ms", "-impl", "mutex,shardedrw", "-mix", "load=50,compute=50", "-keys", "100", "-key-type", "int", "-dist", "zipf")
	if !strings.Contains(got, "custom, GOMAXPROCS=") || !strings.Contains(got, "100 int keys, zipf s=1.1") {
		t.Fatalf("custom workload not described:\n%s", got)
	}
}

func TestBenchWorkloadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.yaml")
	os.WriteFile(path, []byte("workloads:\n  - name: mine\n    mix: {load: 80, store: 20}\n    keys: 256\n"), 0o644)
	got := runOK(t, "-duration", "20ms", "-impl", "syncmap,mapguard", "-workload", path)
	if !strings.Contains(got, "mine, GOMAXPROCS=") || !strings.Contains(got, "256 string keys") {
		t.Fatalf("workload from file not run:\n%s", got)
	}
}

var benchLine = regexp.MustCompile(`^Benchmark[\w-]+/impl=\w+-\d+\t\d+\t[\d.]+ ns/op\t\d+ p50-ns\t\d+ p99-ns\t\d+ p999-ns\t[\d.]+ B/op\t[\d.]+ allocs/op(\t[\d.]+ B/entry)?(\t\d+ range-pass-ns)?\t\d+ gc-pause-p99-ns$`)

func TestBenchfmtIsBenchstatInput(t *testing.T) {
	got := runOK(t, append(quick, "-format", "benchfmt", "-rounds", "2")...)
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			lines++
			if !benchLine.MatchString(line) {
				t.Errorf("not a benchmark result line: %q", line)
			}
		} else if k, _, ok := strings.Cut(line, ": "); !ok || !containsString([]string{"goos", "goarch", "pkg", "cpu"}, k) {
			t.Errorf("unexpected line %q", line)
		}
	}
	if lines != 2*2*3 {
		t.Errorf("%d result lines; want 2 rounds x 2 workloads x 3 implementations", lines)
	}
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestBenchJSON(t *testing.T) {
	got := runOK(t, append(quick, "-json")...)
	var rep jsonReport
	if err := json.Unmarshal([]byte(got), &rep); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, got)
	}
	if rep.Machine.GoVersion == "" || rep.Machine.Cores == 0 || rep.Rounds != defaultRounds || len(rep.Workloads) != 2 || len(rep.Results) != 6*defaultRounds {
		t.Fatalf("JSON report incomplete: %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Ops == 0 || r.Check != "" || len(r.Latency) == 0 {
			t.Errorf("result %+v: want operations, latencies and a passed check", r)
		}
	}
}

// TestBenchHTMLReport checks that -html writes a report that parses and
// names every workload and implementation; html_test.go tests its charts.
func TestBenchHTMLReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	runOK(t, append(quick, "-html", path)...)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	svgs := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" {
			svgs++
		}
		if n.Type == html.TextNode {
			text.WriteString(n.Data + "\n")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if svgs == 0 {
		t.Error("report has no chart")
	}
	for _, want := range []string{"session-table", "hot-keys", "syncmap", "xsync", "mapguard"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report does not name %s", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nmix: {load: 100}\nkey_type: uuid\n"), 0o644)
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"bench", "-duration", "0s"},
		{"bench", "-key-type", "float"},
		{"bench", "-keys", "0"},
		{"bench", "-dist", "normal"},
		{"bench", "-mix", "load=90"},
		{"bench", "-mix", "get=100"},
		{"bench", "-impl", "syncmap,nosuchmap"},
		{"bench", "-preset", "nosuchpreset"},
		{"bench", "-cpu", "0"},
		{"bench", "-rounds", "0"},
		{"bench", "-format", "xml"},
		{"bench", "-baseline", "btree"},
		{"bench", "-workload", bad},
		{"bench", "-workload", "/nonexistent.yaml"},
		{"bench", "-nosuchflag"},
		{"bench", "extra"},
		{"demo", "-addr", "0.0.0.0:0", "-pprof-addr", "0.0.0.0:0"}, // pprof only on loopback
		{"demo", "-addr", "nonsense"},
		{"demo", "-grow"},
		{"demo", "-load", "-grow", "-grow-rate", "0"},
		{"demo", "extra"},
	} {
		var errOut bytes.Buffer
		err := run(context.Background(), args, io.Discard, &errOut)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v; want a usage error", args, err)
		}
		if code := exitCode(err, io.Discard); code != 2 {
			t.Errorf("run(%q) exits %d; want 2", args, code)
		}
	}
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "-workload", bad}, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "key_type") || !strings.Contains(err.Error(), "string, int") {
		t.Errorf("bad workload file error %v; want it to name key_type and the allowed values", err)
	}
	if code := exitCode(errors.New("disk full"), io.Discard); code != 1 {
		t.Errorf("other errors exit %d; want 1", code)
	}
}

func TestBenchStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"bench", "-duration", "1s"}, &out, io.Discard)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted during the warm-up, after 0 of 3 rounds") {
		t.Fatalf("run with a cancelled context = %v; want an interruption after 0 rounds", err)
	}
	if !strings.Contains(out.String(), "no round finished") {
		t.Fatalf("output %q; want it to say no round finished", out.String())
	}
}

// TestFailedCheckIsReported feeds the report a failed run: the table
// marks it and the command's error (exit 1) names it.
func TestFailedCheckIsReported(t *testing.T) {
	w := bench.Presets(0)[0]
	cfg := &benchConfig{workloads: []bench.Workload{w}, impls: []string{"syncmap"}, cpus: []int{2}, rounds: 1, baseline: "syncmap"}
	res := bench.Result{Workload: w.Name, Impl: "syncmap", GOMAXPROCS: 2, Ops: 10, OpsPerSec: 100, Check: "key 3: lost"}
	rep := &report{cfg: cfg, results: map[runKey][]bench.Result{{w.Name, 2, "syncmap"}: {res}}, order: []bench.Result{res}, rounds: 1}
	var out bytes.Buffer
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), "key 3: lost") {
		t.Fatalf("table does not show the failure:\n%s", out.String())
	}
	if f := rep.failures(); len(f) != 1 {
		t.Fatalf("failures() = %v", f)
	}
}

// TestReadmeWorkloadExampleParses keeps the README's workload file valid.
func TestReadmeWorkloadExampleParses(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README has no yaml block")
	}
	ws, err := bench.ParseWorkloads([]byte(block), bench.Workload{KeyType: "string", Distribution: "uniform", Keys: 1024})
	if err != nil || len(ws) != 1 || ws[0].Goroutines != 64 || ws[0].ZipfS != 1.1 {
		t.Fatalf("README workload example: %+v, %v", ws, err)
	}
}

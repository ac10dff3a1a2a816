package observe_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

const deployDir = "../deploy"

// needTool returns the path of a binary from Debian's prometheus package,
// skipping the test when it is missing unless MAPGUARD_REQUIRE_PROMETHEUS
// is set (scripts/test sets it after installing the package), in which
// case a missing binary fails the test.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MAPGUARD_REQUIRE_PROMETHEUS") != "" {
			t.Fatalf("%s not found, and MAPGUARD_REQUIRE_PROMETHEUS is set", name)
		}
		t.Skipf("%s not found: install Debian's prometheus package (scripts/test does) to run this test", name)
	}
	return path
}

// TestAlertRules checks the rules file and runs its promtool unit tests:
// each alert firing and not firing.
func TestAlertRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "mapguard-rules.yml"},
		{"test", "rules", "mapguard-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Join(deployDir, "prometheus")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exportedMetrics returns the metric names an instrumented Map exports,
// with the series names of histograms.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := observe.Instrument(mapguard.NewMap[int, int](), "m", observe.WithRegisterer(reg))
	m.Store(1, 1)
	m.Range(func(int, int) bool { return true })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			names = append(names, mf.GetName()+"_bucket", mf.GetName()+"_sum", mf.GetName()+"_count")
		}
	}
	return names
}

// promqlWords are the PromQL functions, keywords and label names the
// dashboard may use besides metric names.
var promqlWords = []string{
	"sum", "by", "rate", "deriv", "increase", "histogram_quantile", "on", "and",
	"map", "op", "result", "direction", "job", "le", "label_values",
}

// TestGrafanaDashboard checks that every query of the dashboard parses as
// PromQL (promtool checks each as a recording rule) and names only metrics
// the collector exports.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "grafana", "mapguard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Query any }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(exprs) < 6 {
		t.Fatalf("dashboard has %d queries; want entries, growth, operations, iteration p50/p99, resizes", len(exprs))
	}
	exported := exportedMetrics(t)
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	strip := regexp.MustCompile(`"[^"]*"|\[[0-9a-z]+\]|\$[a-z]+`) // strings, ranges, variables
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, w := range ident.FindAllString(strip.ReplaceAllString(e, ""), -1) {
			if slices.Contains(promqlWords, w) {
				continue
			}
			if !slices.Contains(exported, w) {
				t.Errorf("query %q names %q, which the collector does not export (it exports %v)", e, w, exported)
			}
			seen[w] = true
		}
	}
	for _, want := range []string{"mapguard_entries", "mapguard_operations_total", "mapguard_iteration_duration_seconds_bucket", "mapguard_resizes_total"} {
		if !seen[want] {
			t.Errorf("dashboard never queries %s", want)
		}
	}

	promtool := needTool(t, "promtool")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(strings.NewReplacer(`$job`, `.*`, `$map`, `.*`).Replace(e))
		fmt.Fprintf(&rules, "      - record: dashboard_query_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("a dashboard query is not valid PromQL: %v\n%s", err, out)
	}
}

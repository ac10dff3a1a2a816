package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the command instead of the tests when a test starts this
// test binary as a child: the demo for the end-to-end test, a lab
// scenario's child for the lab tests (the lab re-executes its own binary),
// or a stand-in for go run that starts the demo as its own child.
func TestMain(m *testing.M) {
	if os.Getenv("MAPGUARD_TEST_AS_COMMAND") != "" {
		os.Exit(runProcess(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	if args := os.Getenv("MAPGUARD_E2E_DEMO_ARGS"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, strings.Fields(args), os.Stdout, os.Stderr)
		stop()
		os.Exit(exitCode(err, os.Stderr))
	}
	if args := os.Getenv("MAPGUARD_TEST_DEMO_WRAPPER"); args != "" {
		// As go run does: start the demo as a child, say its PID, wait.
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		child := exec.Command(self)
		child.Env = append(os.Environ(), "MAPGUARD_E2E_DEMO_ARGS="+args)
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("demo pid %d\n", child.Process.Pid)
		child.Wait()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort returns a loopback address with a port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess starts cmd and stops it (SIGTERM, then kill) when the test
// ends, logging its output if the test failed.
func startProcess(t *testing.T, cmd *exec.Cmd) *strings.Builder {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
	return &out
}

// promAPI queries Prometheus' HTTP API and decodes the data field.
func promAPI(base, path string, params url.Values, data any) error {
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string
		Data   json.RawMessage
		Error  string
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %v: %s", path, err, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// TestEndToEndGrowthAlert starts the demo with unbounded growth and a real
// Prometheus that scrapes it every second with mapguard's rules loaded,
// then asserts through Prometheus' API that the series exist and that
// MapguardMapGrowthHigh goes pending or firing.
func TestEndToEndGrowthAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus server; skipped in -short")
	}
	prom := promBinary(t)
	rules, err := filepath.Abs("../../deploy/prometheus/mapguard-rules.yml")
	if err != nil {
		t.Fatal(err)
	}

	// The demo: this test binary, in demo mode.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	demoAddr := freePort(t)
	demo := exec.Command(self)
	demo.Env = append(os.Environ(), "MAPGUARD_E2E_DEMO_ARGS=demo -addr "+demoAddr+" -load -grow -grow-rate 2000 -duration 5m")
	startProcess(t, demo)

	// Prometheus, scraping and evaluating every second.
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: [%q]
`, rules, demoAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freePort(t)
	startProcess(t, exec.Command(prom,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		"--log.level=warn"))
	base := "http://" + promAddr

	deadline := time.Now().Add(50 * time.Second)
	var (
		seriesOK bool
		state    string
		lastErr  error
	)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if !seriesOK {
			var q struct {
				Result []struct {
					Metric map[string]string
					Value  []any
				}
			}
			if lastErr = promAPI(base, "/api/v1/query", url.Values{"query": {`mapguard_entries{job="demo"}`}}, &q); lastErr != nil {
				continue
			}
			maps := map[string]bool{}
			for _, r := range q.Result {
				maps[r.Metric["map"]] = true
			}
			seriesOK = maps["sessions"] && maps["config"]
			if !seriesOK {
				continue
			}
		}
		var a struct {
			Alerts []struct {
				Labels map[string]string
				State  string
			}
		}
		if lastErr = promAPI(base, "/api/v1/alerts", nil, &a); lastErr != nil {
			continue
		}
		for _, al := range a.Alerts {
			if al.Labels["alertname"] == "MapguardMapGrowthHigh" && al.Labels["map"] == "sessions" {
				state = al.State
			}
			if al.Labels["alertname"] == "MapguardMapGrowthHigh" && al.Labels["map"] == "config" {
				t.Fatalf("MapguardMapGrowthHigh is %s for the config table, which does not grow", al.State)
			}
		}
		if state == "pending" || state == "firing" {
			break
		}
	}
	if !seriesOK {
		t.Fatalf("Prometheus never had mapguard_entries for both demo maps (last error: %v)", lastErr)
	}
	if state != "pending" && state != "firing" {
		t.Fatalf("MapguardMapGrowthHigh for sessions is %q after 50 s; want pending or firing (last error: %v)", state, lastErr)
	}
	t.Logf("MapguardMapGrowthHigh{map=\"sessions\"} is %s", state)
}

// promBinary returns the prometheus server binary, or skips (fails when
// MAPGUARD_REQUIRE_PROMETHEUS is set) if it is missing.
func promBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("MAPGUARD_REQUIRE_PROMETHEUS") != "" {
			t.Fatal("prometheus not found, and MAPGUARD_REQUIRE_PROMETHEUS is set")
		}
		t.Skip("prometheus not found: install Debian's prometheus package (scripts/test does) to run the end-to-end test")
	}
	return path
}

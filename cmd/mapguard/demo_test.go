package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDemoEndpoints(t *testing.T) {
	d := newDemo()
	srv := httptest.NewServer(d.handler())
	defer srv.Close()
	do := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("PUT", "/sessions/abc?user=ann"); code != http.StatusNoContent {
		t.Fatalf("PUT session: %d", code)
	}
	if code, body := do("GET", "/sessions/abc"); code != 200 || !strings.HasPrefix(body, "ann ") {
		t.Fatalf("GET session: %d %q", code, body)
	}
	if code, body := do("GET", "/sessions"); code != 200 || body != "1 sessions\n" {
		t.Fatalf("GET sessions: %d %q", code, body)
	}
	do("DELETE", "/sessions/abc")
	if code, _ := do("GET", "/sessions/abc"); code != http.StatusNotFound {
		t.Fatalf("GET deleted session: %d", code)
	}
	if code, body := do("GET", "/config/feature-2"); code != 200 || body != "true\n" {
		t.Fatalf("GET config: %d %q", code, body)
	}
	code, metrics := do("GET", "/metrics")
	for _, want := range []string{
		`mapguard_operations_total{map="sessions",op="store",result="stored"} 1`,
		`mapguard_operations_total{map="sessions",op="delete",result="deleted"} 1`,
		`mapguard_entries{map="config"} 100`,
		`mapguard_iteration_duration_seconds_count{map="sessions"} 1`,
		"go_goroutines",
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, body := do("GET", "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/: %d", code)
	}
}

// TestDemoLoadGrows runs the load generator with growth briefly: the
// session table must grow past the churned IDs.
func TestDemoLoadGrows(t *testing.T) {
	d := newDemo()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	d.load(ctx, loadOptions{grow: true, growRate: 10_000, growMax: defaultGrowMax})
	if leaked := countLeaked(d); leaked < 100 {
		t.Fatalf("growth mode leaked %d sessions in 300ms at 10,000/s", leaked)
	}
}

func countLeaked(d *demo) int {
	leaked := 0
	for k := range d.sessions.Keys() {
		if strings.HasPrefix(k, "leak-") {
			leaked++
		}
	}
	return leaked
}

// TestDemoGrowStopsAtMax pins -grow leaking forever: at 10,000 sessions
// a second for 500 ms the leak stops at -grow-max, 700, and says so.
func TestDemoGrowStopsAtMax(t *testing.T) {
	d := newDemo()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out strings.Builder
	d.load(ctx, loadOptions{grow: true, growRate: 10_000, growMax: 700, out: &out})
	if leaked := countLeaked(d); leaked != 700 {
		t.Fatalf("leaked %d sessions with -grow-max 700; want 700", leaked)
	}
	if !strings.Contains(out.String(), "-grow stopped at -grow-max, 700 leaked sessions") {
		t.Fatalf("output %q does not say the growth stopped", out.String())
	}
}

// TestDemoStopsAfterDuration pins the demo serving until killed: with
// -duration 300ms it stops by itself, closes its port, and exits 0.
func TestDemoStopsAfterDuration(t *testing.T) {
	var out lockedWriter
	var buf strings.Builder
	out.w = &buf
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"demo", "-addr", "127.0.0.1:0", "-load", "-grow", "-duration", "300ms"}, &out, io.Discard)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo -duration 300ms: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo -duration 300ms still running after 10 s")
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("demo stopped after %v, before its -duration", took)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if !strings.Contains(buf.String(), "stopping: -duration 300ms elapsed") {
		t.Fatalf("output %q does not say why the demo stopped", buf.String())
	}
}

func TestDemoFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "-duration", "0s"},
		{"demo", "-load", "-grow", "-grow-max", "0"},
		{"demo", "-grow"},
	} {
		if code := exitCode(run(context.Background(), args, io.Discard, io.Discard), io.Discard); code != 2 {
			t.Errorf("%q: exit %d; want 2", args, code)
		}
	}
}

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
	srv := httptest.NewServer(d.handler(true))
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
		{"demo", "-addr", "nohostport"},
		{"demo", "-pprof-addr", "0.0.0.0:0"},
		{"demo", "-addr", "0.0.0.0:0", "-pprof-addr", "192.0.2.1:6060"},
	} {
		if code := exitCode(run(context.Background(), args, io.Discard, io.Discard), io.Discard); code != 2 {
			t.Errorf("%q: exit %d; want 2", args, code)
		}
	}
}

// TestDemoAddresses: by default the demo listens on loopback and says so,
// with pprof beside the service; told to listen on every interface, it
// says so and serves pprof only on a loopback port of its own.
func TestDemoAddresses(t *testing.T) {
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		addr, reach string
		pprofApart  bool
	}{
		{"127.0.0.1:0", "loopback only", false},
		{"0.0.0.0:0", "reachable from other machines", true},
	} {
		var buf strings.Builder
		out := &lockedWriter{w: &buf}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"demo", "-addr", tc.addr, "-exit-with-parent=false"}, out, io.Discard)
		}()
		var line string
		for deadline := time.Now().Add(10 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			out.mu.Lock()
			line = buf.String()
			out.mu.Unlock()
		}
		// "mapguard demo listening on http://HOST:PORT (...): ..."
		_, rest, _ := strings.Cut(line, "listening on http://")
		service, _, _ := strings.Cut(rest, " ")
		_, port, _ := strings.Cut(service, "]:")
		if port == "" {
			_, port, _ = strings.Cut(service, ":")
		}
		if !strings.Contains(line, tc.reach) || port == "" {
			cancel()
			<-done
			t.Fatalf("-addr %s: %q; want it to say %q and the port", tc.addr, line, tc.reach)
		}
		base := "http://127.0.0.1:" + port
		if code := get(base + "/metrics"); code != 200 {
			t.Errorf("-addr %s: /metrics %d", tc.addr, code)
		}
		code := get(base + "/debug/pprof/")
		if tc.pprofApart {
			_, p, _ := strings.Cut(line, "profiles only on loopback at ")
			pprofURL, _, _ := strings.Cut(p, ";")
			if code != http.StatusNotFound || !strings.HasPrefix(pprofURL, "http://127.0.0.1:") || get(pprofURL) != 200 {
				t.Errorf("-addr %s: pprof %d on the service's address, %q in %q; want 404 there and 200 on a loopback address of its own", tc.addr, code, pprofURL, line)
			}
		} else if code != 200 {
			t.Errorf("-addr %s: /debug/pprof/ %d beside the service; want 200", tc.addr, code)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("-addr %s: %v", tc.addr, err)
		}
	}
}

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
	d.load(ctx, true, 10_000)
	leaked := 0
	for k := range d.sessions.Keys() {
		if strings.HasPrefix(k, "leak-") {
			leaked++
		}
	}
	if leaked < 100 {
		t.Fatalf("growth mode leaked %d sessions in 300ms at 10,000/s", leaked)
	}
}

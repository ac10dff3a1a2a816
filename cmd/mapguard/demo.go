package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mapguard/mapguard"
	"github.com/mapguard/mapguard/observe"
)

// session is a value of the demo's session table.
type session struct {
	User    string
	Created time.Time
}

// demo is the service `mapguard demo` runs: a session table and a config
// table, instrumented, behind a small HTTP API.
type demo struct {
	sessions *observe.Map[string, session]
	config   *observe.SyncMap
	reg      *prometheus.Registry
}

func newDemo() *demo {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d := &demo{reg: reg}
	d.sessions = observe.Instrument(mapguard.NewMap[string, session](), "sessions",
		observe.WithRegisterer(reg), observe.WithSlowIteration(50*time.Millisecond))
	d.config = observe.InstrumentSyncMap(&sync.Map{}, "config", observe.WithRegisterer(reg))
	for i := range 100 {
		d.config.Store("feature-"+strconv.Itoa(i), i%2 == 0)
	}
	return d
}

func (d *demo) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.sessions.Load(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%s %s\n", s.User, s.Created.Format(time.RFC3339))
	})
	mux.HandleFunc("PUT /sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		d.sessions.Store(r.PathValue("id"), session{User: r.URL.Query().Get("user"), Created: time.Now()})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		d.sessions.Delete(r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		n := 0
		d.sessions.RangeContext(r.Context(), func(string, session) bool { n++; return true })
		fmt.Fprintf(w, "%d sessions\n", n)
	})
	mux.HandleFunc("GET /config/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := d.config.Load(r.PathValue("key"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, v)
	})
	return mux
}

// load runs the demo's traffic until ctx is done: session churn (logins
// and logouts over a bounded set of IDs), config reads, and an export job
// that ranges over the sessions every second. With grow set, it also
// stores growRate new session IDs per second and never deletes them: the
// unbounded growth MapguardMapGrowthHigh alerts on.
func (d *demo) load(ctx context.Context, grow bool, growRate int) {
	var wg sync.WaitGroup
	wg.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			for range 1000 {
				id := "user-" + strconv.Itoa(r.IntN(5000))
				switch r.IntN(10) {
				case 0:
					d.sessions.Delete(id)
				case 1, 2:
					d.sessions.Store(id, session{User: id, Created: time.Now()})
				default:
					d.sessions.Load(id)
				}
				d.config.Load("feature-" + strconv.Itoa(r.IntN(120)))
			}
			sleepCtx(ctx, 10*time.Millisecond)
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			d.sessions.Range(func(string, session) bool { return true })
			sleepCtx(ctx, time.Second)
		}
	})
	if grow {
		wg.Go(func() {
			const tick = 100 * time.Millisecond
			per := max(1, growRate/10)
			next := 0
			for ctx.Err() == nil {
				for range per {
					d.sessions.Store("leak-"+strconv.Itoa(next), session{User: "leak", Created: time.Now()})
					next++
				}
				sleepCtx(ctx, tick)
			}
		})
	}
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapguard demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (loopback; port 0 picks a free one)")
	load := fs.Bool("load", false, "generate traffic: session churn, config reads, a periodic export")
	grow := fs.Bool("grow", false, "with -load, also leak new sessions forever (unbounded growth)")
	growRate := fs.Int("grow-rate", 1000, "sessions leaked per second with -grow")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mapguard demo [flags]\n\n"+
			"Serves a small session service with instrumented maps: /metrics, /debug/pprof,\n"+
			"/sessions/{id} (GET, PUT, DELETE), /sessions (an export that ranges), /config/{key}.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("demo takes no arguments, got %q", fs.Args())
	}
	if *growRate < 1 {
		return usagef("-grow-rate must be positive, got %d", *growRate)
	}
	if *grow && !*load {
		return usagef("-grow needs -load")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usagef("-addr: %v", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("-addr must be a loopback address, got %q: the demo exposes pprof", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d := newDemo()
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "mapguard demo listening on http://%s (metrics at /metrics, profiles at /debug/pprof/)\n", ln.Addr())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if *load {
		wg.Go(func() { d.load(ctx, *grow, *growRate) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		cancel()
		wg.Wait()
		return fmt.Errorf("demo: %w", err)
	}
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	err = srv.Shutdown(shutdownCtx)
	wg.Wait()
	return err
}

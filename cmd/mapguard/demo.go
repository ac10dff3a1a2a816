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
	"os"
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

// pprofHandler serves /debug/pprof/. runDemo serves it only on a
// loopback address: profiles and the command line are not for the
// network.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// handler serves the session service and /metrics, and /debug/pprof/ too
// when withPprof (the service's own address is a loopback one).
func (d *demo) handler(withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	if withPprof {
		mux.Handle("/debug/pprof/", pprofHandler())
	}
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

// loadOptions configure the demo's traffic.
type loadOptions struct {
	// grow leaks growRate new sessions per second, never deleted, until
	// growMax have leaked: the growth MapguardMapGrowthHigh alerts on,
	// bounded so that a forgotten demo does not eat the machine.
	grow              bool
	growRate, growMax int
	// out receives a line when the growth stops at growMax; nil discards.
	out io.Writer
}

// bytesPerLeakedSession is the heap a leaked session costs in the session
// table (measured after GC: key, value and the table's slot), for the
// estimate -h prints next to -grow-max.
const bytesPerLeakedSession = 113

// defaultGrowMax is -grow-max's default: 500,000 leaked sessions, about
// 56 MB, reached after 500 s at the default -grow-rate (within the
// default -duration), long enough for MapguardMapGrowthHigh to fire (it
// needs 2 minutes of growth).
const defaultGrowMax = 500_000

// load runs the demo's traffic until ctx is done: session churn (logins
// and logouts over a bounded set of IDs), config reads, and an export job
// that ranges over the sessions every second; with o.grow, the leak.
func (d *demo) load(ctx context.Context, o loadOptions) {
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
	if o.grow {
		wg.Go(func() {
			const tick = 100 * time.Millisecond
			per := max(1, o.growRate/10)
			for next := 0; ctx.Err() == nil; {
				for range min(per, o.growMax-next) {
					d.sessions.Store("leak-"+strconv.Itoa(next), session{User: "leak", Created: time.Now()})
					next++
				}
				if next >= o.growMax {
					if o.out != nil {
						fmt.Fprintf(o.out, "mapguard demo: -grow stopped at -grow-max, %d leaked sessions (about %d MB)\n",
							next, next*bytesPerLeakedSession/1_000_000)
					}
					return
				}
				sleepCtx(ctx, tick)
			}
		})
	}
	wg.Wait()
}

// parentPollInterval is how often the demo checks whether the process
// that started it is gone: a quarter second stops an orphaned demo
// promptly at the cost of one getppid call.
const parentPollInterval = 250 * time.Millisecond

// errParentExited is the demo's stop cause when the process that started
// it exits.
var errParentExited = errors.New("the process that started the demo exited")

// watchParent cancels ctx with errParentExited when the demo's parent
// process exits, which shows as the demo being re-parented (its parent
// PID changes). `go run` starts the demo as a child: killing go run's PID
// would otherwise leave the demo serving, and with -grow leaking.
// ppid is the parent PID read when the demo started, before it served
// anything: read later, in this goroutine, it could already be the new
// parent of a demo whose parent died meanwhile. A demo started by init
// (parent PID 1) has no parent to watch.
func watchParent(ctx context.Context, cancel context.CancelCauseFunc, ppid int) {
	if ppid <= 1 {
		return
	}
	t := time.NewTicker(parentPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != ppid {
				cancel(errParentExited)
				return
			}
		}
	}
}

// lockedWriter serialises writes to w: the demo's goroutines share stdout.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// isLoopback says whether the host of addr (host:port) is a loopback
// address or localhost.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback()), nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ppid := os.Getppid() // first, before anything can be served
	fs := flag.NewFlagSet("mapguard demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address of the service and /metrics: loopback unless told otherwise (0.0.0.0:8080 for every interface); port 0 picks a free one")
	pprofAddr := fs.String("pprof-addr", "", "loopback listen address of /debug/pprof/ (default: -addr when it is loopback, else 127.0.0.1 on a free port)")
	duration := fs.Duration("duration", 10*time.Minute, "stop after this long")
	load := fs.Bool("load", false, "generate traffic: session churn, config reads, a periodic export")
	grow := fs.Bool("grow", false, "with -load, also leak new sessions (growth the alert rules catch), up to -grow-max")
	growRate := fs.Int("grow-rate", 1000, "sessions leaked per second with -grow")
	growMax := fs.Int("grow-max", defaultGrowMax, fmt.Sprintf("with -grow, stop leaking after this many sessions (about %d bytes each: %d MB at the default)",
		bytesPerLeakedSession, defaultGrowMax*bytesPerLeakedSession/1_000_000))
	withParent := fs.Bool("exit-with-parent", true, "stop when the process that started the demo (go run, a shell) exits")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mapguard demo [flags]\n\n"+
			"Serves a small session service with instrumented maps: /metrics, /debug/pprof,\n"+
			"/sessions/{id} (GET, PUT, DELETE), /sessions (an export that ranges), /config/{key}.\n"+
			"It stops on Ctrl-C, after -duration, and when the process that started it\n"+
			"exits (so killing go run's PID stops the demo too).\n\nflags:\n")
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
	if *duration <= 0 {
		return usagef("-duration must be positive, got %v", *duration)
	}
	if *growRate < 1 {
		return usagef("-grow-rate must be positive, got %d", *growRate)
	}
	if *growMax < 1 {
		return usagef("-grow-max must be positive, got %d", *growMax)
	}
	if *grow && !*load {
		return usagef("-grow needs -load")
	}
	loopback, err := isLoopback(*addr)
	if err != nil {
		return usagef("-addr: %v", err)
	}
	if *pprofAddr != "" {
		if lo, err := isLoopback(*pprofAddr); err != nil || !lo {
			return usagef("-pprof-addr must be a loopback address, got %q: profiles and the command line are not for the network", *pprofAddr)
		}
	} else if !loopback {
		*pprofAddr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	out := &lockedWriter{w: stdout}
	d := newDemo()
	srv := &http.Server{Handler: d.handler(*pprofAddr == ""), ReadHeaderTimeout: 5 * time.Second}
	reach := "loopback only; -addr 0.0.0.0:8080 serves every interface"
	if !loopback {
		reach = "reachable from other machines"
	}
	profiles := "profiles at /debug/pprof/"
	var pprofSrv *http.Server
	if *pprofAddr != "" {
		pln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("demo: -pprof-addr: %w", err)
		}
		pprofSrv = &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 5 * time.Second}
		go pprofSrv.Serve(pln)
		defer pprofSrv.Close()
		profiles = fmt.Sprintf("profiles only on loopback at http://%s/debug/pprof/", pln.Addr())
	}
	fmt.Fprintf(out, "mapguard demo listening on http://%s (%s): metrics at /metrics, %s; stops after %v or on Ctrl-C\n",
		ln.Addr(), reach, profiles, *duration)

	errDuration := fmt.Errorf("-duration %v elapsed", *duration)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, *duration, errDuration)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	if *load {
		wg.Go(func() { d.load(ctx, loadOptions{grow: *grow, growRate: *growRate, growMax: *growMax, out: out}) })
	}
	if *withParent {
		wg.Go(func() { watchParent(ctx, cancel, ppid) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		cancel(err)
		wg.Wait()
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "mapguard demo: stopping: %v\n", context.Cause(ctx))
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	err = srv.Shutdown(shutdownCtx)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

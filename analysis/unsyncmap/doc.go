// Package unsyncmap defines an Analyzer that reports a builtin map written
// by a goroutine and read by the function that started it, with nothing
// ordering the two, and maps written with no lock by code that runs
// concurrently with itself: net/http handlers, Prometheus collectors, and
// goroutines started in a loop.
//
// # Analyzer unsyncmap
//
// unsyncmap: report builtin maps shared with a goroutine without synchronization
//
// The runtime aborts the program with "fatal error: concurrent map read
// and map write" (or "concurrent map iteration and map write") when it
// catches this; the race detector only when a test happens to run it.
//
// Wrong:
//
//	results := map[string]int{}
//	go func() {
//		for _, u := range urls {
//			results[u] = fetch(u)
//		}
//	}()
//	for u, n := range results { // races with the goroutine's writes
//		fmt.Println(u, n)
//	}
//
// Right: wait for the goroutine (a sync.WaitGroup, a channel receive)
// before reading, guard both sides with a mutex, or use sync.Map or a
// mapguard map.
//
// The same with the map in a struct field, the shape real crashes have
// (dedis/onet's Monitor.Listen, issue 197):
//
// Wrong:
//
//	func (m *Monitor) Listen(ln net.Listener) {
//		go func() {
//			for {
//				conn, _ := ln.Accept()
//				m.conns[conn.RemoteAddr().String()] = conn
//				go m.handle(conn) // sends on m.done when it ends
//			}
//		}()
//		for peer := range m.done { // fed by the handlers, not the accept loop
//			delete(m.conns, peer)
//			if len(m.conns) == 0 { // races with the accept loop's writes
//				return
//			}
//		}
//	}
//
// Right: a mutex in the struct, held by both sides.
//
//	m.mu.Lock()
//	m.conns[conn.RemoteAddr().String()] = conn
//	m.mu.Unlock()
//	...
//	m.mu.Lock()
//	delete(m.conns, peer)
//	n := len(m.conns)
//	m.mu.Unlock()
//
// The analyzer looks at a go statement whose function is a literal (or a
// function of the same package it calls directly), finds the maps that
// function writes (index assignment, delete, clear) which outlive it, and
// the package-level maps written by same-package functions it calls, and
// reports reads of them (index, range, len) later in the function that
// started the goroutine. It stays quiet when a mutex is locked in the
// goroutine or before the read, and when a channel receive, a select, or a
// Wait call comes between the go statement and the read.
//
// Map struct fields are followed too: for go obj.method(args),
// go worker(obj, args) and go func() { ... }(), the analyzer collects the
// fields obj.f the started code writes (index assignment, ++, delete,
// clear), directly or one call deeper through a same-package function or
// method it passes obj to (two for a literal, whose own calls count as
// the first), and reports index reads, ranges and len of obj.f later in
// the starter, and calls of same-package methods or functions that read
// obj.f. A go statement inside a range over obj.f whose goroutine writes
// obj.f (a worker pool deleting the jobs it is handed) is reported at the
// range, unless the loop body waits for the goroutine before the next
// iteration; so is a go statement in a loop whose goroutine writes a
// field of a variable declared outside the loop (the goroutines of
// successive iterations write it at once). Either side taking any lock
// silences it (a mutex-guarded field
// is the lockset analyzer's business). A Wait call or a lock in the
// starter orders the writes; a channel receive or select does so only
// when the goroutine's own code (not a goroutine it starts) sends,
// closes a channel, or calls Done.
//
// # Concurrency with no go statement in sight
//
// net/http runs a handler once per request, at once; a Prometheus
// registry calls a collector on every scrape, and scrapes overlap. A map
// such code writes with no lock, through its receiver or a package-level
// variable, is written by two calls at once (hacdias/webdav issue 84,
// node_exporter issue 3064, marathon_exporter issue 24):
//
// Wrong:
//
//	type netClassCollector struct {
//		metricDescs map[string]*prometheus.Desc
//	}
//
//	func (c *netClassCollector) Update(ch chan<- prometheus.Metric) error {
//		for _, iface := range ifaces {
//			pushMetric(ch, c.getFieldDesc("carrier"), iface.Carrier)
//		}
//		return nil
//	}
//
//	func (c *netClassCollector) getFieldDesc(name string) *prometheus.Desc {
//		d, ok := c.metricDescs[name]
//		if !ok {
//			d = prometheus.NewDesc(name, "", nil, nil)
//			c.metricDescs[name] = d // two scrapes write at once
//		}
//		return d
//	}
//
// Right: hold a mutex over the get-or-create.
//
//	func (c *netClassCollector) getFieldDesc(name string) *prometheus.Desc {
//		c.metricDescsMu.Lock()
//		defer c.metricDescsMu.Unlock()
//		...
//	}
//
// The roots are: a ServeHTTP(http.ResponseWriter, *http.Request) method;
// any function, method value or literal of type
// func(http.ResponseWriter, *http.Request) passed as an argument
// (http.HandleFunc, mux.HandleFunc, http.HandlerFunc(...)); and any
// method with a chan<- Metric parameter (Collect, and the Update methods
// node_exporter's Collect calls), matched by name so that no client
// library is imported. The same goes for a go statement in a loop whose
// goroutine writes a package-level map, or a map reached from a variable
// declared outside the loop (cache.get(k) from per-item goroutines,
// CheerlessCloud/cexporter issue 2, gostor/gotgt pull 104).
//
// Two more shapes. Two goroutines one function
// starts (go statements, or WaitGroup.Go with a literal) that both write
// the same map of the starter's, with no wait between their starts, are
// reported at the second (dkorunic/pktstat issue 2: a counting goroutine
// and an interval printer that writes bitrates back into the same map).
// And when a method's goroutine writes a receiver map field with no
// lock, the exported methods of the same type that read that field with
// no lock (directly or one same-package call deeper) are reported at the
// read (Start fills t.peers, Peers ranges it). A map, or a pointer to a
// struct holding one, sent on a channel and then written by the sender
// (directly or through same-package calls, with no lock) is reported at
// the write, unless the variable is reassigned, or the sender receives,
// selects or calls Wait, first.
//
// For roots, loops and sibling goroutines the writes are found through
// summaries: each same-package
// function's map writes through its receiver, parameters and
// package-level variables, along chains of fields (obj.a.f), mapped onto
// the arguments at each call, to any depth. A write counts as locked when
// a Lock or RLock comes before it in its function, or before the call
// that reaches it, with no Unlock between (a deferred Unlock, or one that
// ends an early-return branch, does not release); locked writes are left
// to lockset.
//
// It does not follow interface or function-value calls, callees in other
// packages, maps reached through a map element or a slice, reads (a
// handler that only reads while another writes is not reported),
// goroutines started by a root, roots other than the ones named above,
// readers outside the starter other than the exported methods above, or
// a sent map written in a later loop iteration; those need the race
// detector.
package unsyncmap

// Package unsyncmap defines an Analyzer that reports a builtin map written
// by a goroutine and read by the function that started it, with nothing
// ordering the two.
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
// It does not follow maps through pointers other than obj.f, fields of
// fields (obj.a.f), goroutines started in other packages or more than
// the calls above deep, reads in functions other than the starter (HTTP
// handlers, callbacks, goroutines started elsewhere); those need the race
// detector.
package unsyncmap

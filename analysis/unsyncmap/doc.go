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
// The analyzer looks at a go statement whose function is a literal (or a
// function of the same package it calls directly), finds the maps that
// function writes (index assignment, delete, clear) which outlive it, and
// the package-level maps written by same-package functions it calls, and
// reports reads of them (index, range, len) later in the function that
// started the goroutine. It stays quiet when a mutex is locked in the
// goroutine or before the read, and when a channel receive, a select, or a
// Wait call comes between the go statement and the read. It does not
// follow maps through struct fields, pointers, other goroutines or other
// functions' reads; those need the race detector.
package unsyncmap

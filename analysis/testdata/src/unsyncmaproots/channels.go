package unsyncmaproots

import "sync"

type batch struct {
	seq   int
	items map[string]int
}

// The batch is sent and then still written.
func produce(out chan<- *batch, keys []string) {
	b := &batch{items: map[string]int{}}
	out <- b
	for _, k := range keys {
		b.items[k]++ // want `write of b's map after b was sent on a channel at line \d+`
	}
}

// A map sent, then written by a helper.
func produceMap(out chan<- map[string]int) {
	m := map[string]int{}
	out <- m
	fill(m) // want `write of m's map after m was sent on a channel`
}

func fill(m map[string]int) { m["x"] = 1 }

// --- silent ---

// A fresh map after each send.
func produceFresh(out chan<- map[string]int, keys []string) {
	m := map[string]int{}
	for _, k := range keys {
		m[k]++
		if len(m) > 10 {
			out <- m
			m = map[string]int{}
		}
	}
}

// Written before the send only.
func produceOnce(out chan<- *batch) {
	b := &batch{items: map[string]int{}}
	b.items["a"] = 1
	out <- b
}

// Waits for the receiver to hand it back first.
func roundTrip(out chan<- map[string]int, back <-chan struct{}) {
	m := map[string]int{}
	out <- m
	<-back
	m["again"] = 1
}

// A struct value without maps.
type point struct{ x, y int }

func sendPoint(out chan<- *point) {
	p := &point{}
	out <- p
	p.x = 1
}

// Writes a map of another variable after sending.
func sendOther(out chan<- *batch) {
	b := &batch{items: map[string]int{}}
	seen := map[string]bool{}
	out <- b
	seen["b"] = true
}

// The write after the send takes a lock the receiver shares.
type lockedBatch struct {
	mu    sync.Mutex
	items map[string]int
}

func (l *lockedBatch) add(k string) {
	l.mu.Lock()
	l.items[k]++
	l.mu.Unlock()
}

func produceLocked(out chan<- *lockedBatch) {
	b := &lockedBatch{items: map[string]int{}}
	out <- b
	b.add("x")
}

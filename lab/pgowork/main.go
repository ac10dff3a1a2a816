// Command pgowork is the map-heavy program that lab claim 14 builds with
// and without profile-guided optimization: a session table in a
// mapguard.Map with string keys (looked up, refreshed, created, expired)
// and a builtin map of per-route counters, driven by one goroutine so that
// its time per operation varies little from run to run. It prints
// "ns/op N"; -cpuprofile writes the CPU profile a PGO build takes.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/mapguard/mapguard"
)

type session struct {
	user     uint64
	route    string
	hits     int
	lastSeen int64
}

func main() {
	ops := flag.Int("ops", 5_000_000, "operations to run")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *ops < 1 {
		fmt.Fprintln(os.Stderr, "pgowork: -ops must be positive")
		os.Exit(2)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgowork:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "pgowork:", err)
				os.Exit(1)
			}
		}()
	}
	const live = 1 << 12
	keys := make([]string, 4*live)
	for i := range keys {
		keys[i] = "session-" + strconv.Itoa(i)
	}
	routes := []string{"/", "/login", "/cart", "/search", "/item", "/checkout", "/api/v1/user", "/api/v1/feed"}
	sessions := mapguard.NewMap[string, *session]()
	for i := range live {
		sessions.Store(keys[i], &session{user: uint64(i), route: routes[i%len(routes)]})
	}
	counts := map[string]int{}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for i := range *ops {
		k := keys[r.IntN(len(keys))]
		switch op := r.IntN(100); {
		case op < 80: // a request: look the session up, count its route
			if s, ok := sessions.Load(k); ok {
				s.hits++
				s.lastSeen = int64(i)
				counts[s.route]++
			}
		case op < 90: // a login: create the session unless present
			sessions.LoadOrStore(k, &session{user: uint64(i), route: routes[i%len(routes)]})
		case op < 95: // a refresh
			sessions.Store(k, &session{user: uint64(i), route: routes[op%len(routes)], lastSeen: int64(i)})
		default: // an expiry
			sessions.Delete(k)
		}
	}
	elapsed := time.Since(start)
	total := 0
	for _, c := range counts {
		total += c
	}
	fmt.Printf("ns/op %.3f\nrequests %d\n", float64(elapsed.Nanoseconds())/float64(*ops), total)
}

package unsyncmapreal

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// dkorunic/pktstat, main.go and output.go at b48facd (v1.x, Sept 2025):
// main starts wg.Go(func) which counts every captured packet into the
// local statMap, and, with --interval, a go func that every interval
// calls outputStats(startTime, statMap, ...) -> outputPlain ->
// calcBitrate, which ranges over statMap and writes each entry back with
// its bitrate, two calls below the goroutine: fatal error: concurrent
// map read and map write at main.outputPlain output.go:58 (goroutine
// created by main.main main.go:145),
// https://github.com/dkorunic/pktstat/issues/2. The fix (fd7401e, "Fix
// varous smaller races") adds statMapLock, held by the counting
// goroutine and around every outputStats call (pktstatMainFixed below).

type statKey struct {
	SrcIP, DstIP     string
	SrcPort, DstPort uint16
}

type statEntry struct {
	Size    uint64
	Packets uint64
	Bitrate float64
}

// StatMap is pktstat's per-flow table.
type StatMap map[statKey]statEntry

type statChKey struct {
	key  statKey
	size uint64
}

func calcBitrate(statMap StatMap, dur float64) []statKey {
	keySlice := make([]statKey, 0, len(statMap))
	for k, v := range statMap {
		v.Bitrate = 8 * float64(v.Size) / dur
		keySlice = append(keySlice, k)
		statMap[k] = v
	}
	sort.Slice(keySlice, func(i, j int) bool {
		return statMap[keySlice[i]].Bitrate > statMap[keySlice[j]].Bitrate
	})
	return keySlice
}

func outputPlain(startTime time.Time, statMap StatMap, totalPackets, totalBytes uint64) {
	dur := time.Since(startTime).Seconds()
	keySlice := calcBitrate(statMap, dur)
	for _, k := range keySlice {
		fmt.Printf("bitrate: %v, packets: %d, bytes: %d\n", statMap[k].Bitrate, statMap[k].Packets, statMap[k].Size)
	}
}

func outputStats(startTime time.Time, statMap StatMap, totalPackets uint64, totalBytes uint64) {
	outputPlain(startTime, statMap, totalPackets, totalBytes)
}

func runCapture(ctx context.Context, statCh chan<- statChKey, totalBytes, totalPackets *uint64) {}

func pktstatMain(interval time.Duration) {
	statMap := make(StatMap, 8192)
	c1, cancel := context.WithCancel(context.Background())
	defer cancel()
	statCh := make(chan statChKey, 2048)
	startTime := time.Now()
	totalBytes := uint64(0)
	totalPackets := uint64(0)

	var wg sync.WaitGroup

	wg.Go(func() {
		for k := range statCh {
			v, ok := statMap[k.key]
			if !ok {
				v = statEntry{}
			}
			v.Size += k.size
			v.Packets++
			statMap[k.key] = v
		}
	})

	go func(ctx context.Context) {
		runCapture(ctx, statCh, &totalBytes, &totalPackets)
	}(c1)

	if interval > 0 {
		go func(ctx context.Context) { // want `this goroutine writes statMap \(line \d+\) with no lock, and so does the goroutine started at line \d+`
			for {
				select {
				case <-ctx.Done():
					return
				default:
					time.Sleep(interval)
					outputStats(startTime, statMap, totalPackets, totalBytes)
				}
			}
		}(c1)
	}

	wg.Wait()

	outputStats(startTime, statMap, totalPackets, totalBytes)
}

func pktstatMainFixed(interval time.Duration) {
	statMap := make(StatMap, 131072)
	statMapLock := sync.Mutex{}
	c1, cancel := context.WithCancel(context.Background())
	defer cancel()
	statCh := make(chan statChKey, 8192)
	startTime := time.Now()
	totalBytes := uint64(0)
	totalPackets := uint64(0)

	var wg sync.WaitGroup

	wg.Go(func() {
		for k := range statCh {
			statMapLock.Lock()
			v, ok := statMap[k.key]
			if !ok {
				v = statEntry{}
			}
			v.Size += k.size
			v.Packets++
			statMap[k.key] = v
			statMapLock.Unlock()
		}
	})

	wg.Go(func() {
		runCapture(c1, statCh, &totalBytes, &totalPackets)
	})

	if interval > 0 {
		go func(ctx context.Context) {
			for {
				select {
				case <-ctx.Done():
					return
				default:
					time.Sleep(interval)
					statMapLock.Lock()
					outputStats(startTime, statMap, totalPackets, totalBytes)
					statMapLock.Unlock()
				}
			}
		}(c1)
	}

	wg.Wait()

	statMapLock.Lock()
	outputStats(startTime, statMap, totalPackets, totalBytes)
	statMapLock.Unlock()
}

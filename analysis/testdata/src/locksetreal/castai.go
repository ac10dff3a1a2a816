package locksetreal

import (
	"fmt"
	"sync"
	"time"
)

// castai/k8s-agent, internal/services/controller/delta: writes to the
// delta cache under a read lock, fixed by
// https://github.com/castai/k8s-agent/pull/233 ("acquire explicit lock
// when saving delta events to map": "When using RLock for write
// operations, we allow for race conditions which might mess up the
// entire map"). PR 224 had introduced the double-buffered cache
// (cacheActive/cacheSpare swapped by SnapshotAndReset under the write
// lock) and Add, called by every informer's event handler goroutine,
// took only RLock so as not to block behind a snapshot. Reproduced from
// the two PRs' descriptions and the SnapshotAndReset diff in PR 224.

type EventType string

const (
	EventAdd    EventType = "add"
	EventUpdate EventType = "update"
	EventDelete EventType = "delete"
)

type Item struct {
	Namespace, Name string
	event           EventType
	kind            string
	receivedAt      time.Time
}

type gauge struct{ v float64 }

func (g *gauge) Set(v float64) { g.v = v }

var cacheSize gauge

func itemCacheKey(i *Item) string {
	return fmt.Sprintf("%s::%s/%s", i.kind, i.Namespace, i.Name)
}

type Delta struct {
	clusterID    string
	FullSnapshot bool
	cacheLock    sync.RWMutex
	cacheActive  map[string]*Item
	cacheSpare   map[string]*Item
}

func NewDelta(clusterID string) *Delta {
	return &Delta{clusterID: clusterID, FullSnapshot: true, cacheActive: map[string]*Item{}, cacheSpare: map[string]*Item{}}
}

// Add will add an Item to the Delta Cache. It will debounce the objects.
func (d *Delta) Add(i *Item) {
	d.cacheLock.RLock()
	defer d.cacheLock.RUnlock()
	key := itemCacheKey(i)
	if other, ok := d.cacheActive[key]; ok && other.event == EventAdd && i.event == EventUpdate {
		i.event = EventAdd
		d.cacheActive[key] = i // want `write to d.cacheActive under d.cacheLock.RLock only`
	} else if ok && other.event == EventDelete && (i.event == EventAdd || i.event == EventUpdate) {
		i.event = EventUpdate
		d.cacheActive[key] = i // want `write to d.cacheActive under d.cacheLock.RLock only`
	} else {
		d.cacheActive[key] = i // want `write to d.cacheActive under d.cacheLock.RLock only`
	}
	cacheSize.Set(float64(len(d.cacheActive)))
}

// SnapshotAndReset swaps the buffers and returns the collected items.
func (d *Delta) SnapshotAndReset() []*Item {
	d.cacheLock.Lock()
	cache := d.cacheActive
	d.cacheActive = d.cacheSpare
	clear(d.cacheActive)
	d.cacheSpare = cache
	cacheSize.Set(0)
	d.cacheLock.Unlock()
	var items []*Item
	for _, i := range cache {
		items = append(items, i)
	}
	return items
}

// DeltaFixed is the same type after PR 233: Add takes the write lock.
type DeltaFixed struct {
	clusterID    string
	FullSnapshot bool
	cacheLock    sync.RWMutex
	cacheActive  map[string]*Item
	cacheSpare   map[string]*Item
}

func (d *DeltaFixed) Add(i *Item) {
	d.cacheLock.Lock()
	defer d.cacheLock.Unlock()
	key := itemCacheKey(i)
	if other, ok := d.cacheActive[key]; ok && other.event == EventAdd && i.event == EventUpdate {
		i.event = EventAdd
		d.cacheActive[key] = i
	} else if ok && other.event == EventDelete && (i.event == EventAdd || i.event == EventUpdate) {
		i.event = EventUpdate
		d.cacheActive[key] = i
	} else {
		d.cacheActive[key] = i
	}
	cacheSize.Set(float64(len(d.cacheActive)))
}

func (d *DeltaFixed) SnapshotAndReset() []*Item {
	d.cacheLock.Lock()
	cache := d.cacheActive
	d.cacheActive = d.cacheSpare
	clear(d.cacheActive)
	d.cacheSpare = cache
	cacheSize.Set(0)
	d.cacheLock.Unlock()
	var items []*Item
	for _, i := range cache {
		items = append(items, i)
	}
	return items
}

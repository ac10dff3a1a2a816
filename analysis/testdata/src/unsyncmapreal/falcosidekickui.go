package unsyncmapreal

import (
	"encoding/json"
	"net/http"
	"sync"
)

// falcosecurity/falcosidekick-ui, main.go at 84d335d^: mainHandler,
// registered with http.HandleFunc("/", ...), stores each posted event's
// stats in the package-level store.statsByUUID and ranges over it to
// sum them. The handler goroutines of concurrent POSTs crashed with
// "fatal error: concurrent map writes" and "concurrent map iteration and
// map write": https://github.com/falcosecurity/falcosidekick-ui/pull/17.
// The fix (84d335d) guards store with a package-level RWMutex
// (mainHandlerFixed below).

type falcoPayload struct {
	Output   string `json:"output"`
	Priority string `json:"priority"`
}

type eventPayload struct {
	UUID    string           `json:"uuid,omitempty"`
	Event   falcoPayload     `json:"event,omitempty"`
	Stats   map[string]int64 `json:"stats,omitempty"`
	Outputs []string         `json:"outputs,omitempty"`
}

type eventStore struct {
	statsByUUID map[string]map[string]int64
	Events      []falcoPayload   `json:"events,omitempty"`
	Stats       map[string]int64 `json:"stats,omitempty"`
	Outputs     []string         `json:"outputs,omitempty"`
}

var (
	broadcast chan eventStore
	store     eventStore
	retention int
)

func falcoMain() {
	http.HandleFunc("/", mainHandler)
	http.HandleFunc("/fixed", mainHandlerFixed)
	http.ListenAndServe(":2802", nil)
}

func mainHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Please send with post http method", http.StatusBadRequest)
		return
	}
	d := json.NewDecoder(r.Body)
	d.UseNumber()
	var e eventPayload
	if err := d.Decode(&e); err != nil {
		http.Error(w, "Please send a valid request body", http.StatusBadRequest)
		return
	}
	store.Outputs = e.Outputs
	if len(store.Events) >= retention {
		store.Events = append(store.Events[1:len(store.Events)-1], e.Event)
	} else {
		store.Events = append(store.Events, e.Event)
	}
	store.statsByUUID[e.UUID] = e.Stats // want `handler mainHandler writes store.statsByUUID with no lock held`
	temp := make(map[string]int64)
	for _, i := range store.statsByUUID {
		for j, k := range i {
			temp[j] += k
		}
	}
	store.Stats = temp
	broadcast <- store
}

var mutex *sync.RWMutex

func mainHandlerFixed(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Please send with post http method", http.StatusBadRequest)
		return
	}
	d := json.NewDecoder(r.Body)
	d.UseNumber()
	var e eventPayload
	if err := d.Decode(&e); err != nil {
		http.Error(w, "Please send a valid request body", http.StatusBadRequest)
		return
	}
	mutex.Lock()
	store.Outputs = e.Outputs
	if len(store.Events) >= retention {
		store.Events = append(store.Events[1:len(store.Events)-1], e.Event)
	} else {
		store.Events = append(store.Events, e.Event)
	}
	store.statsByUUID[e.UUID] = e.Stats
	mutex.Unlock()
	temp := make(map[string]int64)
	mutex.RLock()
	for _, i := range store.statsByUUID {
		for j, k := range i {
			temp[j] += k
		}
	}
	mutex.RUnlock()
	mutex.Lock()
	store.Stats = temp
	mutex.Unlock()
	broadcast <- store
}

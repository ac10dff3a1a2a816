package checkthenactfill

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cmap "github.com/orcaman/concurrent-map/v2"
)

// A presence check, then a Delete: the value the Load returned is never
// looked at, and deleting is idempotent, so nothing is lost. The shape of
// nats-server's Server.updateAccountClaimsWithRefresh (accounts.go),
// written here: a Delete gated on presence and a flag, and the same check
// again inside a Range callback.

type acctServer struct {
	incomplete sync.Map // account name -> struct{}
	accounts   sync.Map // account name -> *acct
}

type acct struct{ name string }

func (s *acctServer) refresh(name string, importing bool) {
	if _, ok := s.incomplete.Load(name); ok && importing {
		s.incomplete.Delete(name)
		s.accounts.Range(func(_, v any) bool {
			a := v.(*acct)
			if a.name != name {
				if _, ok := s.incomplete.Load(name); ok {
					s.incomplete.Delete(name)
				}
			}
			return true
		})
	}
}

func presenceSwitch(m *sync.Map, k string) {
	switch _, loaded := m.Load(k); {
	case loaded:
		m.Delete(k)
	}
}

// A cache fill on a miss: the value stored is a bool computed from the
// key (and the connection's own permission lists), not from the loaded
// value, which is looked at only on the path that returns. Racing
// fillers store the same bool. The shape of nats-server's
// client.pubAllowedFullCheck and its pruning (client.go), written here.

type pubPerms struct {
	allow, deny []string
	pcache      sync.Map // subject -> bool
	pcsz        int32
	prun        int32
}

type permClient struct{ perms *pubPerms }

func (c *permClient) pubAllowed(subject string) bool {
	v, ok := c.perms.pcache.Load(subject)
	if ok {
		return v.(bool)
	}
	allowed := len(c.perms.allow) == 0
	for _, p := range c.perms.allow {
		if strings.HasPrefix(subject, p) {
			allowed = true
		}
	}
	for _, p := range c.perms.deny {
		if allowed && strings.HasPrefix(subject, p) {
			allowed = false
		}
	}
	c.perms.pcache.Store(subject, allowed)
	if atomic.AddInt32(&c.perms.pcsz, 1) > 128 {
		c.prune()
	}
	return allowed
}

func (c *permClient) prune() {
	if !atomic.CompareAndSwapInt32(&c.perms.prun, 0, 1) {
		return
	}
	n := int32(0)
	c.perms.pcache.Range(func(k, _ any) bool {
		c.perms.pcache.Delete(k)
		n++
		return n < 64
	})
	atomic.AddInt32(&c.perms.pcsz, -n)
	atomic.StoreInt32(&c.perms.prun, 0)
}

// A package-level memo of a pure function of the key: every write is a
// fill (or a LoadOrStore of the same value).
var canonical sync.Map // string -> string

func canon(s string) string {
	if v, ok := canonical.Load(s); ok {
		return v.(string)
	}
	c := strings.ToLower(strings.TrimSpace(s))
	canonical.Store(s, c)
	return c
}

func canonPreload(s string) {
	canonical.LoadOrStore(s, strings.ToLower(strings.TrimSpace(s)))
}

// Positives: the value is looked at, has an identity, or another writer
// keeps state in the entry.

// The shape of nats-server's getCachedRetainedMsg (mqtt.go): the loaded
// entry is found expired and deleted, but a fresh entry stored in
// between is deleted instead.

type retained struct{ expires time.Time }

type retainedCache struct{ byTopic sync.Map }

func (rc *retainedCache) get(topic string) *retained {
	v, ok := rc.byTopic.Load(topic)
	if !ok {
		return nil
	}
	r := v.(*retained)
	if r.expires.Before(time.Now()) {
		rc.byTopic.Delete(topic) // want `Delete of rc.byTopic after a Load of the same key at line 128`
		return nil
	}
	return r
}

// A reply taken out of the map and then used: two deliveries of the same
// reply both take the channel (LoadAndDelete says which one got it).
type replies struct{ pending sync.Map }

func (r *replies) deliver(subject string, msg []byte) {
	chi, ok := r.pending.Load(subject)
	if !ok {
		return
	}
	r.pending.Delete(subject) // want `Delete of r.pending after a Load of the same key at line 145`
	chi.(chan []byte) <- msg
}

// A fresh pointer stored on a miss (go-zero's TokenParser.incrementCount
// shape): a racing filler's counter replaces this one, and the
// increments made through the first are lost.
type tokenCounts struct{ history sync.Map }

func (tc *tokenCounts) increment(secret string) {
	if v, ok := tc.history.Load(secret); ok {
		atomic.AddUint64(v.(*uint64), 1)
	} else {
		var n uint64 = 1
		tc.history.Store(secret, &n) // want `Store of tc.history after a Load of the same key at line 159`
	}
}

// A number computed from the loaded value on one path.
type hits struct{ byPath sync.Map }

func (h *hits) add(path string) {
	n := 0
	if v, ok := h.byPath.Load(path); ok {
		n = v.(int)
	}
	h.byPath.Store(path, n+1) // want `Store of h.byPath after a Load of the same key at line 172`
}

// A constant initial value into a map another writer updates from what
// is there (under a lock the fill does not take): the fill can reset a
// count.
type quotas struct {
	mu   sync.Mutex
	used sync.Map // user -> int
}

func (q *quotas) start(user string) {
	if _, ok := q.used.Load(user); !ok {
		q.used.Store(user, 0) // want `Store of q.used after a Load of the same key at line 187`
	}
}

func (q *quotas) charge(user string, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, _ := q.used.Load(user)
	c, _ := v.(int)
	q.used.Store(user, c+n)
}

// A map with a CompareAndSwap writer: its entries carry state a fill
// can overwrite.
type leases struct{ owner sync.Map }

func (l *leases) claim(id string) {
	if _, ok := l.owner.Load(id); !ok {
		l.owner.Store(id, "free") // want `Store of l.owner after a Load of the same key at line 205`
	}
}

func (l *leases) take(id, who string) bool {
	return l.owner.CompareAndSwap(id, "free", who)
}

// An exported field: writers in other packages are not seen.
type Registry struct{ Seen sync.Map }

func (r *Registry) Mark(id string) {
	if _, ok := r.Seen.Load(id); !ok {
		r.Seen.Store(id, true) // want `Store of r.Seen after a Load of the same key at line 218`
	}
}

// The map handed out: a writer elsewhere may not be a fill.
var shared sync.Map

func sharedMap() *sync.Map { return &shared }

func markShared(id string) {
	if _, ok := shared.Load(id); !ok {
		shared.Store(id, true) // want `Store of shared after a Load of the same key at line 229`
	}
}

// A generic type's field: every instance shares the field's writers, and
// an instance's Store of a value computed from what was loaded makes
// the fill in another method unsafe.
type memo[K comparable] struct{ seen sync.Map }

func (m *memo[K]) mark(k K) {
	if _, ok := m.seen.Load(k); !ok {
		m.seen.Store(k, 1) // want `Store of m.seen after a Load of the same key at line 240`
	}
}

func (m *memo[K]) bump(k K) {
	v, _ := m.seen.Load(k)
	n, _ := v.(int)
	m.seen.Store(k, n+1) // want `Store of m.seen after a Load of the same key`
}

func useMemo() {
	var a memo[string]
	a.mark("x")
	a.bump("x")
}

// A generic type whose field only ever gets fills.
type flags[K comparable] struct{ on sync.Map }

func (f *flags[K]) enabled(k K, def func(K) bool) bool {
	if v, ok := f.on.Load(k); ok {
		return v.(bool)
	}
	b := def(k)
	f.on.Store(k, b)
	return b
}

func (f *flags[K]) reset(k K) { f.on.Delete(k) }

// More presence checks then Deletes, and fills, that lose nothing.

var subjects sync.Map // string -> struct{}

func dropAll(keys []string, logf func(string, ...any)) {
	for _, k := range keys {
		if _, loaded := subjects.Load(k); loaded {
			subjects.Delete(k)
			logf("dropped %s", k)
		}
	}
}

func removeCmap(m cmap.ConcurrentMap[string, int], k string) {
	if _, ok := m.Get(k); ok {
		m.Remove(k)
	}
}

// kinds is filled with a constant for unknown names and with a name
// computed from the key otherwise; it is cleared on reload.
var kinds sync.Map // string -> string

func kindOf(name string) string {
	if v, ok := kinds.Load(name); ok {
		return v.(string)
	}
	if !strings.Contains(name, ".") {
		kinds.Store(name, "unknown")
		return "unknown"
	}
	k := name[:strings.Index(name, ".")]
	kinds.Store(name, k)
	return k
}

func reloadKinds() { kinds.Clear() }

type widths struct{ byKey sync.Map } // string -> int

func (w *widths) of(k string) int {
	switch v, ok := w.byKey.Load(k); {
	case ok:
		return v.(int)
	}
	n := len(strings.Fields(k))
	w.byKey.Store(k, n)
	return n
}

func (w *widths) known(k string) {
	if _, ok := w.byKey.Load(k); ok {
		return
	}
	w.byKey.Store(k, len(k))
}

package checkthenact

import "sync"

// nats-server at commit 1787eee035cf0253c201fa0f05afad92b6f296dc
// (server/gateway.go), reduced: an outbound gateway connection keeps
// per-account interest in c.gw.outsim, a sync.Map read by the routing
// code of other connections and written by the connection's own read
// loop, whose handlers say so in their doc comments.

type natsOutsie struct {
	mu    sync.Mutex
	qsubs int
}

type natsGateway struct { // the connection's gateway part: no lock of its own
	name   string
	outsim *sync.Map
}

type natsServer struct {
	mu       sync.Mutex
	accounts sync.Map
}

type natsClient struct {
	mu  sync.Mutex
	gw  *natsGateway
	srv *natsServer
}

// A- protocol received from the remote.
// <Invoked from outbound connection's readLoop>
func (c *natsClient) processGatewayAccountUnsub(accName string) {
	setToNil := true
	if ei, ok := c.gw.outsim.Load(accName); ei != nil {
		e := ei.(*natsOutsie)
		e.mu.Lock()
		if e.qsubs > 0 {
			setToNil = false
		}
		e.mu.Unlock()
	} else if ok {
		setToNil = false
	}
	if setToNil {
		c.gw.outsim.Store(accName, nil) // silent: only this connection's read loop writes it
	}
}

// Indicates that the remote sends all its subscriptions.
// <Invoked from outbound connection's readLoop>
func (c *natsClient) gatewayAllSubsReceiveStart(account string) {
	ei, _ := c.gw.outsim.Load(account)
	if ei == nil {
		e := &natsOutsie{}
		c.mu.Lock()
		c.gw.outsim.Store(account, e) // silent
		c.mu.Unlock()
	}
}

// The same doc, but the map belongs to the server, which every
// connection's read loop reaches: a race between connections.
// <Invoked from outbound connection's readLoop>
func (c *natsClient) registerAccount(name string) {
	if v, _ := c.srv.accounts.Load(name); v == nil {
		c.srv.accounts.Store(name, &natsOutsie{}) // want `Store of c.srv.accounts after a Load of the same key`
	}
}

// Can run from various go routines (the consumer's loop, the system
// send loop, etc.).
func (c *natsClient) processReply(subject string) {
	if v, _ := c.gw.outsim.Load(subject); v == nil {
		c.gw.outsim.Store(subject, &natsOutsie{}) // want `Store of c.gw.outsim after a Load of the same key`
	}
}

// Invoked from any client connection's readLoop.
func (c *natsClient) processAnyReadLoop(subject string) {
	if v, _ := c.gw.outsim.Load(subject); v == nil {
		c.gw.outsim.Store(subject, &natsOutsie{}) // want `Store of c.gw.outsim after a Load of the same key`
	}
}

// Invoked from the readLoop or from a timer.
func (c *natsClient) processLoopOrTimer(subject string) {
	if v, _ := c.gw.outsim.Load(subject); v == nil {
		c.gw.outsim.Store(subject, &natsOutsie{}) // want `Store of c.gw.outsim after a Load of the same key`
	}
}

// No doc about where it runs.
func (c *natsClient) processUndocumented(subject string) {
	if v, _ := c.gw.outsim.Load(subject); v == nil {
		c.gw.outsim.Store(subject, &natsOutsie{}) // want `Store of c.gw.outsim after a Load of the same key`
	}
}

// A function, not a method, documented as run on a loop: there is no
// receiver to own the map.
// <Invoked from outbound connection's readLoop>
func natsProcess(c *natsClient, subject string) {
	if v, _ := c.gw.outsim.Load(subject); v == nil {
		c.gw.outsim.Store(subject, &natsOutsie{}) // want `Store of c.gw.outsim after a Load of the same key`
	}
}

type natsLoopState struct {
	pending sync.Map
	stats   *natsStats
}

type natsStats struct{ seen sync.Map } // no lock: part of its owner

// flushPending is called only from the run loop.
func (l *natsLoopState) flushPending(id string) {
	if v, _ := l.pending.Load(id); v == nil {
		l.pending.Store(id, &natsOutsie{}) // silent
	}
	if _, ok := l.stats.seen.Load(id); !ok {
		l.stats.seen.Store(id, &natsOutsie{}) // silent: two lock-free hops from the receiver
	}
}

// natsLock wraps a mutex, as some servers do to trace their locks.
type natsLock struct{ mu sync.Mutex }

func (l *natsLock) Lock()   { l.mu.Lock() }
func (l *natsLock) Unlock() { l.mu.Unlock() }

type natsRouter struct {
	lock   natsLock // a value with a lock of its own: shared
	routes sync.Map
}

type natsRoute struct {
	router *natsRouter
}

// <Invoked from outbound connection's readLoop>
func (r *natsRoute) addRoute(name string) {
	if v, _ := r.router.routes.Load(name); v == nil {
		r.router.routes.Store(name, &natsOutsie{}) // want `Store of r.router.routes after a Load of the same key`
	}
}

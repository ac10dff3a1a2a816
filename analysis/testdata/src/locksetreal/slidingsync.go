package locksetreal

import (
	"strings"
	"sync"
)

// matrix-org/sliding-sync, sync3/connmap.go: "fatal error: concurrent
// map read and map write", fixed by
// https://github.com/matrix-org/sliding-sync/pull/220 ("Protect map
// against concurrent map r/w ... Comments did say to hold mu"). The TTL
// cache's expiry callback, closeConnExpires, runs on the cache's own
// goroutine and called closeConn, documented "must hold mu", without
// taking mu, while request goroutines read and write the same maps
// under it.

type ConnID struct{ UserID, DeviceID, CID string }

func (c ConnID) String() string { return strings.Join([]string{c.UserID, c.DeviceID, c.CID}, "|") }

type Conn struct {
	ConnID
	lastPos int64
}

// ttlCache stands in for github.com/ReneKroon/ttlcache/v2: it calls the
// expiration callback from its own goroutine.
type ttlCache struct {
	onExpire func(key string, value interface{})
}

func (t *ttlCache) SetExpirationCallback(f func(key string, value interface{})) { t.onExpire = f }
func (t *ttlCache) Set(key string, value interface{})                           {}
func (t *ttlCache) Remove(key string) error                                     { return nil }

type ConnMap struct {
	cache *ttlCache
	// map of user_id to active connections. Inspect the ConnID to find the device ID.
	userIDToConn map[string][]*Conn
	connIDToConn map[string]*Conn
	numConns     int
	mu           *sync.Mutex
}

func NewConnMap() *ConnMap {
	cm := &ConnMap{
		userIDToConn: make(map[string][]*Conn),
		connIDToConn: make(map[string]*Conn),
		cache:        &ttlCache{},
		mu:           &sync.Mutex{},
	}
	cm.cache.SetExpirationCallback(cm.closeConnExpires)
	return cm
}

// UpdateMetrics recalculates the number of active connections.
func (m *ConnMap) UpdateMetrics() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updateMetrics(len(m.connIDToConn))
}

func (m *ConnMap) updateMetrics(numConns int) { m.numConns = numConns }

func (m *ConnMap) CreateConn(cid ConnID) *Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.connIDToConn[cid.String()]; old != nil {
		m.closeConn(old)
	}
	conn := &Conn{ConnID: cid}
	m.cache.Set(cid.String(), conn)
	m.connIDToConn[cid.String()] = conn
	m.userIDToConn[cid.UserID] = append(m.userIDToConn[cid.UserID], conn)
	m.updateMetrics(len(m.connIDToConn))
	return conn
}

func (m *ConnMap) connIDsForDevice(userID, deviceID string) []ConnID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var connIDs []ConnID
	for _, c := range m.userIDToConn[userID] {
		if c.DeviceID == deviceID {
			connIDs = append(connIDs, c.ConnID)
		}
	}
	return connIDs
}

func (m *ConnMap) CloseConnsForDevice(userID, deviceID string) {
	for _, cid := range m.connIDsForDevice(userID, deviceID) {
		_ = m.cache.Remove(cid.String()) // fires the expiry callback
	}
}

func (m *ConnMap) closeConnExpires(connID string, value interface{}) {
	conn := value.(*Conn)
	m.closeConn(conn) // want `call of m.closeConn without m.mu held; closeConn expects its caller to hold it \(it accesses m.connIDToConn`
}

// must hold mu
func (m *ConnMap) closeConn(conn *Conn) {
	if conn == nil {
		return
	}
	connKey := conn.ConnID.String()
	delete(m.connIDToConn, connKey)
	conns := m.userIDToConn[conn.UserID]
	for i := 0; i < len(conns); i++ {
		if conns[i].DeviceID == conn.DeviceID && conns[i].CID == conn.CID {
			conns = append(conns[:i], conns[i+1:]...)
			i--
		}
	}
	m.userIDToConn[conn.UserID] = conns
	m.updateMetrics(len(m.connIDToConn))
}

// ConnMapFixed is the same type after PR 220: the callback locks.
type ConnMapFixed struct {
	cache        *ttlCache
	userIDToConn map[string][]*Conn
	connIDToConn map[string]*Conn
	numConns     int
	mu           *sync.Mutex
}

func NewConnMapFixed() *ConnMapFixed {
	cm := &ConnMapFixed{
		userIDToConn: make(map[string][]*Conn),
		connIDToConn: make(map[string]*Conn),
		cache:        &ttlCache{},
		mu:           &sync.Mutex{},
	}
	cm.cache.SetExpirationCallback(cm.closeConnExpires)
	return cm
}

func (m *ConnMapFixed) UpdateMetrics() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.numConns = len(m.connIDToConn)
}

func (m *ConnMapFixed) CreateConn(cid ConnID) *Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.connIDToConn[cid.String()]; old != nil {
		m.closeConn(old)
	}
	conn := &Conn{ConnID: cid}
	m.cache.Set(cid.String(), conn)
	m.connIDToConn[cid.String()] = conn
	m.userIDToConn[cid.UserID] = append(m.userIDToConn[cid.UserID], conn)
	return conn
}

func (m *ConnMapFixed) closeConnExpires(connID string, value interface{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closeConn(value.(*Conn))
}

// must hold mu
func (m *ConnMapFixed) closeConn(conn *Conn) {
	if conn == nil {
		return
	}
	delete(m.connIDToConn, conn.ConnID.String())
	conns := m.userIDToConn[conn.UserID]
	for i := 0; i < len(conns); i++ {
		if conns[i].CID == conn.CID {
			conns = append(conns[:i], conns[i+1:]...)
			i--
		}
	}
	m.userIDToConn[conn.UserID] = conns
}

// Package nex reproduces the deadlock fixed by
// https://github.com/PretendoNetwork/nex-go/pull/37 (mutex_map.go and
// packet_resend_manager.go at e90741c^1): PacketResendManager.Clear
// passes Each a callback that calls p.Remove, which calls
// p.pending.Delete, which takes the write lock of the RWMutex embedded in
// MutexMap while Each holds its read lock. Before that, p.Remove calls
// p.pending.Get, which read-locks the same RWMutex again: recursive read
// locking, which deadlocks on its own as soon as another goroutine waits
// in Lock.
package nex

import (
	"sync"
	"time"
)

// MutexMap implements a map type with go routine safe accessors through mutex locks. Embeds sync.RWMutex
type MutexMap[K comparable, V any] struct {
	*sync.RWMutex
	real map[K]V
}

// Set sets a key to a given value
func (m *MutexMap[K, V]) Set(key K, value V) { // want Set:`^Lock\(recv\.RWMutex\)$`
	m.Lock()
	defer m.Unlock()

	m.real[key] = value
}

// Get returns the given key value and a bool if found
func (m *MutexMap[K, V]) Get(key K) (V, bool) { // want Get:`^RLock\(recv\.RWMutex\)$`
	m.RLock()
	defer m.RUnlock()

	value, ok := m.real[key]

	return value, ok
}

// Delete removes a key from the internal map
func (m *MutexMap[K, V]) Delete(key K) { // want Delete:`^Lock\(recv\.RWMutex\)$`
	m.Lock()
	defer m.Unlock()

	delete(m.real, key)
}

// Each runs a function for every item in the map
// the function takes in the items key and value
func (m *MutexMap[K, V]) Each(callback func(key K, value V)) { // want Each:`^RLock\(recv\.RWMutex\); calls p0 under RLock\(recv\.RWMutex\)$`
	m.RLock()
	defer m.RUnlock()

	for key, value := range m.real {
		callback(key, value)
	}
}

// NewMutexMap returns a new instance of MutexMap with the provided key/value types
func NewMutexMap[K comparable, V any]() *MutexMap[K, V] {
	return &MutexMap[K, V]{
		RWMutex: &sync.RWMutex{},
		real:    make(map[K]V),
	}
}

// PacketInterface is the part of nex's packet interface the manager uses.
type PacketInterface interface {
	SequenceID() uint16
	Bytes() []byte
}

// PendingPacket represents a packet which the server has sent but not received an ACK for
type PendingPacket struct {
	ticker        *time.Ticker
	quit          chan struct{}
	packet        PacketInterface
	maxIterations int
}

// StopTimeoutTimer stops the packet retransmission timer
func (p *PendingPacket) StopTimeoutTimer() {
	close(p.quit)
	p.ticker.Stop()
}

// PacketResendManager manages all the pending packets sent the client waiting to be ACKed
type PacketResendManager struct {
	pending       *MutexMap[uint16, *PendingPacket]
	timeoutTime   time.Duration
	maxIterations int
}

// Remove removes a packet from pool and stops it's timer
func (p *PacketResendManager) Remove(sequenceID uint16) { // want Remove:`^RLock\(recv\.pending\.RWMutex\); Lock\(recv\.pending\.RWMutex\)$`
	if cached, ok := p.pending.Get(sequenceID); ok {
		cached.StopTimeoutTimer()
		p.pending.Delete(sequenceID)
	}
}

// Clear removes all packets from pool and stops their timers
func (p *PacketResendManager) Clear() { // want Clear:`^RLock\(recv\.pending\.RWMutex\)$`
	p.pending.Each(func(key uint16, value *PendingPacket) {
		p.Remove(value.packet.SequenceID()) // want `p.Remove read-locks and write-locks p.pending.RWMutex, whose read lock Each holds while it calls this callback: the write lock is a self-deadlock, the read lock recursive read locking, forbidden by sync.RWMutex: it deadlocks as soon as another goroutine calls Lock in between`
	})
}

// Package nex is rangelocknex/before with the fix of
// https://github.com/PretendoNetwork/nex-go/pull/37: MutexMap.Clear
// deletes under the write lock and runs a callback that only stops the
// timer, and PacketResendManager.Clear uses it instead of Each + Remove.
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

// Each runs a callback function for every item in the map
// The map should not be modified inside the callback function
func (m *MutexMap[K, V]) Each(callback func(key K, value V)) { // want Each:`^RLock\(recv\.RWMutex\); calls p0 under RLock\(recv\.RWMutex\)$`
	m.RLock()
	defer m.RUnlock()

	for key, value := range m.real {
		callback(key, value)
	}
}

// Clear removes all items from the `real` map
// Accepts an optional callback function ran for every item before it is deleted
func (m *MutexMap[K, V]) Clear(callback func(key K, value V)) { // want Clear:`^Lock\(recv\.RWMutex\); calls p0 under Lock\(recv\.RWMutex\)$`
	m.Lock()
	defer m.Unlock()

	for key, value := range m.real {
		if callback != nil {
			callback(key, value)
		}
		delete(m.real, key)
	}
}

// PacketInterface is the part of nex's packet interface the manager uses.
type PacketInterface interface {
	SequenceID() uint16
}

// PendingPacket represents a packet which the server has sent but not received an ACK for
type PendingPacket struct {
	ticker *time.Ticker
	quit   chan struct{}
	packet PacketInterface
}

// StopTimeoutTimer stops the packet retransmission timer
func (p *PendingPacket) StopTimeoutTimer() {
	close(p.quit)
	p.ticker.Stop()
}

// PacketResendManager manages all the pending packets sent the client waiting to be ACKed
type PacketResendManager struct {
	pending *MutexMap[uint16, *PendingPacket]
}

// Remove removes a packet from pool and stops it's timer
func (p *PacketResendManager) Remove(sequenceID uint16) { // want Remove:`^RLock\(recv\.pending\.RWMutex\); Lock\(recv\.pending\.RWMutex\)$`
	if cached, ok := p.pending.Get(sequenceID); ok {
		cached.StopTimeoutTimer()
		p.pending.Delete(sequenceID)
	}
}

// Clear removes all packets from pool and stops their timers
func (p *PacketResendManager) Clear() { // want Clear:`^Lock\(recv\.pending\.RWMutex\)$`
	p.pending.Clear(func(key uint16, value *PendingPacket) {
		value.StopTimeoutTimer()
	})
}

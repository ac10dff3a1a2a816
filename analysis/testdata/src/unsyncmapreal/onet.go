// Package unsyncmapreal reproduces real crashes of maps in struct fields
// written by a goroutine its starter keeps reading, each with its fixed
// version, which must stay silent.
package unsyncmapreal

import (
	"fmt"
	"net"
	"strconv"
	"sync"
)

// dedis/onet, simul/monitor/monitor.go: Monitor.Listen starts an accept
// loop that records every connection in m.conns, then itself waits on
// m.measures and m.done and reads len(m.conns) — the done channel is fed
// by the per-connection handlers, not by the accept loop, so nothing
// orders the accept loop's next write before Listen's read. The race
// detector caught write monitor.go:105 (Listen.func1) against read :117
// (Listen): https://github.com/dedis/onet/issues/197. The fix put
// m.conns under a new mutexConn on both sides (MonitorFixed below, as in
// the current file).

type singleMeasure struct{ Name string }

// Monitor is the version the race report was filed against.
type Monitor struct {
	listener     net.Listener
	listenerLock *sync.Mutex

	// Current connections
	conns map[string]net.Conn

	measures chan *singleMeasure
	done     chan string

	SinkPort uint16
}

func (m *Monitor) Listen() error {
	ln, err := net.Listen("tcp", "0.0.0.0:"+strconv.Itoa(int(m.SinkPort)))
	if err != nil {
		return fmt.Errorf("Error while monitor is binding address: %v", err)
	}
	m.listenerLock.Lock()
	m.listener = ln
	m.listenerLock.Unlock()
	finished := false
	go func() {
		for {
			if finished {
				break
			}
			conn, err := ln.Accept()
			if err != nil {
				operr, ok := err.(*net.OpError)
				if ok && operr.Op == "accept" {
					break
				}
				continue
			}
			m.conns[conn.RemoteAddr().String()] = conn
			go m.handleConnection(conn)
		}
	}()
	for !finished {
		select {
		case measure := <-m.measures:
			m.update(measure)
		case peer := <-m.done:
			fmt.Println("Connections left:", len(m.conns)) // want `len of m.conns while the goroutine started at line 48 writes it \(line 61\)`
			delete(m.conns, peer)
			if len(m.conns) == 0 {
				m.listenerLock.Lock()
				m.listener.Close()
				m.listener = nil
				finished = true
				m.listenerLock.Unlock()
			}
		}
	}
	m.conns = make(map[string]net.Conn)
	return nil
}

func (m *Monitor) handleConnection(conn net.Conn) {
	m.measures <- &singleMeasure{Name: conn.RemoteAddr().String()}
	m.done <- conn.RemoteAddr().String()
}

func (m *Monitor) update(meas *singleMeasure) { _ = meas }

// MonitorFixed is the fixed version: mutexConn guards conns on both sides.
type MonitorFixed struct {
	listener     net.Listener
	listenerLock *sync.Mutex

	// Current conections
	conns map[string]net.Conn
	// and the mutex to play with it
	mutexConn sync.Mutex

	measures chan *singleMeasure
	done     chan string

	SinkPort uint16
}

func (m *MonitorFixed) Listen() error {
	ln, err := net.Listen("tcp", "0.0.0.0:"+strconv.Itoa(int(m.SinkPort)))
	if err != nil {
		return fmt.Errorf("Error while monitor is binding address: %v", err)
	}
	m.listenerLock.Lock()
	m.listener = ln
	m.listenerLock.Unlock()
	finished := false
	go func() {
		for {
			if finished {
				break
			}
			conn, err := ln.Accept()
			if err != nil {
				operr, ok := err.(*net.OpError)
				if ok && operr.Op == "accept" {
					break
				}
				continue
			}
			m.mutexConn.Lock()
			m.conns[conn.RemoteAddr().String()] = conn
			go m.handleConnection(conn)
			m.mutexConn.Unlock()
		}
	}()
	for !finished {
		select {
		case measure := <-m.measures:
			m.update(measure)
		case peer := <-m.done:
			m.mutexConn.Lock()
			fmt.Println("Connections left:", len(m.conns))
			delete(m.conns, peer)
			if len(m.conns) == 0 {
				m.listenerLock.Lock()
				m.listener.Close()
				m.listener = nil
				finished = true
				m.listenerLock.Unlock()
			}
			m.mutexConn.Unlock()
		}
	}
	m.mutexConn.Lock()
	m.conns = make(map[string]net.Conn)
	m.mutexConn.Unlock()
	return nil
}

func (m *MonitorFixed) handleConnection(conn net.Conn) {
	m.measures <- &singleMeasure{Name: conn.RemoteAddr().String()}
	m.done <- conn.RemoteAddr().String()
}

func (m *MonitorFixed) update(meas *singleMeasure) { _ = meas }

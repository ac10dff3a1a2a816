package locksetreal

import (
	"context"
	"errors"
	"net"
	"sync"
)

// aporeto-inc/trireme-lib, controller/internal/enforcer/applicationproxy/
// protomux/protomux.go: "fatal error: concurrent map iteration and map
// write" in (*MultiplexedListener).Serve.func1, fixed by
// https://github.com/aporeto-inc/trireme-lib/pull/488 ("Grab read lock
// when iterating"). Serve's deferred cleanup ranges over protomap to
// close every protocol listener without the embedded RWMutex, while the
// proxy registers and unregisters listeners under its write lock.

type ListenerType int

type ProtoListener struct {
	net.Listener
	connection chan net.Conn
	mark       int
}

func (p *ProtoListener) Accept() (net.Conn, error) {
	c, ok := <-p.connection
	if !ok {
		return nil, errors.New("mux: listener closed")
	}
	return c, nil
}

type MultiplexedListener struct {
	root            net.Listener
	done            chan struct{}
	shutdown        chan struct{}
	wg              sync.WaitGroup
	protomap        map[ListenerType]*ProtoListener
	defaultListener *ProtoListener
	mark            int
	sync.RWMutex
}

func NewMultiplexedListener(l net.Listener, mark int) *MultiplexedListener {
	return &MultiplexedListener{
		root:     l,
		done:     make(chan struct{}),
		shutdown: make(chan struct{}),
		protomap: map[ListenerType]*ProtoListener{},
		mark:     mark,
	}
}

func (m *MultiplexedListener) RegisterListener(ltype ListenerType) (*ProtoListener, error) {
	m.Lock()
	defer m.Unlock()
	if _, ok := m.protomap[ltype]; ok {
		return nil, errors.New("cannot register same listener type multiple times")
	}
	p := &ProtoListener{Listener: m.root, connection: make(chan net.Conn), mark: m.mark}
	m.protomap[ltype] = p
	return p, nil
}

func (m *MultiplexedListener) UnregisterListener(ltype ListenerType) error {
	m.Lock()
	defer m.Unlock()
	delete(m.protomap, ltype)
	return nil
}

func (m *MultiplexedListener) Close() { close(m.shutdown) }

func (m *MultiplexedListener) Serve(ctx context.Context) error {
	defer func() {
		close(m.done)
		m.wg.Wait()

		for _, l := range m.protomap { // want `range over m.protomap without m.RWMutex held`
			close(l.connection)
			for c := range l.connection {
				c.Close() // nolint
			}
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.shutdown:
			return nil
		default:
			c, err := m.root.Accept()
			if err != nil {
				return err
			}
			m.wg.Add(1)
			go m.serve(c)
		}
	}
}

func (m *MultiplexedListener) serve(c net.Conn) {
	defer m.wg.Done()
	m.RLock()
	target, ok := m.protomap[ListenerType(len(c.LocalAddr().String())%6)]
	m.RUnlock()
	if !ok {
		c.Close() // nolint
		return
	}
	select {
	case target.connection <- c:
	case <-m.done:
		c.Close() // nolint
	}
}

// MultiplexedListenerFixed is the listener after the fix: the deferred
// cleanup takes the read lock before the range.
type MultiplexedListenerFixed struct {
	root     net.Listener
	done     chan struct{}
	wg       sync.WaitGroup
	protomap map[ListenerType]*ProtoListener
	sync.RWMutex
}

func (m *MultiplexedListenerFixed) RegisterListener(ltype ListenerType) *ProtoListener {
	m.Lock()
	defer m.Unlock()
	p := &ProtoListener{Listener: m.root, connection: make(chan net.Conn)}
	m.protomap[ltype] = p
	return p
}

func (m *MultiplexedListenerFixed) UnregisterListener(ltype ListenerType) {
	m.Lock()
	defer m.Unlock()
	delete(m.protomap, ltype)
}

func (m *MultiplexedListenerFixed) Serve(ctx context.Context) error {
	defer func() {
		close(m.done)
		m.wg.Wait()

		m.RLock()
		defer m.RUnlock()

		for _, l := range m.protomap {
			close(l.connection)
		}
	}()

	for ctx.Err() == nil {
		c, err := m.root.Accept()
		if err != nil {
			return err
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			c.Close() // nolint
		}()
	}
	return nil
}

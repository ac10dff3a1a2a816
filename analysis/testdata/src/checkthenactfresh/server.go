// Package checkthenactfresh reproduces the structure of nats-server's
// account registration (server/server.go at commit 1787eee0,
// https://github.com/nats-io/nats-server/blob/1787eee035cf0253c201fa0f05afad92b6f296dc/server/server.go#L1968):
// registerAccountNoLock loads an account from the accounts sync.Map and
// stores it on a miss, with the server lock held on entry. Every caller
// holds s.mu except the constructor, NewServer, which registers the
// system account on a server it has just allocated and not yet handed to
// anyone. checkthenact reported the Store: the constructor's call holds
// no lock, so the lock was not held on entry at every call.
package checkthenactfresh

import "sync"

// Account is a named account.
type Account struct{ Name string }

// Server holds the registered accounts.
type Server struct {
	mu       sync.Mutex
	accounts sync.Map // name -> *Account; written under mu
	gacc     *Account
}

// NewServer allocates a server and registers its global account: no
// other goroutine can see s yet, so no lock is needed.
func NewServer() *Server {
	s := &Server{}
	s.gacc = &Account{Name: "$G"}
	s.registerAccountNoLock(s.gacc)
	s.configureAccounts()
	return s
}

// configureAccounts registers the configured accounts.
// Lock is held upon entry.
func (s *Server) configureAccounts() {
	s.registerAccountNoLock(&Account{Name: "A"})
}

// Reload reconfigures the accounts under the lock.
func (s *Server) Reload() {
	s.mu.Lock()
	s.configureAccounts()
	s.mu.Unlock()
}

// RegisterAccount registers a new account under the lock.
func (s *Server) RegisterAccount(name string) *Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registerAccountNoLock(&Account{Name: name})
}

// registerAccountNoLock returns the registered account of that name, or
// registers acc. Lock should be held on entry.
func (s *Server) registerAccountNoLock(acc *Account) *Account {
	if a, _ := s.accounts.Load(acc.Name); a != nil {
		return a.(*Account)
	}
	s.accounts.Store(acc.Name, acc)
	return acc
}

// Started is the same server with a constructor that starts a goroutine
// before it registers: the value is shared by then, and the unlocked
// call makes registerLocked's Load and Store race.
type Started struct {
	mu       sync.Mutex
	accounts sync.Map
}

// NewStarted starts the background loop, then registers an account.
func NewStarted() *Started {
	s := &Started{}
	go s.loop()
	s.registerLocked(&Account{Name: "$G"})
	return s
}

func (s *Started) loop() {
	s.mu.Lock()
	s.registerLocked(&Account{Name: "$SYS"})
	s.mu.Unlock()
}

// registerLocked is registerAccountNoLock for Started.
func (s *Started) registerLocked(acc *Account) *Account {
	if a, _ := s.accounts.Load(acc.Name); a != nil {
		return a.(*Account)
	}
	s.accounts.Store(acc.Name, acc) // want `Store of s.accounts after a Load of the same key`
	return acc
}

// Shared is registered from a value the caller did not allocate: a
// parameter, so the call holds no lock and counts against the helper.
type Shared struct {
	mu       sync.Mutex
	accounts sync.Map
}

// Register locks.
func (s *Shared) Register(acc *Account) {
	s.mu.Lock()
	s.registerLocked(acc)
	s.mu.Unlock()
}

// registerOther calls the helper on another server it was handed.
func registerOther(s *Shared) {
	s.registerLocked(&Account{Name: "B"})
}

func (s *Shared) registerLocked(acc *Account) {
	if a, _ := s.accounts.Load(acc.Name); a != nil {
		return
	}
	s.accounts.Store(acc.Name, acc) // want `Store of s.accounts after a Load of the same key`
}

// A composite value allocated in the caller (not through a pointer)
// counts as fresh too.
type Table struct {
	mu   *sync.Mutex
	rows *sync.Map
}

// NewTable fills its table before returning it.
func NewTable() Table {
	t := Table{mu: new(sync.Mutex), rows: new(sync.Map)}
	t.addLocked("a")
	return t
}

// Add locks.
func (t Table) Add(k string) {
	t.mu.Lock()
	t.addLocked(k)
	t.mu.Unlock()
}

func (t Table) addLocked(k string) {
	if _, ok := t.rows.Load(k); !ok {
		t.rows.Store(k, true)
	}
}

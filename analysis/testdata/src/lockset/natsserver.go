package lockset

import "sync"

// Start-up code from nats-server at commit
// 1787eee035cf0253c201fa0f05afad92b6f296dc, reduced to the fields and
// calls that matter.

// natsUser is server/auth.go's User.
type natsUser struct {
	Username string
	Password string
}

// natsServer is server/server.go's Server: users is written under mu by
// the configuration code and read by checkAuthforWarnings.
type natsServer struct {
	mu                   sync.Mutex
	users                map[string]*natsUser
	sysAccOnlyNoAuthUser string
	quit                 chan struct{}
}

func (s *natsServer) configureUsers(users []*natsUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		s.users[u.Username] = u
	}
}

func (s *natsServer) removeUser(name string) {
	s.mu.Lock()
	delete(s.users, name)
	s.mu.Unlock()
}

// checkAuthforWarnings will look for insecure settings and log concerns.
// Lock is assumed held.
// https://github.com/nats-io/nats-server/blob/1787eee035cf0253c201fa0f05afad92b6f296dc/server/auth.go#L244
func (s *natsServer) checkAuthforWarnings() bool {
	warn := false
	for _, u := range s.users {
		if s.sysAccOnlyNoAuthUser != "" && u.Username == s.sysAccOnlyNoAuthUser {
			continue
		}
		if u.Password != "" {
			warn = true
			break
		}
	}
	return warn
}

// startGoRoutine is server.go's helper every goroutine of the server is
// started through.
func (s *natsServer) startGoRoutine(f func()) bool {
	go f()
	return true
}

func (s *natsServer) startRateLimitLogExpiration() {
	s.startGoRoutine(func() {
		<-s.quit
	})
}

// Start is server.go's Server.Start: it calls checkAuthforWarnings
// without s.mu, before it starts any of the server's goroutines; nothing
// else runs on s yet. lockset reported it (server.go:2296); it must stay
// silent.
// https://github.com/nats-io/nats-server/blob/1787eee035cf0253c201fa0f05afad92b6f296dc/server/server.go#L2296
func (s *natsServer) Start() {
	s.checkAuthforWarnings()
	s.mu.Lock()
	s.sysAccOnlyNoAuthUser = ""
	s.mu.Unlock()
	s.startRateLimitLogExpiration()
}

// Restart is the same call after the first goroutine is started: the
// receiver is shared from there on.
func (s *natsServer) Restart() {
	s.startRateLimitLogExpiration()
	s.checkAuthforWarnings() // want `call of s.checkAuthforWarnings without s.mu held`
}

// Poll starts a goroutine inside a loop: the read at the top of the
// loop's second iteration follows the first start.
func (s *natsServer) Poll() {
	for range 2 {
		_ = len(s.users) // want `len of s.users without s.mu held`
		go s.startRateLimitLogExpiration()
	}
}

// natsJSAccount is server/jetstream.go's jsAccount: streams is guarded
// by mu.
type natsJSAccount struct {
	mu      sync.RWMutex
	streams map[string]int64
}

// tieredReservation ranges jsa.streams.
// Read lock must be held
// https://github.com/nats-io/nats-server/blob/1787eee035cf0253c201fa0f05afad92b6f296dc/server/jetstream_api.go#L1427
func (jsa *natsJSAccount) tieredReservation(name string) int64 {
	var reservation int64
	for n, maxBytes := range jsa.streams {
		if n != name {
			reservation += maxBytes
		}
	}
	return reservation
}

func (jsa *natsJSAccount) delStream(name string) {
	jsa.mu.Lock()
	delete(jsa.streams, name)
	jsa.mu.Unlock()
}

// natsAccount is server/accounts.go's Account.
type natsAccount struct {
	mu  sync.RWMutex
	jsa *natsJSAccount
}

// addStream is stream.go's Account.addStream: it reserves under jsa.mu.
func (a *natsAccount) addStream(name string, maxBytes int64) {
	a.mu.RLock()
	jsa := a.jsa
	a.mu.RUnlock()
	jsa.mu.Lock()
	if jsa.tieredReservation(name)+maxBytes > 1<<30 {
		jsa.mu.Unlock()
		return
	}
	jsa.streams[name] = maxBytes
	jsa.mu.Unlock()
}

// RestoreStream is stream.go's Account.RestoreStream: it calls
// tieredReservation without jsa.mu while addStream may be writing
// jsa.streams (likely true; stream.go:9530 and stream_backup.go:298).
// https://github.com/nats-io/nats-server/blob/1787eee035cf0253c201fa0f05afad92b6f296dc/server/stream.go#L9530
func (a *natsAccount) RestoreStream(name string, maxBytes int64) {
	a.mu.RLock()
	jsa := a.jsa
	a.mu.RUnlock()
	if jsa.tieredReservation(name)+maxBytes > 1<<30 { // want `call of jsa.tieredReservation without jsa.mu held`
		return
	}
	a.addStream(name, maxBytes)
}

// Run is service.go's Run: it calls Start first, so Start is still the
// server's start-up.
// https://github.com/nats-io/nats-server/blob/1787eee035cf0253c201fa0f05afad92b6f296dc/server/service.go#L20
func Run(server *natsServer) error {
	server.Start()
	return nil
}

// natsImporter is accounts.go's Account around checkActivation: signing
// is guarded by mu.
type natsImporter struct {
	mu      sync.RWMutex
	signing map[string]bool
}

func (a *natsImporter) addSigningKey(k string) {
	a.mu.Lock()
	a.signing[k] = true
	a.mu.Unlock()
}

func (a *natsImporter) removeSigningKey(k string) {
	a.mu.Lock()
	delete(a.signing, k)
	a.mu.Unlock()
}

func (a *natsImporter) arm(f func()) { go f() }

// checkActivation reads a.signing before it arms an expiration timer,
// but the package calls it on accounts already in use (accounts.go's
// Account.checkActivation): it is no start-up, and the read races
// addSigningKey.
func (a *natsImporter) checkActivation(issuer string) bool {
	if !a.signing[issuer] { // want `read of a.signing without a.mu held`
		return false
	}
	a.arm(func() {})
	return true
}

// checkImports is a caller of checkActivation that runs on live
// accounts (accounts.go's updateAccountClaims path).
func (a *natsImporter) checkImports(issuers []string) int {
	n := 0
	for _, is := range issuers {
		if a.checkActivation(is) {
			n++
		}
	}
	return n
}

// watch applies claim updates as they arrive, on its own goroutine.
func (a *natsImporter) watch(updates chan []string) {
	for issuers := range updates {
		a.addSigningKey(issuers[0])
		a.checkImports(issuers)
	}
}

// Watch starts watch.
func (a *natsImporter) Watch(updates chan []string) {
	go a.watch(updates)
}

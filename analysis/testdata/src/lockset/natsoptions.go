package lockset

import (
	"errors"
	"sync"
)

// Option validation from nats-server at commit
// 1787eee035cf0253c201fa0f05afad92b6f296dc (server/jetstream.go
// validateJetStreamOptions, called by validateOptions from NewServer and
// from reloadOptions on freshly parsed options): it reads acc.jsLimits
// for each acc in o.Accounts. Options has no lock: the accounts it holds
// are the caller's, not yet shared.

type natsLimits struct{ MaxMemory int64 }

// natsOptAccount is server/accounts.go's Account, reduced.
type natsOptAccount struct {
	Name     string
	mu       sync.RWMutex
	jsLimits map[string]natsLimits
}

func (a *natsOptAccount) EnableJetStream(tier string, l natsLimits) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jsLimits[tier] = l
}

func (a *natsOptAccount) DisableJetStream() {
	a.mu.Lock()
	clear(a.jsLimits)
	a.mu.Unlock()
}

func (a *natsOptAccount) JetStreamEnabled() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.jsLimits) > 0
}

func (a *natsOptAccount) tierLimits(tier string) (natsLimits, bool) {
	a.mu.RLock()
	l, ok := a.jsLimits[tier]
	a.mu.RUnlock()
	return l, ok
}

func (a *natsOptAccount) UpdateJetStreamLimits(limits map[string]natsLimits) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, l := range limits {
		if _, ok := a.jsLimits[t]; !ok {
			a.jsLimits[t] = l
		}
	}
}

// natsOptions is server/opts.go's Options: configuration, no lock.
type natsOptions struct {
	JsAccDefaultDomain map[string]string
	Accounts           []*natsOptAccount
}

func validateJetStreamOptions(o *natsOptions) error {
	for a, domain := range o.JsAccDefaultDomain {
		for _, acc := range o.Accounts {
			if a == acc.Name && len(acc.jsLimits) > 0 && domain != "" {
				return errors.New("default_js_domain contains an account with JetStream enabled")
			}
		}
	}
	if len(o.Accounts) > 0 {
		first := o.Accounts[0]
		_ = len(first.jsLimits)
	}
	return nil
}

func NewOptServer(o *natsOptions) error { return validateJetStreamOptions(o) }

// natsOptServer holds live accounts under its own lock: ranging over
// them hands out shared values, and the unlocked read is reported.
type natsOptServer struct {
	mu       sync.Mutex
	accounts []*natsOptAccount
}

func (s *natsOptServer) Limits() int {
	n := 0
	for _, acc := range s.accounts {
		n += len(acc.jsLimits) // want `len of acc.jsLimits without acc.mu held`
	}
	return n
}

// CheckLimits takes the live server: a parameter with a lock of its own
// is not a plain value.
func CheckLimits(s *natsOptServer) int {
	n := 0
	for _, acc := range s.accounts {
		n += len(acc.jsLimits) // want `len of acc.jsLimits without acc.mu held`
	}
	return n
}

// CheckAccounts takes the accounts themselves, not a plain value holding
// them.
func CheckAccounts(accs []*natsOptAccount) int {
	n := 0
	for _, acc := range accs {
		n += len(acc.jsLimits) // want `len of acc.jsLimits without acc.mu held`
	}
	return n
}

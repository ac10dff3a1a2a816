// Package server is rangelocknatsacct/before with the fix of
// https://github.com/nats-io/nats-server/pull/6527 (commit 11cae8b31):
// getNameTag locks and calls getNameTagLocked, and accountInfo, which
// holds the lock, calls getNameTagLocked.
package server

import (
	"fmt"
	"sync"
	"time"
)

const _EMPTY_ = ""

type serviceExport struct {
	approved map[string]*Account
	tokenReq bool
}

type exportMap struct {
	services map[string]*serviceExport
	streams  map[string]*serviceExport
}

// Account are subject namespace definitions.
type Account struct {
	Name       string
	nameTag    string
	mu         sync.RWMutex
	updated    time.Time
	incomplete bool
	clients    map[string]struct{}
	sysclients int32
	nleafs     int32
	exports    exportMap
	claimJWT   string
}

// getNameTag will return the name tag or the account name if not set.
func (a *Account) getNameTag() string { // want getNameTag:`^RLock\(recv\.mu\)$`
	if a == nil {
		return _EMPTY_
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.getNameTagLocked()
}

// getNameTagLocked will return the name tag or the account name if not set.
// Lock should be held.
func (a *Account) getNameTagLocked() string {
	if a == nil {
		return _EMPTY_
	}
	nameTag := a.nameTag
	if nameTag == _EMPTY_ {
		nameTag = a.Name
	}
	return nameTag
}

// Do not account for the system accounts.
func (a *Account) numLocalConnections() int {
	return len(a.clients) - int(a.sysclients) - int(a.nleafs)
}

func (a *Account) numLocalLeafNodes() int {
	return int(a.nleafs)
}

// updateAccountClaims is the writer: nats-server's
// updateAccountClaimsWithRefresh sets the name tag under a.mu.Lock.
func (s *Server) updateAccountClaims(a *Account, name string) { // want updateAccountClaims:`^Lock\(p0\.mu\)$`
	a.mu.Lock()
	a.nameTag = name
	a.updated = time.Now()
	a.mu.Unlock()
}

// ExtExport is an export as the monitoring endpoint shows it.
type ExtExport struct {
	Subject          string
	ApprovedAccounts []string
	TokenReq         bool
}

// AccountInfo is what /accountz returns for one account.
type AccountInfo struct {
	AccountName string
	LastUpdate  time.Time
	IsSystem    bool
	Complete    bool
	LeafCnt     int
	ClientCnt   int
	Exports     []ExtExport
	Jwt         string
	NameTag     string
}

// Server is our main struct.
type Server struct {
	accounts sync.Map
	sys      *Account
}

func (s *Server) SystemAccount() *Account { return s.sys }

func (s *Server) accountInfo(accName string) (*AccountInfo, error) {
	var a *Account
	if v, ok := s.accounts.Load(accName); !ok {
		return nil, fmt.Errorf("Account %s does not exist", accName)
	} else {
		a = v.(*Account)
	}
	isSys := a == s.SystemAccount()
	a.mu.RLock()
	defer a.mu.RUnlock()
	exports := []ExtExport{}
	for k, v := range a.exports.services {
		e := ExtExport{Subject: k, ApprovedAccounts: []string{}}
		if v != nil {
			e.TokenReq = v.tokenReq
			for name := range v.approved {
				e.ApprovedAccounts = append(e.ApprovedAccounts, name)
			}
		}
		exports = append(exports, e)
	}
	return &AccountInfo{
		AccountName: accName,
		LastUpdate:  a.updated.UTC(),
		IsSystem:    isSys,
		Complete:    !a.incomplete,
		LeafCnt:     a.numLocalLeafNodes(),
		ClientCnt:   a.numLocalConnections(),
		Exports:     exports,
		Jwt:         a.claimJWT,
		NameTag:     a.getNameTagLocked(),
	}, nil
}

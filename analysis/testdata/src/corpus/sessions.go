// Package corpus holds realistic code with the map bugs mapvet finds, and
// the correct code around them that it must leave alone.
package corpus

import (
	"errors"
	"sync"
	"time"

	"github.com/mapguard/mapguard"
)

type Session struct {
	User    string
	Expires time.Time
}

// SessionStore is the kind of session table a login service keeps.
type SessionStore struct {
	byID  sync.Map // string -> *Session
	users *mapguard.Map[string, int]
}

var ErrExists = errors.New("session exists")

func (s *SessionStore) Create(id, user string) error {
	if _, ok := s.byID.Load(id); ok {
		return ErrExists
	}
	s.byID.Store(id, &Session{User: user, Expires: time.Now().Add(time.Hour)}) // want `Store of s.byID after a Load of the same key`
	n, _ := s.users.Load(user)
	s.users.Store(user, n+1) // want `Store of s.users after a Load of the same key`
	return nil
}

// CreateAtomic is the fixed version.
func (s *SessionStore) CreateAtomic(id, user string) error {
	if _, loaded := s.byID.LoadOrStore(id, &Session{User: user}); loaded {
		return ErrExists
	}
	s.users.Compute(user, func(n int, _ bool) (int, mapguard.ComputeOp) { return n + 1, mapguard.UpdateOp })
	return nil
}

func (s *SessionStore) Expire(now time.Time) {
	s.byID.Range(func(k, v any) bool {
		if v.(*Session).Expires.Before(now) {
			s.byID.Delete(k) // fine: sync.Map allows it
		}
		return true
	})
}

func (s *SessionStore) Touch(id string) {
	v, ok := s.byID.Load(id)
	if !ok {
		return
	}
	sess := *v.(*Session)
	sess.Expires = time.Now().Add(time.Hour)
	s.byID.Store(id, &sess) // want `Store of s.byID after a Load of the same key`
}

// Package gorbac reproduces the part of github.com/mikespook/gorbac
// (rbac.go and helper.go at 0164e7a) behind
// https://github.com/mikespook/gorbac/issues/21: Walk holds the RBAC's
// write lock while it calls the handler, so a handler that calls Add (or
// IsGranted) on the same RBAC deadlocks.
package gorbac

import (
	"errors"
	"sync"
)

var (
	// ErrRoleNotExist occurred if a role cann't be found
	ErrRoleNotExist = errors.New("Role does not exist")
	// ErrRoleExist occurred if a role shouldn't be found
	ErrRoleExist = errors.New("Role has already existed")
)

// Role is an interface.
type Role interface {
	ID() string
}

// Roles is a map
type Roles map[string]Role

// RBAC object, in most cases it should be used as a singleton.
type RBAC struct {
	mutex   sync.RWMutex
	roles   Roles
	parents map[string]map[string]struct{}
}

// New returns a RBAC structure.
func New() *RBAC {
	return &RBAC{roles: make(Roles), parents: make(map[string]map[string]struct{})}
}

// Add a role `r`.
func (rbac *RBAC) Add(r Role) (err error) { // want Add:`^Lock\(recv\.mutex\)$`
	rbac.mutex.Lock()
	if _, ok := rbac.roles[r.ID()]; !ok {
		rbac.roles[r.ID()] = r
	} else {
		err = ErrRoleExist
	}
	rbac.mutex.Unlock()
	return
}

// Get the role by `id` and a slice of its parents id.
func (rbac *RBAC) Get(id string) (r Role, parents []string, err error) { // want Get:`^RLock\(recv\.mutex\)$`
	rbac.mutex.RLock()
	var ok bool
	if r, ok = rbac.roles[id]; ok {
		for parent := range rbac.parents[id] {
			parents = append(parents, parent)
		}
	} else {
		err = ErrRoleNotExist
	}
	rbac.mutex.RUnlock()
	return
}

// WalkHandler is a function defined by user to handle role
type WalkHandler func(Role, []string) error

// Walk passes each Role to WalkHandler
func Walk(rbac *RBAC, h WalkHandler) (err error) { // want Walk:`^Lock\(p0\.mutex\); calls p1 under Lock\(p0\.mutex\)$`
	if h == nil {
		return
	}
	rbac.mutex.Lock()
	defer rbac.mutex.Unlock()
	for id := range rbac.roles {
		var parents []string
		r := rbac.roles[id]
		for parent := range rbac.parents[id] {
			parents = append(parents, parent)
		}
		if err := h(r, parents); err != nil {
			return err
		}
	}
	return
}

// StdRole is the default role implement
type StdRole struct {
	IDStr string
}

// NewStdRole is the default role factory function.
func NewStdRole(id string) *StdRole { return &StdRole{IDStr: id} }

// ID returns the role's identity name.
func (role *StdRole) ID() string { return role.IDStr }

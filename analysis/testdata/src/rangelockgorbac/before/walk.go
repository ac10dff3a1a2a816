// Package before is the caller from
// https://github.com/mikespook/gorbac/issues/21 (ccamel's
// TestRBACDeadLock, 2019-03-20): rbac.Add inside the Walk handler.
package before

import "rangelockgorbac/gorbac"

func deadlock() {
	rbac := gorbac.New()
	rbac.Add(gorbac.NewStdRole("role-a"))

	gorbac.Walk(rbac, func(role gorbac.Role, strings []string) error {
		// -> boom: deadlock!
		rbac.Add(gorbac.NewStdRole("role-b")) // want `rbac.Add locks rbac.mutex, whose write lock Walk holds while it calls this callback: self-deadlock`
		return nil
	})
}

func readInWalk(rbac *gorbac.RBAC) { // want readInWalk:`^Lock\(p0\.mutex\)$`
	gorbac.Walk(rbac, func(role gorbac.Role, parents []string) error {
		_, _, err := rbac.Get(role.ID()) // want `rbac.Get locks rbac.mutex, whose write lock Walk holds`
		return err
	})
}

// Package after is the workaround for
// https://github.com/mikespook/gorbac/issues/21 (the issue is still open
// upstream): the handler only collects, and the roles are added after
// Walk has released the lock.
package after

import "rangelockgorbac/gorbac"

func collectThenAdd() error {
	rbac := gorbac.New()
	rbac.Add(gorbac.NewStdRole("role-a"))

	var derived []gorbac.Role
	err := gorbac.Walk(rbac, func(role gorbac.Role, parents []string) error {
		derived = append(derived, gorbac.NewStdRole(role.ID()+"-b"))
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range derived {
		if err := rbac.Add(r); err != nil {
			return err
		}
	}
	return nil
}

// otherRBAC adds to a different RBAC than the one walked.
func otherRBAC(src, dst *gorbac.RBAC) error { // want otherRBAC:`^Lock\(p0\.mutex\)$`
	return gorbac.Walk(src, func(role gorbac.Role, parents []string) error {
		return dst.Add(role)
	})
}

// Package stree stands in for nats-server's server/stree: a subject tree
// with no lock of its own (the memStore's lock guards it). Only the
// methods memStore calls are here, over a map.
package stree

// SubjectTree is an adaptive radix trie for subjects in nats-server; a
// map here.
type SubjectTree[T any] struct {
	m map[string]*T
}

// NewSubjectTree creates a new SubjectTree with values T.
func NewSubjectTree[T any]() *SubjectTree[T] {
	return &SubjectTree[T]{m: make(map[string]*T)}
}

// Size returns the number of elements stored.
func (t *SubjectTree[T]) Size() int { return len(t.m) }

// Insert stores value under subject.
func (t *SubjectTree[T]) Insert(subject []byte, value T) {
	t.m[string(subject)] = &value
}

// IterFast walks all subjects in no particular order; cb returns false
// to stop.
func (t *SubjectTree[T]) IterFast(cb func(subject []byte, val *T) bool) {
	for k, v := range t.m {
		if !cb([]byte(k), v) {
			return
		}
	}
}

// Match calls cb for each subject that matches filter (here: equal).
func (t *SubjectTree[T]) Match(filter []byte, cb func(subject []byte, val *T)) {
	if v, ok := t.m[string(filter)]; ok {
		cb(filter, v)
	}
}

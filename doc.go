// Package mapguard provides concurrent maps for Go that are safe to iterate
// while other goroutines write.
//
// [Map] is the general-purpose map: a drop-in replacement for sync.Map with
// the same method names, typed keys and values, lock-free reads and
// iteration, per-bucket locking for writes, and a constant-time [Map.Size].
//
// The package imports only the standard library.
package mapguard

// noCopy may be embedded in structs that must not be copied after first use.
// go vet's copylocks check reports copies of any struct holding one.
type noCopy struct{}

// Lock is a no-op used by go vet's copylocks check.
func (*noCopy) Lock() {}

// Unlock is a no-op used by go vet's copylocks check.
func (*noCopy) Unlock() {}

// Package mapguard is a stub of the real package's API for analyzer tests.
package mapguard

type ComputeOp int

const (
	CancelOp ComputeOp = iota
	UpdateOp
	DeleteOp
)

type Map[K comparable, V any] struct{}

func NewMap[K comparable, V any]() *Map[K, V]                           { return &Map[K, V]{} }
func (m *Map[K, V]) Load(key K) (value V, ok bool)                      { return }
func (m *Map[K, V]) Store(key K, value V)                               {}
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) { return }
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool)         { return }
func (m *Map[K, V]) Delete(key K)                                       {}
func (m *Map[K, V]) Range(f func(key K, value V) bool)                  {}
func (m *Map[K, V]) Size() int                                          { return 0 }
func (m *Map[K, V]) LoadOrCompute(key K, fn func() (V, bool)) (V, bool) { var v V; return v, false }
func (m *Map[K, V]) Compute(key K, fn func(old V, loaded bool) (V, ComputeOp)) (V, bool) {
	var v V
	return v, false
}

// Package cmap is a stub of the real package's API for analyzer tests.
package cmap

type ConcurrentMap[K comparable, V any] struct{}

type UpsertCb[V any] func(exist bool, valueInMap V, newValue V) V

func New[V any]() ConcurrentMap[string, V]                            { return ConcurrentMap[string, V]{} }
func (m ConcurrentMap[K, V]) Get(key K) (V, bool)                     { var v V; return v, false }
func (m ConcurrentMap[K, V]) Set(key K, value V)                      {}
func (m ConcurrentMap[K, V]) SetIfAbsent(key K, value V) bool         { return false }
func (m ConcurrentMap[K, V]) Remove(key K)                            {}
func (m ConcurrentMap[K, V]) Has(key K) bool                          { return false }
func (m ConcurrentMap[K, V]) Count() int                              { return 0 }
func (m ConcurrentMap[K, V]) IterCb(fn func(key K, v V))              {}
func (m ConcurrentMap[K, V]) Upsert(key K, value V, cb UpsertCb[V]) V { return value }

// Package omap reproduces the deadlock fixed by
// https://github.com/yaklang/yaklang/pull/4440 ("fix(omap): avoid
// deadlock calling locked methods inside ForEach"): OrderedMap
// (common/utils/omap/ordered.go at 03b47ec) holds its read lock, a
// *sync.RWMutex field, while ForEach calls the handler; a handler that
// calls a locked method of the same map waits for itself. The caller is
// ours: the pull request names the shape, not the call site.
package omap

import "sync"

type OrderedMap[T comparable, V any] struct {
	lock     *sync.RWMutex
	m        map[T]V
	namedKey bool
	keyChain []T
}

func NewEmptyOrderedMap[T comparable, V any]() *OrderedMap[T, V] {
	return &OrderedMap[T, V]{lock: new(sync.RWMutex), m: make(map[T]V), keyChain: make([]T, 0)}
}

func (o *OrderedMap[T, V]) Set(key T, v V) { // want Set:`^Lock\(recv\.lock\)$`
	o.lock.Lock()
	defer o.lock.Unlock()

	_, ok := o.m[key]
	if !ok {
		o.m[key] = v
		o.keyChain = append(o.keyChain, key)
		o.namedKey = true
		return
	}
	o.m[key] = v
	o.namedKey = true
}

func (o *OrderedMap[T, V]) Delete(key T) { // want Delete:`^Lock\(recv\.lock\)$`
	o.lock.Lock()
	defer o.lock.Unlock()

	delete(o.m, key)
	var index = -1
	for i, k := range o.keyChain {
		if k == key {
			index = i
			break
		}
	}
	if index == -1 {
		return
	}
	after := make([]T, len(o.keyChain)-1)
	copy(after, o.keyChain[:index])
	copy(after[index:], o.keyChain[index+1:])
	o.keyChain = after
}

func (o *OrderedMap[T, V]) ForEach(handler func(i T, v V) bool) { // want ForEach:`^RLock\(recv\.lock\); calls p0 under RLock\(recv\.lock\)$`
	o.lock.RLock()
	defer o.lock.RUnlock()

	for _, key := range o.keyChain {
		v, ok := o.m[key]
		if !ok {
			continue
		}
		if !handler(key, v) {
			break
		}
	}
}

// dropEmpty deletes the entries whose value is empty.
func dropEmpty(o *OrderedMap[string, any]) { // want dropEmpty:`^RLock\(p0\.lock\)$`
	o.ForEach(func(k string, v any) bool {
		if v == nil {
			o.Delete(k) // want `o.Delete locks o.lock, whose read lock ForEach holds while it calls this callback: self-deadlock`
		}
		return true
	})
}

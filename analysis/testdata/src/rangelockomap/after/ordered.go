// Package omap is rangelockomap/before with ForEach fixed as
// https://github.com/yaklang/yaklang/pull/4440 describes: the keys and
// values are copied under the read lock and the handler runs after it is
// released, so the handler may call the map's locked methods.
package omap

import "sync"

type OrderedMap[T comparable, V any] struct {
	lock     *sync.RWMutex
	m        map[T]V
	keyChain []T
}

func (o *OrderedMap[T, V]) Delete(key T) { // want Delete:`^Lock\(recv\.lock\)$`
	o.lock.Lock()
	defer o.lock.Unlock()

	delete(o.m, key)
	for i, k := range o.keyChain {
		if k == key {
			o.keyChain = append(o.keyChain[:i:i], o.keyChain[i+1:]...)
			break
		}
	}
}

func (o *OrderedMap[T, V]) ForEach(handler func(i T, v V) bool) { // want ForEach:`^RLock\(recv\.lock\)$`
	o.lock.RLock()
	keys := make([]T, 0, len(o.keyChain))
	values := make([]V, 0, len(o.keyChain))
	for _, key := range o.keyChain {
		if v, ok := o.m[key]; ok {
			keys = append(keys, key)
			values = append(values, v)
		}
	}
	o.lock.RUnlock()

	for i, key := range keys {
		if !handler(key, values[i]) {
			break
		}
	}
}

// dropEmpty deletes the entries whose value is empty.
func dropEmpty(o *OrderedMap[string, any]) { // want dropEmpty:`^RLock\(p0\.lock\)$`
	o.ForEach(func(k string, v any) bool {
		if v == nil {
			o.Delete(k)
		}
		return true
	})
}

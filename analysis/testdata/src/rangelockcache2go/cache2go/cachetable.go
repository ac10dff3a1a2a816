// Package cache2go reproduces the part of github.com/muesli/cache2go
// (cache.go, cachetable.go and cacheitem.go at 518229c) behind
// https://github.com/muesli/cache2go/issues/43: CacheTable.Foreach holds
// the table's read lock (an embedded sync.RWMutex) while it calls trans,
// so a trans that calls Delete on the same table waits for itself.
// deleteInternal, which Delete and expirationCheck call with the lock
// held, releases it around the callbacks and takes it again.
package cache2go

import (
	"errors"
	"sync"
	"time"
)

// ErrKeyNotFound gets returned when a specific key couldn't be found
var ErrKeyNotFound = errors.New("Key not found in cache")

var (
	cache = make(map[string]*CacheTable)
	mutex sync.RWMutex
)

// Cache returns the existing cache table with given name or creates a new one
// if the table does not exist yet.
func Cache(table string) *CacheTable {
	mutex.RLock()
	t, ok := cache[table]
	mutex.RUnlock()

	if !ok {
		mutex.Lock()
		t, ok = cache[table]
		if !ok {
			t = &CacheTable{name: table, items: make(map[interface{}]*CacheItem)}
			cache[table] = t
		}
		mutex.Unlock()
	}
	return t
}

// CacheItem is an individual cache item
type CacheItem struct {
	sync.RWMutex

	key           interface{}
	data          interface{}
	lifeSpan      time.Duration
	accessedOn    time.Time
	aboutToExpire []func(key interface{})
}

// NewCacheItem returns a newly created CacheItem.
func NewCacheItem(key interface{}, lifeSpan time.Duration, data interface{}) *CacheItem {
	return &CacheItem{key: key, lifeSpan: lifeSpan, accessedOn: time.Now(), data: data}
}

// CacheTable is a table within the cache
type CacheTable struct {
	sync.RWMutex

	name              string
	items             map[interface{}]*CacheItem
	cleanupTimer      *time.Timer
	cleanupInterval   time.Duration
	addedItem         []func(item *CacheItem)
	aboutToDeleteItem []func(item *CacheItem)
}

// Count returns how many items are currently stored in the cache.
func (table *CacheTable) Count() int { // want Count:`^RLock\(recv\.RWMutex\)$`
	table.RLock()
	defer table.RUnlock()
	return len(table.items)
}

// Foreach all items
func (table *CacheTable) Foreach(trans func(key interface{}, item *CacheItem)) { // want Foreach:`^RLock\(recv\.RWMutex\); calls p0 under RLock\(recv\.RWMutex\)$`
	table.RLock()
	defer table.RUnlock()

	for k, v := range table.items {
		trans(k, v)
	}
}

// AddAboutToDeleteItemCallback appends a new callback to the AboutToDeleteItem queue
func (table *CacheTable) AddAboutToDeleteItemCallback(f func(*CacheItem)) { // want AddAboutToDeleteItemCallback:`^Lock\(recv\.RWMutex\)$`
	table.Lock()
	defer table.Unlock()
	table.aboutToDeleteItem = append(table.aboutToDeleteItem, f)
}

// Expiration check loop, triggered by a self-adjusting timer.
func (table *CacheTable) expirationCheck() { // want expirationCheck:`^Lock\(recv\.RWMutex\)$`
	table.Lock()
	if table.cleanupTimer != nil {
		table.cleanupTimer.Stop()
	}
	now := time.Now()
	smallestDuration := 0 * time.Second
	for key, item := range table.items {
		// Cache values so we don't keep blocking the mutex.
		item.RLock()
		lifeSpan := item.lifeSpan
		accessedOn := item.accessedOn
		item.RUnlock()

		if lifeSpan == 0 {
			continue
		}
		if now.Sub(accessedOn) >= lifeSpan {
			table.deleteInternal(key)
		} else if smallestDuration == 0 || lifeSpan-now.Sub(accessedOn) < smallestDuration {
			smallestDuration = lifeSpan - now.Sub(accessedOn)
		}
	}

	table.cleanupInterval = smallestDuration
	if smallestDuration > 0 {
		table.cleanupTimer = time.AfterFunc(smallestDuration, func() {
			go table.expirationCheck()
		})
	}
	table.Unlock()
}

// addInternal must be called with the table locked; it unlocks it.
func (table *CacheTable) addInternal(item *CacheItem) { // want addInternal:`^Lock\(recv\.RWMutex\); releases Lock\(recv\.RWMutex\)$`
	table.items[item.key] = item

	expDur := table.cleanupInterval
	addedItem := table.addedItem
	table.Unlock()

	if addedItem != nil {
		for _, callback := range addedItem {
			callback(item)
		}
	}

	if item.lifeSpan > 0 && (expDur == 0 || item.lifeSpan < expDur) {
		table.expirationCheck()
	}
}

// Add adds a key/value pair to the cache.
func (table *CacheTable) Add(key interface{}, lifeSpan time.Duration, data interface{}) *CacheItem { // want Add:`^Lock\(recv\.RWMutex\)$`
	item := NewCacheItem(key, lifeSpan, data)

	table.Lock()
	table.addInternal(item)

	return item
}

func (table *CacheTable) deleteInternal(key interface{}) (*CacheItem, error) {
	r, ok := table.items[key]
	if !ok {
		return nil, ErrKeyNotFound
	}

	// Cache value so we don't keep blocking the mutex.
	aboutToDeleteItem := table.aboutToDeleteItem
	table.Unlock()

	if aboutToDeleteItem != nil {
		for _, callback := range aboutToDeleteItem {
			callback(r)
		}
	}

	r.RLock()
	defer r.RUnlock()
	if r.aboutToExpire != nil {
		for _, callback := range r.aboutToExpire {
			callback(key)
		}
	}

	table.Lock()
	delete(table.items, key)

	return r, nil
}

// Delete an item from the cache.
func (table *CacheTable) Delete(key interface{}) (*CacheItem, error) { // want Delete:`^Lock\(recv\.RWMutex\)$`
	table.Lock()
	defer table.Unlock()

	return table.deleteInternal(key)
}

// Exists returns whether an item exists in the cache.
func (table *CacheTable) Exists(key interface{}) bool { // want Exists:`^RLock\(recv\.RWMutex\)$`
	table.RLock()
	defer table.RUnlock()
	_, ok := table.items[key]

	return ok
}

// Package main is rangelockcache2go/before with the workaround for
// https://github.com/muesli/cache2go/issues/43 (the issue is still open
// upstream): the Foreach callback only collects the keys, and they are
// deleted after Foreach returns. Exists in the callback would read-lock
// the table again, so the callback checks nothing.
package main

import (
	"fmt"
	"time"

	"rangelockcache2go/cache2go"
)

func main() {
	store := cache2go.Cache("test")
	store.AddAboutToDeleteItemCallback(func(v *cache2go.CacheItem) {
		fmt.Println("delete:", v)
	})

	key := "test1"
	store.Add(key, time.Second*1800, "asdfasdfasd")
	store.Delete(key)

	store.Add(key, time.Second*1800, "asdfasdfasd")

	go func() {
		time.Sleep(time.Second * 2)

		var keys []interface{}
		store.Foreach(func(key interface{}, v *cache2go.CacheItem) {
			keys = append(keys, key)
		})
		for _, key := range keys {
			store.Delete(key)
		}
		fmt.Println("deleted", len(keys), "of", store.Count())
	}()

	time.Sleep(time.Second * 10)
}

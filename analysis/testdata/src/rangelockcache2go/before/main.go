// Package main is the program from
// https://github.com/muesli/cache2go/issues/43 (itchenyi, 2019-11-25):
// store.Delete inside the Foreach callback, run from a goroutine.
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
	fmt.Println("fitst delete:")
	store.Delete(key)

	store.Add(key, time.Second*1800, "asdfasdfasd")

	go func() {
		time.Sleep(time.Second * 2)
		fmt.Println("goroutine delete:")

		store.Foreach(func(key interface{}, v *cache2go.CacheItem) {
			fmt.Println("start")
			store.Delete(key) // want `store.Delete locks store.RWMutex, whose read lock Foreach holds while it calls this callback: self-deadlock`
			fmt.Println("end")
		})
	}()

	time.Sleep(time.Second * 10)
}

package lockset

import (
	"errors"
	"sync"
)

// nsq's Channel at commit 3103474b6c5afe8feca0a598797e82c06ed726e3
// (nsqd/channel.go), reduced: exitMutex is read-locked around every use
// of the channel (put, the deferred-queue scan) and write-locked by exit;
// deferredMutex, declared after it, is locked around each access of
// deferredMessages. Writes hold both, exitMutex for reading: the guard is
// deferredMutex, and the delete under exitMutex.RLock is safe.

type nsqItem struct{ pri int64 }

type nsqChannel struct {
	exitMutex sync.RWMutex
	exitFlag  bool

	deferredMessages map[string]*nsqItem
	deferredMutex    sync.Mutex

	inFlightMessages map[string]int64
	inFlightMutex    sync.Mutex
}

func newNsqChannel() *nsqChannel {
	c := &nsqChannel{}
	c.deferredMessages = make(map[string]*nsqItem)
	c.inFlightMessages = make(map[string]int64)
	return c
}

func (c *nsqChannel) PutMessageDeferred(id string, pri int64) error {
	c.exitMutex.RLock()
	defer c.exitMutex.RUnlock()
	if c.exitFlag {
		return errors.New("exiting")
	}
	return c.pushDeferredMessage(id, &nsqItem{pri: pri})
}

func (c *nsqChannel) pushDeferredMessage(id string, item *nsqItem) error {
	c.deferredMutex.Lock()
	_, ok := c.deferredMessages[id]
	if ok {
		c.deferredMutex.Unlock()
		return errors.New("ID already deferred")
	}
	c.deferredMessages[id] = item
	c.deferredMutex.Unlock()
	return nil
}

func (c *nsqChannel) popDeferredMessage(id string) (*nsqItem, error) {
	c.deferredMutex.Lock()
	item, ok := c.deferredMessages[id]
	if !ok {
		c.deferredMutex.Unlock()
		return nil, errors.New("ID not deferred")
	}
	delete(c.deferredMessages, id) // silent: deferredMutex is held
	c.deferredMutex.Unlock()
	return item, nil
}

func (c *nsqChannel) ProcessDeferredQueue(ids []string) bool {
	c.exitMutex.RLock()
	defer c.exitMutex.RUnlock()
	dirty := false
	for _, id := range ids {
		if _, err := c.popDeferredMessage(id); err == nil {
			dirty = true
		}
	}
	return dirty
}

func (c *nsqChannel) StartInFlightTimeout(id string, at int64) error {
	c.inFlightMutex.Lock()
	defer c.inFlightMutex.Unlock()
	if _, ok := c.inFlightMessages[id]; ok {
		return errors.New("ID already in flight")
	}
	c.inFlightMessages[id] = at
	return nil
}

func (c *nsqChannel) FinishMessage(id string) {
	c.inFlightMutex.Lock()
	delete(c.inFlightMessages, id)
	c.inFlightMutex.Unlock()
}

func (c *nsqChannel) Close() int {
	c.exitMutex.Lock()
	defer c.exitMutex.Unlock()
	c.exitFlag = true
	return c.flush()
}

// flush runs with exitMutex locked for writing: every write of
// deferredMessages read-locks it, but no write of inFlightMessages does.
func (c *nsqChannel) flush() int {
	n := len(c.deferredMessages)
	n += len(c.inFlightMessages) // want `len of c.inFlightMessages without c.inFlightMutex held`
	c.deferredMutex.Lock()
	for range c.deferredMessages {
		n++
	}
	c.deferredMutex.Unlock()
	return n
}

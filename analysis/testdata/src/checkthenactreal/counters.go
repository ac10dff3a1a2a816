package checkthenactreal

import (
	"math"
	"sync"
)

// From orian/counters, counter.go, in https://github.com/orian/counters/pull/5
// ("go1.9 sync.Map"): the review found that GetCounter and GetMin, moved
// from an RWMutex-guarded map to sync.Map, Load and then Store, so two
// goroutines can each create a counter and one of them counts into a
// counter the box no longer holds. The merged version uses LoadOrStore.

type Counter interface {
	Increment()
	Name() string
}

type MaxMinValue interface {
	Set(int64)
	Name() string
}

type counterImpl struct {
	name  string
	value int64
}

func (c *counterImpl) Increment()   { c.value++ }
func (c *counterImpl) Name() string { return c.name }

type minImpl struct {
	name  string
	value int64
}

func (m *minImpl) Set(v int64) {
	if v < m.value {
		m.value = v
	}
}
func (m *minImpl) Name() string { return m.name }

type CounterBox struct {
	counters *sync.Map
	min      *sync.Map
}

// GetCounter returns a counter of given name, if doesn't exist than create.
func (c *CounterBox) GetCounter(name string) (v Counter) {
	value, ok := c.counters.Load(name)
	if ok {
		v, ok = value.(Counter)
	}
	if !ok {
		v = &counterImpl{name, 0}
		c.counters.Store(name, v) // want `Store of c.counters after a Load of the same key at line 51`
	}
	return v
}

func (c *CounterBox) GetMin(name string) (v MaxMinValue) {
	value, ok := c.min.Load(name)
	if ok {
		v, ok = value.(MaxMinValue)
	}
	if !ok {
		v = &minImpl{name, math.MaxInt64}
		c.min.Store(name, v) // want `Store of c.min after a Load of the same key`
	}
	return v
}

// GetCounterFixed is the merged version.
func (c *CounterBox) GetCounterFixed(name string) Counter {
	value, ok := c.counters.Load(name)
	if !ok {
		value, _ = c.counters.LoadOrStore(name, &counterImpl{name, 0})
	}
	return value.(Counter)
}

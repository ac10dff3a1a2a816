package locksetreal

import (
	"encoding/json"
	"strings"
	"sync"
)

// aquaproj/aqua, pkg/checksum: "fatal error: concurrent map writes",
// fixed by https://github.com/aquaproj/aqua/pull/1875 ("get a write lock
// before writing a map"). Get records each key it is asked for in newM
// (so that Prune keeps only used checksums) but took the read lock, and
// packages are installed by parallel goroutines that all call Get.

type Checksum struct {
	ID        string `json:"id"`
	Checksum  string `json:"checksum"`
	Algorithm string `json:"algorithm"`
}

type Checksums struct {
	m       map[string]*Checksum
	newM    map[string]*Checksum
	rwmutex *sync.RWMutex
	changed bool
}

func NewChecksums() *Checksums {
	return &Checksums{
		m:       map[string]*Checksum{},
		newM:    map[string]*Checksum{},
		rwmutex: &sync.RWMutex{},
	}
}

func (c *Checksums) Get(key string) *Checksum {
	c.rwmutex.RLock()
	chk := c.m[key]
	if chk != nil {
		c.newM[key] = chk // want `write to c.newM under c.rwmutex.RLock only`
	}
	c.rwmutex.RUnlock()
	return chk
}

func (c *Checksums) Set(key string, chk *Checksum) {
	chk.Checksum = strings.ToUpper(chk.Checksum)
	c.rwmutex.Lock()
	if _, ok := c.m[key]; !ok {
		c.m[key] = chk
		c.changed = true
	}
	if _, ok := c.newM[key]; !ok {
		c.newM[key] = chk
	}
	c.rwmutex.Unlock()
}

func (c *Checksums) Prune() {
	c.rwmutex.Lock()
	if len(c.m) != len(c.newM) {
		c.changed = true
	}
	c.m = c.newM
	c.rwmutex.Unlock()
}

type checksumsJSON struct {
	Checksums []*Checksum `json:"checksums"`
}

func (c *Checksums) UnmarshalJSON(b []byte) error {
	chkJSON := &checksumsJSON{}
	if err := json.Unmarshal(b, chkJSON); err != nil {
		return err
	}
	for _, chk := range chkJSON.Checksums {
		c.m[chk.ID] = chk
	}
	return nil
}

// ChecksumsFixed is the same type after the fix: Get takes the write lock.
type ChecksumsFixed struct {
	m       map[string]*Checksum
	newM    map[string]*Checksum
	rwmutex *sync.RWMutex
	changed bool
}

func (c *ChecksumsFixed) Get(key string) *Checksum {
	c.rwmutex.Lock()
	chk := c.m[key]
	if chk != nil {
		c.newM[key] = chk
	}
	c.rwmutex.Unlock()
	return chk
}

func (c *ChecksumsFixed) Set(key string, chk *Checksum) {
	chk.Checksum = strings.ToUpper(chk.Checksum)
	c.rwmutex.Lock()
	if _, ok := c.m[key]; !ok {
		c.m[key] = chk
		c.changed = true
	}
	if _, ok := c.newM[key]; !ok {
		c.newM[key] = chk
	}
	c.rwmutex.Unlock()
}

func (c *ChecksumsFixed) Prune() {
	c.rwmutex.Lock()
	if len(c.m) != len(c.newM) {
		c.changed = true
	}
	c.m = c.newM
	c.rwmutex.Unlock()
}

func (c *ChecksumsFixed) UnmarshalJSON(b []byte) error {
	chkJSON := &checksumsJSON{}
	if err := json.Unmarshal(b, chkJSON); err != nil {
		return err
	}
	for _, chk := range chkJSON.Checksums {
		c.m[chk.ID] = chk
	}
	return nil
}

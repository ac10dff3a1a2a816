// Package checkthenactreal reproduces lost updates that real projects
// shipped, each with the structure it had, and the fix that removed it.
package checkthenactreal

import "sync"

// From elastic/cloud-on-k8s, pkg/controller/common/expectations/per_cluster.go,
// fixed by https://github.com/elastic/cloud-on-k8s/pull/9193 ("Fix race
// condition in ClustersExpectation.create"): two reconciles of one
// cluster both miss in get and both create, and the second overwrites
// the first one's Expectations. get and create each lock c.lock on
// their own.

type NamespacedName struct{ Namespace, Name string }

type Client interface {
	Get(key NamespacedName) error
}

type Expectations struct {
	client      Client
	generations map[string]int64
}

func NewExpectations(client Client) *Expectations {
	return &Expectations{client: client, generations: map[string]int64{}}
}

// ClustersExpectation stores Expectations for several clusters.
// It is thread-safe, but the underlying per-cluster Expectations is not.
type ClustersExpectation struct {
	client   Client
	clusters map[NamespacedName]*Expectations
	lock     sync.RWMutex
}

// ForCluster returns the expectations for the given cluster.
func (c *ClustersExpectation) ForCluster(cluster NamespacedName) *Expectations {
	expectations, ok := c.get(cluster)
	if !ok {
		expectations = c.create(cluster) // want `create of c after get of the same key at line 39, with no lock held across both`
	}
	return expectations
}

// RemoveCluster removes existing expectations for the given cluster.
func (c *ClustersExpectation) RemoveCluster(cluster NamespacedName) {
	c.lock.Lock()
	defer c.lock.Unlock()
	delete(c.clusters, cluster)
}

func (c *ClustersExpectation) get(cluster NamespacedName) (*Expectations, bool) { // want get:`reads .clusters\[cluster\] under lock`
	c.lock.RLock()
	defer c.lock.RUnlock()
	expectations, ok := c.clusters[cluster]
	return expectations, ok
}

func (c *ClustersExpectation) create(cluster NamespacedName) *Expectations { // want create:`writes .clusters\[cluster\] under lock`
	expectations := NewExpectations(c.client)
	c.lock.Lock()
	defer c.lock.Unlock()
	c.clusters[cluster] = expectations
	return expectations
}

// FixedClustersExpectation is the same type after the fix: create takes
// the lock first and checks again, so it is no longer a blind write.
type FixedClustersExpectation struct {
	client   Client
	clusters map[NamespacedName]*Expectations
	lock     sync.RWMutex
}

func (c *FixedClustersExpectation) ForCluster(cluster NamespacedName) *Expectations {
	expectations, ok := c.get(cluster)
	if !ok {
		expectations = c.create(cluster)
	}
	return expectations
}

func (c *FixedClustersExpectation) RemoveCluster(cluster NamespacedName) {
	c.lock.Lock()
	defer c.lock.Unlock()
	delete(c.clusters, cluster)
}

func (c *FixedClustersExpectation) get(cluster NamespacedName) (*Expectations, bool) { // want get:`reads .clusters\[cluster\] under lock`
	c.lock.RLock()
	defer c.lock.RUnlock()
	expectations, ok := c.clusters[cluster]
	return expectations, ok
}

func (c *FixedClustersExpectation) create(cluster NamespacedName) *Expectations {
	c.lock.Lock()
	defer c.lock.Unlock()
	// double-checked locking: another goroutine may have created it
	if expectations, exists := c.clusters[cluster]; exists {
		return expectations
	}
	expectations := NewExpectations(c.client)
	c.clusters[cluster] = expectations
	return expectations
}

package observe

import (
	"github.com/prometheus/client_golang/prometheus"
)

// tableStats is what the collector reads from a map at scrape time.
type tableStats struct {
	entries, capacity      int
	grows, shrinks, clears uint64
	lockedReads            uint64
	hasTable               bool // capacity, resizes and locked reads are meaningful
}

// Collector is the Prometheus collector of one instrumented map. It reads
// the map's Stats and sums the striped operation counters when scraped;
// nothing is exported between scrapes. Operation counts are exact while
// the map is quiet and estimates while it is busy (see WithExactCounts). Every series carries the constant
// label map="<name>".
type Collector struct {
	in       *instrument
	stats    func() (tableStats, bool)
	entries  *prometheus.Desc
	capacity *prometheus.Desc
	resizes  *prometheus.Desc
	locked   *prometheus.Desc
	ops      *prometheus.Desc
}

func newCollector(in *instrument, stats func() (tableStats, bool)) *Collector {
	cl := prometheus.Labels{"map": in.name}
	return &Collector{
		in:       in,
		stats:    stats,
		entries:  prometheus.NewDesc("mapguard_entries", "Entries in the map.", nil, cl),
		capacity: prometheus.NewDesc("mapguard_capacity", "Entries the map's table holds before it grows.", nil, cl),
		resizes:  prometheus.NewDesc("mapguard_resizes_total", "Table replacements of the map, by direction (grow, shrink, clear).", []string{"direction"}, cl),
		locked:   prometheus.NewDesc("mapguard_locked_reads_total", "Reads of the map's inline table that writers kept invalidating until the read took the chain's lock (always 0 for an entry table).", nil, cl),
		ops:      prometheus.NewDesc("mapguard_operations_total", "Operations on the map, by operation and result (hit, miss, stored, deleted).", []string{"op", "result"}, cl),
	}
}

// Describe sends the descriptors of every metric the collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.capacity
	ch <- c.resizes
	ch <- c.locked
	ch <- c.ops
	c.in.iterSeconds.Describe(ch)
	c.in.iterEntries.Describe(ch)
}

// Collect reads the map and its counters.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if st, ok := c.stats(); ok {
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.entries))
		if st.hasTable {
			ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(st.capacity))
			ch <- prometheus.MustNewConstMetric(c.resizes, prometheus.CounterValue, float64(st.grows), "grow")
			ch <- prometheus.MustNewConstMetric(c.resizes, prometheus.CounterValue, float64(st.shrinks), "shrink")
			ch <- prometheus.MustNewConstMetric(c.resizes, prometheus.CounterValue, float64(st.clears), "clear")
			ch <- prometheus.MustNewConstMetric(c.locked, prometheus.CounterValue, float64(st.lockedReads))
		}
	}
	v := c.in.ops.values()
	for _, k := range c.in.counters {
		l := counterLabels[k]
		ch <- prometheus.MustNewConstMetric(c.ops, prometheus.CounterValue, v[k], l[0], l[1])
	}
	c.in.iterSeconds.Collect(ch)
	c.in.iterEntries.Collect(ch)
}

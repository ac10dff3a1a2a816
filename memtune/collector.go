package memtune

import "github.com/prometheus/client_golang/prometheus"

// collector exports a Tuner's Stats at scrape time.
type collector struct {
	t                                      *Tuner
	limit, memLimit, gogc, gcFrac, relaxed *prometheus.Desc
	releases, relaxations                  *prometheus.Desc
}

func (t *Tuner) register() {
	if t.cfg.reg == nil {
		return
	}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	t.cfg.reg.MustRegister(&collector{
		t:           t,
		limit:       d("mapguard_memtune_limit_bytes", "Container memory limit memtune found (or its fallback)."),
		memLimit:    d("mapguard_memtune_gomemlimit_bytes", "The Go runtime's current soft memory limit."),
		gogc:        d("mapguard_memtune_gogc", "Current GOGC."),
		gcFrac:      d("mapguard_memtune_gc_cpu_fraction", "The GC's share of CPU over the last refresh interval."),
		relaxed:     d("mapguard_memtune_relaxed", "1 while the death-spiral guard has lifted the soft limit."),
		releases:    d("mapguard_memtune_releases_total", "Times memory was returned to the OS under pressure."),
		relaxations: d("mapguard_memtune_relaxations_total", "Times the death-spiral guard lifted the soft limit."),
	})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.limit, c.memLimit, c.gogc, c.gcFrac, c.relaxed, c.releases, c.relaxations} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.t.Stats()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	g(c.limit, float64(s.Limit))
	g(c.memLimit, float64(s.MemoryLimit))
	g(c.gogc, float64(s.GOGC))
	g(c.gcFrac, s.GCCPUFraction)
	relaxed := 0.0
	if s.Relaxed {
		relaxed = 1
	}
	g(c.relaxed, relaxed)
	ch <- prometheus.MustNewConstMetric(c.releases, prometheus.CounterValue, float64(s.Releases))
	ch <- prometheus.MustNewConstMetric(c.relaxations, prometheus.CounterValue, float64(s.Relaxations))
}

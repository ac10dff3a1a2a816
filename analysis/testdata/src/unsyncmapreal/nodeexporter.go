package unsyncmapreal

import (
	"fmt"
	"sync"

	"unsyncmapreal/prometheus"
)

// prometheus/node_exporter, collector/netclass_linux.go at v1.7.0:
// netClassCollector.Update (the Collector method NodeCollector.Collect
// calls on every scrape) -> netClassSysfsUpdate -> getFieldDesc, a
// get-or-create on c.metricDescs with no lock. Two overlapping scrapes
// crashed it: fatal error: concurrent map writes at
// (*netClassCollector).getFieldDesc netclass_linux.go:148,
// https://github.com/prometheus/node_exporter/issues/3064. The fix
// (e9e27138, pull 2995) adds metricDescsMu, held for the whole
// get-or-create (netClassCollectorFixed below).

const namespace = "node"

type netClassInfo struct {
	Name    string
	Carrier *int64
	MTU     *int64
}

type netClassCollector struct {
	subsystem   string
	metricDescs map[string]*prometheus.Desc
	classes     []netClassInfo
}

func (c *netClassCollector) Update(ch chan<- prometheus.Metric) error {
	return c.netClassSysfsUpdate(ch)
}

func (c *netClassCollector) netClassSysfsUpdate(ch chan<- prometheus.Metric) error {
	for _, ifaceInfo := range c.classes {
		pushMetric(ch, c.getFieldDesc("carrier"), "carrier", ifaceInfo.Carrier, prometheus.GaugeValue, ifaceInfo.Name)
		pushMetric(ch, c.getFieldDesc("mtu_bytes"), "mtu_bytes", ifaceInfo.MTU, prometheus.GaugeValue, ifaceInfo.Name)
	}
	return nil
}

func (c *netClassCollector) getFieldDesc(name string) *prometheus.Desc {
	fieldDesc, exists := c.metricDescs[name]
	if !exists {
		fieldDesc = prometheus.NewDesc(
			prometheus.BuildFQName(namespace, c.subsystem, name),
			fmt.Sprintf("Network device property: %s", name),
			[]string{"device"},
			nil,
		)
		c.metricDescs[name] = fieldDesc // want `netClassCollector.Update writes c.metricDescs with no lock held, and the registry calls it on every scrape`
	}
	return fieldDesc
}

func pushMetric(ch chan<- prometheus.Metric, fieldDesc *prometheus.Desc, name string, value *int64, valueType prometheus.ValueType, labelValues ...string) {
	if value == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(fieldDesc, valueType, float64(*value), labelValues...)
}

type netClassCollectorFixed struct {
	subsystem     string
	metricDescs   map[string]*prometheus.Desc
	metricDescsMu sync.Mutex
	classes       []netClassInfo
}

func (c *netClassCollectorFixed) Update(ch chan<- prometheus.Metric) error {
	return c.netClassSysfsUpdate(ch)
}

func (c *netClassCollectorFixed) netClassSysfsUpdate(ch chan<- prometheus.Metric) error {
	for _, ifaceInfo := range c.classes {
		pushMetric(ch, c.getFieldDesc("carrier"), "carrier", ifaceInfo.Carrier, prometheus.GaugeValue, ifaceInfo.Name)
	}
	return nil
}

func (c *netClassCollectorFixed) getFieldDesc(name string) *prometheus.Desc {
	c.metricDescsMu.Lock()
	defer c.metricDescsMu.Unlock()

	fieldDesc, exists := c.metricDescs[name]
	if !exists {
		fieldDesc = prometheus.NewDesc(
			prometheus.BuildFQName(namespace, c.subsystem, name),
			fmt.Sprintf("Network device property: %s", name),
			[]string{"device"},
			nil,
		)
		c.metricDescs[name] = fieldDesc
	}
	return fieldDesc
}

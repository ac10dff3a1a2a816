package unsyncmapreal

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"unsyncmapreal/prometheus"
)

// gettyimages/marathon_exporter (now criteo/marathon_exporter),
// exporter.go and containers.go at 14a47c9^: Exporter.Collect ->
// scrape -> exportMetrics -> scrapeMetrics -> scrapeHistograms ->
// scrapeHistogram -> e.Gauges.Fetch, a get-or-create on the
// GaugeContainer's gauges map with no lock, six calls below Collect.
// Overlapping scrapes crashed the exporter: fatal error: concurrent map
// read and map write at (*GaugeContainer).Fetch containers.go:63,
// https://github.com/criteo/marathon_exporter/issues/24. The fix
// (14a47c9, "Avoid race in accessing counters and gauges") adds a mutex
// to the container, held by Fetch and around the final range in scrape
// (ExporterFixed below).

// gabsContainer stands in for github.com/jeffail/gabs's Container.
type gabsContainer struct{ data any }

func (g *gabsContainer) ChildrenMap() (map[string]*gabsContainer, error) {
	m, _ := g.data.(map[string]*gabsContainer)
	return m, nil
}

func (g *gabsContainer) Path(path string) *gabsContainer { return g }

func (g *gabsContainer) Data() any { return g.data }

// Scraper fetches a Marathon endpoint.
type Scraper interface {
	Scrape(path string) ([]byte, error)
}

func parseJSON(content []byte) (*gabsContainer, error) { return &gabsContainer{}, nil }

func renameMetric(s string) string { return strings.ToLower(s) }

const histogramHelp = "Marathon histogram %s"

// GaugeContainer caches one GaugeVec per metric.
type GaugeContainer struct {
	gauges    map[string]*prometheus.GaugeVec
	namespace string
}

func NewGaugeContainer(namespace string) *GaugeContainer {
	return &GaugeContainer{
		gauges:    make(map[string]*prometheus.GaugeVec),
		namespace: namespace,
	}
}

func (c *GaugeContainer) Fetch(name, help string, labels ...string) (*prometheus.GaugeVec, bool) {
	key := containerKey(name, labels)
	gauge, exists := c.gauges[key]
	if !exists {
		gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: c.namespace,
			Name:      name,
			Help:      help,
		}, labels)
		c.gauges[key] = gauge // want `Exporter.Collect writes e.Gauges.gauges with no lock held, and the registry calls it on every scrape`
	}
	return gauge, !exists
}

func containerKey(metric string, labels []string) string {
	s := make([]string, len(labels))
	copy(s, labels)
	sort.Strings(s)
	return fmt.Sprintf("%s{%v}", metric, strings.Join(s, ","))
}

// Exporter collects Marathon's metrics.
type Exporter struct {
	scraper     Scraper
	scrapeError prometheus.Gauge
	Gauges      *GaugeContainer
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.scrape(ch)
	ch <- e.scrapeError
}

func (e *Exporter) scrape(ch chan<- prometheus.Metric) {
	var err error
	if err = e.exportMetrics(ch); err != nil {
		return
	}
	for _, gauge := range e.Gauges.gauges {
		gauge.Collect(ch)
	}
}

func (e *Exporter) exportMetrics(ch chan<- prometheus.Metric) (err error) {
	content, err := e.scraper.Scrape("metrics")
	if err != nil {
		return
	}
	json, err := parseJSON(content)
	if err != nil {
		return
	}
	e.scrapeMetrics(json, ch)
	return
}

func (e *Exporter) scrapeMetrics(json *gabsContainer, ch chan<- prometheus.Metric) {
	elements, _ := json.ChildrenMap()
	for key, element := range elements {
		switch key {
		case "histograms":
			e.scrapeHistograms(element)
		}
	}
}

func (e *Exporter) scrapeHistograms(json *gabsContainer) {
	elements, _ := json.ChildrenMap()
	for key, element := range elements {
		if _, err := e.scrapeHistogram(key, element); err != nil {
			continue
		}
	}
}

func (e *Exporter) scrapeHistogram(key string, json *gabsContainer) (bool, error) {
	count, ok := json.Path("count").Data().(float64)
	if !ok {
		return false, errors.New(fmt.Sprintf("Bad histogram! %s has no count\n", key))
	}
	name := renameMetric(key)
	help := fmt.Sprintf(histogramHelp, key)
	counter, new := e.Gauges.Fetch(name+"_count", help)
	counter.WithLabelValues().Set(count)
	percentiles, _ := e.Gauges.Fetch(name, help, "percentile")
	properties, _ := json.ChildrenMap()
	for key, property := range properties {
		if value, ok := property.Data().(float64); ok {
			percentiles.WithLabelValues("0." + key[1:]).Set(value)
		}
	}
	return new, nil
}

// GaugeContainerFixed is GaugeContainer after the fix.
type GaugeContainerFixed struct {
	gauges    map[string]*prometheus.GaugeVec
	namespace string
	mutex     sync.Mutex
}

func (c *GaugeContainerFixed) Fetch(name, help string, labels ...string) (*prometheus.GaugeVec, bool) {
	key := containerKey(name, labels)
	c.mutex.Lock()
	defer c.mutex.Unlock()
	gauge, exists := c.gauges[key]
	if !exists {
		gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: c.namespace,
			Name:      name,
			Help:      help,
		}, labels)
		c.gauges[key] = gauge
	}
	return gauge, !exists
}

// ExporterFixed is Exporter after the fix.
type ExporterFixed struct {
	scraper     Scraper
	scrapeError prometheus.Gauge
	Gauges      *GaugeContainerFixed
}

func (e *ExporterFixed) Collect(ch chan<- prometheus.Metric) {
	e.scrape(ch)
	ch <- e.scrapeError
}

func (e *ExporterFixed) scrape(ch chan<- prometheus.Metric) {
	content, err := e.scraper.Scrape("metrics")
	if err != nil {
		return
	}
	json, _ := parseJSON(content)
	elements, _ := json.ChildrenMap()
	for key, element := range elements {
		if key == "histograms" {
			e.scrapeHistograms(element)
		}
	}
	e.Gauges.mutex.Lock()
	defer e.Gauges.mutex.Unlock()
	for _, gauge := range e.Gauges.gauges {
		gauge.Collect(ch)
	}
}

func (e *ExporterFixed) scrapeHistograms(json *gabsContainer) {
	elements, _ := json.ChildrenMap()
	for key := range elements {
		gauge, _ := e.Gauges.Fetch(renameMetric(key)+"_count", fmt.Sprintf(histogramHelp, key))
		gauge.WithLabelValues().Set(1)
	}
}

// Package prometheus stands in for github.com/prometheus/client_golang's
// prometheus package: only the names the reproductions use, no behaviour.
package prometheus

// Metric is a metric a collector sends on its channel.
type Metric interface{ Desc() *Desc }

// Desc describes a metric.
type Desc struct{ fqName string }

// Labels maps label names to values.
type Labels map[string]string

// ValueType is a metric's type.
type ValueType int

// The value types.
const (
	CounterValue ValueType = iota + 1
	GaugeValue
)

// Opts holds a metric's options.
type Opts struct {
	Namespace, Subsystem, Name, Help string
}

// GaugeOpts holds a gauge's options.
type GaugeOpts Opts

// Gauge is one gauge.
type Gauge interface {
	Metric
	Set(float64)
}

// GaugeVec is a set of gauges partitioned by labels.
type GaugeVec struct{ desc *Desc }

// NewGaugeVec makes a GaugeVec.
func NewGaugeVec(opts GaugeOpts, labels []string) *GaugeVec {
	return &GaugeVec{desc: &Desc{fqName: opts.Name}}
}

// With returns the gauge for labels.
func (v *GaugeVec) With(labels Labels) Gauge { return nil }

// WithLabelValues returns the gauge for the label values.
func (v *GaugeVec) WithLabelValues(lvs ...string) Gauge { return nil }

// Delete deletes the gauge for labels.
func (v *GaugeVec) Delete(labels Labels) bool { return true }

// Collect sends the gauges on ch.
func (v *GaugeVec) Collect(ch chan<- Metric) {}

// NewDesc makes a Desc.
func NewDesc(fqName, help string, variableLabels []string, constLabels Labels) *Desc {
	return &Desc{fqName: fqName}
}

// BuildFQName joins a metric's name parts.
func BuildFQName(namespace, subsystem, name string) string {
	return namespace + "_" + subsystem + "_" + name
}

// MustNewConstMetric makes a metric with a fixed value.
func MustNewConstMetric(desc *Desc, valueType ValueType, value float64, labelValues ...string) Metric {
	return nil
}

package rollout

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/murmur3"
)

// Buckets is the resolution of weights: 10,000 buckets, so weights are
// percentages with two decimals.
const Buckets = 10000

// The murmur3 seeds of the two hashes.
const (
	enrolSeed = 0
	armSeed   = 86028157 // as Unleash's variant seed: any fixed value unlike enrolSeed
)

// Arm is one arm of an experiment.
type Arm struct {
	Name string `yaml:"name" json:"name"`
	// Weight is the percentage of all units this arm gets (0 to 100, two
	// decimals); the arms' weights sum to at most 100, the rest is not
	// enrolled.
	Weight float64 `yaml:"weight" json:"weight"`
}

// Experiment is a key, a salt and weighted arms, with optional targeting.
type Experiment struct {
	Key  string `yaml:"key" json:"key"`
	Salt string `yaml:"salt" json:"salt"`
	Arms []Arm  `yaml:"arms" json:"arms"`
	// Targeting restricts enrolment to units whose attributes match: for
	// each attribute listed, the unit's value must be one of the values.
	Targeting map[string][]string `yaml:"targeting,omitempty" json:"targeting,omitempty"`
	// Metrics says how the analysis treats each metric: how a unit's
	// values are reduced to the unit's one value, and which metrics are
	// ratios of two others. A metric not listed is reduced by its mean.
	Metrics []Metric `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// Reduce is how a unit's values of a metric become the unit's one value,
// the value the arms are compared over.
type Reduce string

// The reductions.
const (
	// ReduceMean takes the mean of the unit's values (latency per
	// request). It is the default.
	ReduceMean Reduce = "mean"
	// ReduceSum takes their sum (requests, revenue per unit).
	ReduceSum Reduce = "sum"
)

// Metric configures the analysis of one metric: either a recorded metric
// with its reduction, or a ratio metric, sum over units of Numerator
// divided by sum over units of Denominator (errors per request), which
// is computed and never recorded itself.
type Metric struct {
	Name string `yaml:"name" json:"name"`
	// Reduce is ReduceMean (the default, when empty) or ReduceSum; a
	// ratio metric takes none.
	Reduce Reduce `yaml:"reduce,omitempty" json:"reduce,omitempty"`
	// Numerator and Denominator name the recorded metrics of a ratio
	// metric; both or neither are set.
	Numerator   string `yaml:"numerator,omitempty" json:"numerator,omitempty"`
	Denominator string `yaml:"denominator,omitempty" json:"denominator,omitempty"`
	// Covariate names a recorded metric whose unit values the arm cannot
	// have changed, such as the unit's value before the experiment sent
	// with its exposure; the report then also compares the arms with
	// CUPED's variance reduction (MetricStats.Adjusted). Not for a ratio.
	Covariate string `yaml:"covariate,omitempty" json:"covariate,omitempty"`
}

// IsRatio reports whether m is a ratio metric.
func (m Metric) IsRatio() bool { return m.Numerator != "" || m.Denominator != "" }

// Validate reports the first invalid field as a *FieldError.
func (e *Experiment) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return &FieldError{Experiment: e.Key, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if e.Key == "" {
		return bad("key", "must not be empty")
	}
	if strings.TrimSpace(e.Salt) == "" {
		return bad("salt", "must not be empty: it makes the experiment's buckets independent of other experiments'")
	}
	if len(e.Arms) == 0 {
		return bad("arms", "at least one arm is needed")
	}
	seen := map[string]bool{}
	total := 0
	for i, a := range e.Arms {
		f := fmt.Sprintf("arms[%d]", i)
		switch {
		case a.Name == "":
			return bad(f+".name", "must not be empty")
		case seen[a.Name]:
			return bad(f+".name", "duplicate arm name %q", a.Name)
		case a.Weight < 0 || a.Weight > 100:
			return bad(f+".weight", "%v is outside 0 to 100 (percent)", a.Weight)
		case float64(weightBuckets(a.Weight))/100 != a.Weight:
			return bad(f+".weight", "%v has more than two decimals", a.Weight)
		}
		seen[a.Name] = true
		total += weightBuckets(a.Weight)
	}
	if total > Buckets {
		return bad("arms", "weights sum to %.2f%%, over 100%%", float64(total)/100)
	}
	for _, attr := range slices.Sorted(maps.Keys(e.Targeting)) {
		if len(e.Targeting[attr]) == 0 {
			return bad("targeting."+attr, "lists no values")
		}
	}
	return e.validateMetrics()
}

// validateMetrics reports the first invalid metrics field as a
// *FieldError.
func (e *Experiment) validateMetrics() error {
	bad := func(field string, format string, args ...any) error {
		return &FieldError{Experiment: e.Key, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(e.Metrics) > maxMetrics {
		return bad("metrics", "%d metrics, over the limit of %d", len(e.Metrics), maxMetrics)
	}
	ratio := map[string]bool{}
	seen := map[string]bool{}
	for i, m := range e.Metrics {
		f := fmt.Sprintf("metrics[%d]", i)
		switch {
		case m.Name == "":
			return bad(f+".name", "must not be empty")
		case seen[m.Name]:
			return bad(f+".name", "duplicate metric name %q", m.Name)
		case m.Reduce != "" && m.Reduce != ReduceMean && m.Reduce != ReduceSum:
			return bad(f+".reduce", "%q is neither %q nor %q", m.Reduce, ReduceMean, ReduceSum)
		case m.IsRatio() && m.Numerator == "":
			return bad(f+".numerator", "a ratio metric needs a numerator as well as a denominator")
		case m.IsRatio() && m.Denominator == "":
			return bad(f+".denominator", "a ratio metric needs a denominator as well as a numerator")
		case m.IsRatio() && m.Reduce != "":
			return bad(f+".reduce", "a ratio metric is sum(numerator)/sum(denominator) over units and takes no reduce")
		case m.IsRatio() && m.Numerator == m.Denominator:
			return bad(f+".denominator", "is the numerator %q: the ratio is 1", m.Numerator)
		case m.IsRatio() && m.Covariate != "":
			return bad(f+".covariate", "a ratio metric takes no covariate")
		case m.Covariate != "" && m.Covariate == m.Name:
			return bad(f+".covariate", "is the metric itself")
		}
		seen[m.Name] = true
		ratio[m.Name] = m.IsRatio()
	}
	for i, m := range e.Metrics {
		f := fmt.Sprintf("metrics[%d]", i)
		switch {
		case ratio[m.Numerator]:
			return bad(f+".numerator", "%q is a ratio metric; a ratio is of recorded metrics", m.Numerator)
		case ratio[m.Denominator]:
			return bad(f+".denominator", "%q is a ratio metric; a ratio is of recorded metrics", m.Denominator)
		case ratio[m.Covariate]:
			return bad(f+".covariate", "%q is a ratio metric; a covariate is a recorded metric", m.Covariate)
		}
	}
	return nil
}

func weightBuckets(w float64) int { return int(w*100 + 0.5) }

// FieldError is an invalid experiment field.
type FieldError struct {
	Experiment string
	Field      string
	Msg        string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("rollout: experiment %q: %s: %s", e.Experiment, e.Field, e.Msg)
}

// Bucket returns the bucket, in [0, Buckets), of unit under salt and the
// given seed: murmur3_32(salt + ":" + unit) mod Buckets.
func Bucket(salt, unit string, seed uint32) int {
	return int(murmur3.SeedStringSum32(seed, salt+":"+unit) % Buckets)
}

// Assignment is the outcome of assigning a unit.
type Assignment struct {
	Experiment string `json:"experiment"`
	Unit       string `json:"unit"`
	// Arm is empty when the unit is not enrolled.
	Arm string `json:"arm,omitempty"`
	// Reason says why: "enrolled", "not-enrolled" (outside the
	// traffic), or "not-targeted" (attributes do not match).
	Reason string `json:"reason"`
}

// Assign returns unit's arm. attrs are the unit's attributes, checked
// against the targeting. Assign is deterministic: the same experiment and
// unit always give the same arm.
func (e *Experiment) Assign(unit string, attrs map[string]string) Assignment {
	a := Assignment{Experiment: e.Key, Unit: unit}
	for attr, allowed := range e.Targeting {
		if !slices.Contains(allowed, attrs[attr]) {
			a.Reason = "not-targeted"
			return a
		}
	}
	total := 0
	for _, arm := range e.Arms {
		total += weightBuckets(arm.Weight)
	}
	if total == 0 || Bucket(e.Salt, unit, enrolSeed) >= total {
		a.Reason = "not-enrolled"
		return a
	}
	// The arm: a second, independent hash over the arms' ranges in their
	// fixed order, each as wide as its weight.
	pick := Bucket(e.Salt, unit, armSeed) * total / Buckets
	for _, arm := range e.Arms {
		w := weightBuckets(arm.Weight)
		if pick < w {
			a.Arm, a.Reason = arm.Name, "enrolled"
			return a
		}
		pick -= w
	}
	a.Arm, a.Reason = e.Arms[len(e.Arms)-1].Name, "enrolled" // unreachable: pick < total
	return a
}

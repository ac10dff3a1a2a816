package rollout

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"text/tabwriter"
)

// MetricStats summarises one metric over an arm's units.
type MetricStats struct {
	// Kind is how the metric is analysed: "mean" or "sum" (the unit's
	// values reduced to their mean or sum, compared by Welch's t-test
	// over units) or "ratio" (sum over units of the numerator over sum
	// of the denominator, compared by the delta method).
	Kind string
	// N is the number of units with the metric (for a ratio, with its
	// numerator or its denominator).
	N int
	// Mean is the mean over those units of each unit's value, or for a
	// ratio the ratio of the sums.
	Mean float64
	// P50 and P99 are percentiles of the raw values (each event's value,
	// not each unit's), within SketchAccuracy; zero for a ratio.
	P50, P99 float64
	// Values is the number of raw values; zero for a ratio.
	Values int
	// Versus is the comparison with the control arm; nil for the control
	// itself, or when either side has fewer than two units (or, for a
	// ratio, a zero denominator).
	Versus *Comparison `json:"versus,omitempty"`
	// Adjusted is the comparison with the control arm adjusted by the
	// metric's covariate (CUPED), over the units with both the metric
	// and the covariate; nil without a covariate or with fewer than two
	// such units on either side.
	Adjusted *Comparison `json:"adjusted,omitempty"`
}

// Comparison is an arm's metric against the control's, over units.
type Comparison struct {
	// Diff is mean(arm) - mean(control) (for a ratio, ratio(arm) -
	// ratio(control)), and [Low, High] its 95% confidence interval.
	Diff, Low, High float64
	// P is the two-sided p-value; Significant is P < 0.05.
	P           float64
	Significant bool
	// Method is "welch" (Welch's t-test on unit values), "delta" (a
	// z-test with the delta-method variance of a ratio) or "cuped"
	// (Welch's t-test on covariate-adjusted unit values).
	Method string `json:"method,omitempty"`
}

// ArmReport is one arm's numbers.
type ArmReport struct {
	Arm string
	// Units is the number of units whose first exposure was to this arm:
	// each unit counts in one arm.
	Units int
	// Exposures is the number of exposure events of this arm.
	Exposures int
	// Outcomes is the number of outcome events attributed to this arm.
	Outcomes int
	Metrics  map[string]*MetricStats
}

// SRM is the sample-ratio-mismatch check: do the arms' unit counts
// follow the configured weights? A mismatch means broken assignment or
// lost exposures, and invalidates the comparison.
type SRM struct {
	ChiSquare, P float64
	Mismatch     bool // P < 0.001
	// NotChecked says why the check was not made, empty when it was: an
	// experiment of one arm, or fewer units than the chi-square test
	// needs (an arm expected to have fewer than minExpectedUnits). A
	// check not made is not a pass.
	NotChecked string `json:"not_checked,omitempty"`
}

// minExpectedUnits is the smallest expected unit count per arm for which
// the chi-square approximation of the sample-ratio test holds: the
// textbook rule of thumb (Cochran) is 5.
const minExpectedUnits = 5

// NoExposuresError is the error of Analyze and Aggregator.Report when no
// event is an exposure of the experiment: a report of zero units would
// read like a clean result.
type NoExposuresError struct {
	Experiment string
	// Events is the number of events given: of other experiments or of
	// arms the experiment does not have, outcomes, or malformed.
	Events int
	// Outcomes and Malformed are how many of them were outcomes of the
	// experiment and malformed events.
	Outcomes, Malformed int
}

func (e *NoExposuresError) Error() string {
	if e.Events == 0 {
		return fmt.Sprintf("rollout: analyze: no exposures of experiment %q: no events", e.Experiment)
	}
	if e.Outcomes == 0 && e.Malformed == 0 {
		return fmt.Sprintf("rollout: analyze: no exposures of experiment %q: all %d events are of other experiments or unknown arms", e.Experiment, e.Events)
	}
	return fmt.Sprintf("rollout: analyze: no exposures of experiment %q: of %d events, %d are outcomes with no exposure, %d malformed, the rest of other experiments or unknown arms",
		e.Experiment, e.Events, e.Outcomes, e.Malformed)
}

// Report is the analysis of one experiment's events, over units.
type Report struct {
	Experiment string
	Control    string
	Arms       []ArmReport
	SRM        SRM
	// Ignored counts events of other experiments or unknown arms.
	Ignored int
	// Malformed counts events Add rejected (no unit, NaN metric, ...).
	Malformed int
	// PreExposure counts outcomes before their unit's first exposure,
	// and Unattributed outcomes of units never exposed: neither counts
	// for any arm.
	PreExposure, Unattributed int
	// Dropped counts outcomes dropped because their unit already held
	// back the most outcome values it may (64) waiting for an earlier
	// exposure; see the package documentation.
	Dropped int
	// MixedUnits counts units exposed to more than one arm (broken
	// assignment); each is analysed in the arm of its first exposure.
	MixedUnits int
	// SketchAccuracy is the relative accuracy of every P50 and P99.
	SketchAccuracy float64
}

// Analyze summarises the events of experiment e per arm over units,
// compares every metric of every arm with the control arm's, and checks
// the sample ratio against the arms' weights: Add of every event to a new
// Aggregator, then its Report (malformed events are counted, not
// errors). An unknown control arm is an error, and so is a set of events
// with no exposure of e (a *NoExposuresError).
func Analyze(e Experiment, control string, events []Event) (*Report, error) {
	if !slices.ContainsFunc(e.Arms, func(a Arm) bool { return a.Name == control }) {
		return nil, fmt.Errorf("rollout: analyze: control arm %q is not an arm of %q", control, e.Key)
	}
	a := NewAggregator(e)
	if err := a.usable(); err != nil {
		return nil, err
	}
	for _, ev := range events {
		a.Add(ev) // a malformed event is counted in the report
	}
	return a.Report(control)
}

// welch compares arm a with the control b by Welch's unequal-variance
// t-test over units; nil if either has fewer than two units.
func welch(a, b moments) *Comparison {
	if a.n < 2 || b.n < 2 {
		return nil
	}
	va, vb := a.variance(), b.variance()
	na, nb := a.n, b.n
	se2 := va/na + vb/nb
	c := &Comparison{Diff: a.mean - b.mean, Method: "welch"}
	if se2 == 0 {
		c.Low, c.High = c.Diff, c.Diff
		if c.Diff != 0 {
			c.P, c.Significant = 0, true
		} else {
			c.P = 1
		}
		return c
	}
	se := math.Sqrt(se2)
	df := se2 * se2 / ((va/na)*(va/na)/(na-1) + (vb/nb)*(vb/nb)/(nb-1))
	t := c.Diff / se
	c.P = 2 * (1 - studentTCDF(math.Abs(t), df))
	tc := studentTQuantile(0.975, df)
	c.Low, c.High = c.Diff-tc*se, c.Diff+tc*se
	c.Significant = c.P < 0.05
	return c
}

// z975 is the standard normal's 97.5% quantile.
const z975 = 1.959963984540054

// deltaRatio compares the ratio metric of arm a with the control b: a
// z-test of the difference of ratios, each with its delta-method
// variance. nil if either has fewer than two units or a zero
// denominator.
func deltaRatio(a, b comoments) *Comparison {
	if a.n < 2 || b.n < 2 || a.my == 0 || b.my == 0 {
		return nil
	}
	c := &Comparison{Diff: a.ratio() - b.ratio(), Method: "delta"}
	v := a.ratioVariance() + b.ratioVariance()
	if v <= 0 {
		c.Low, c.High = c.Diff, c.Diff
		if c.Diff != 0 {
			c.P, c.Significant = 0, true
		} else {
			c.P = 1
		}
		return c
	}
	se := math.Sqrt(v)
	c.P = math.Erfc(math.Abs(c.Diff/se) / math.Sqrt2)
	c.Low, c.High = c.Diff-z975*se, c.Diff+z975*se
	c.Significant = c.P < 0.05
	return c
}

// sampleRatio tests the arms' unit counts against their weights.
func sampleRatio(e Experiment, arms []ArmReport) SRM {
	if len(arms) < 2 {
		return SRM{P: 1, NotChecked: "the experiment has one arm"}
	}
	total, weight := 0, 0.0
	for i, a := range arms {
		total += a.Units
		weight += e.Arms[i].Weight
	}
	if weight == 0 {
		return SRM{P: 1, NotChecked: "every arm has weight 0"}
	}
	for i, a := range arms {
		// An arm of weight 0 enrols nobody: any unit in it is broken
		// assignment, whatever the chi-square over the others says.
		if e.Arms[i].Weight == 0 && a.Units > 0 {
			return SRM{ChiSquare: math.Inf(1), P: 0, Mismatch: true}
		}
	}
	chi2 := 0.0
	for i, a := range arms {
		exp := float64(total) * e.Arms[i].Weight / weight
		if exp > 0 && exp < minExpectedUnits {
			return SRM{P: 1, NotChecked: fmt.Sprintf("too few units (%d): arm %s expects %.3g, the test needs at least %d per arm",
				total, a.Arm, exp, minExpectedUnits)}
		}
		if exp > 0 {
			d := float64(a.Units) - exp
			chi2 += d * d / exp
		}
	}
	p := chiSquareSF(chi2, float64(len(arms)-1))
	return SRM{ChiSquare: chi2, P: p, Mismatch: p < 0.001}
}

// WriteText prints the report as a table, with a legend of how each
// number was computed.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "experiment %s (control: %s)\n", r.Experiment, r.Control)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "arm\tunits\texposures\toutcomes\tmetric\tkind\tn units\tmean\tp50\tp99\tvs control (95% CI)\tp\t")
	for _, a := range r.Arms {
		names := slices.Sorted(maps.Keys(a.Metrics))
		if len(names) == 0 {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t-\t\t\t\t\t\t\t\t\n", a.Arm, a.Units, a.Exposures, a.Outcomes)
		}
		for i, m := range names {
			s := a.Metrics[m]
			arm, u, x, o := a.Arm, fmt.Sprint(a.Units), fmt.Sprint(a.Exposures), fmt.Sprint(a.Outcomes)
			if i > 0 {
				arm, u, x, o = "", "", "", ""
			}
			vs, p := "-", "-"
			if c := s.Versus; c != nil {
				mark := ""
				if c.Significant {
					mark = " *"
				}
				vs = fmt.Sprintf("%+.4g [%+.4g, %+.4g]%s", c.Diff, c.Low, c.High, mark)
				p = fmt.Sprintf("%.3g", c.P)
			}
			p50, p99 := fmt.Sprintf("%.4g", s.P50), fmt.Sprintf("%.4g", s.P99)
			if s.Kind == "ratio" {
				p50, p99 = "-", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.4g\t%s\t%s\t%s\t%s\t\n", arm, u, x, o, m, s.Kind, s.N, s.Mean, p50, p99, vs, p)
			if c := s.Adjusted; c != nil {
				mark := ""
				if c.Significant {
					mark = " *"
				}
				fmt.Fprintf(tw, "\t\t\t\t%s\tcuped\t\t\t\t\t%+.4g [%+.4g, %+.4g]%s\t%.3g\t\n", m, c.Diff, c.Low, c.High, mark, c.P)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case r.SRM.NotChecked != "":
		fmt.Fprintf(w, "sample ratio: not checked: %s\n", r.SRM.NotChecked)
	case r.SRM.Mismatch:
		fmt.Fprintf(w, "sample ratio: chi-square %.3g, p %.3g: %s\n", r.SRM.ChiSquare, r.SRM.P,
			"MISMATCH: the arms' unit counts do not follow the weights; assignment or exposure logging is broken, do not trust the comparison")
	default:
		fmt.Fprintf(w, "sample ratio: chi-square %.3g, p %.3g: ok\n", r.SRM.ChiSquare, r.SRM.P)
	}
	if r.MixedUnits > 0 {
		fmt.Fprintf(w, "%d units exposed to more than one arm (broken assignment), each analysed in the arm of its first exposure\n", r.MixedUnits)
	}
	if r.PreExposure > 0 || r.Unattributed > 0 || r.Dropped > 0 {
		fmt.Fprintf(w, "outcomes not attributed: %d before their unit's first exposure, %d of units never exposed, %d dropped (unit held back too many)\n",
			r.PreExposure, r.Unattributed, r.Dropped)
	}
	if r.Malformed > 0 {
		fmt.Fprintf(w, "%d malformed events rejected\n", r.Malformed)
	}
	if r.Ignored > 0 {
		fmt.Fprintf(w, "%d events of other experiments or unknown arms ignored\n", r.Ignored)
	}
	fmt.Fprintln(w, "units: each unit counts in the arm of its first exposure; n units, mean and the comparison are over units, each unit's values reduced to their mean or sum (kind)")
	fmt.Fprintln(w, "ratio: sum of numerator over sum of denominator across units, compared by a z-test with the delta-method variance")
	if slices.ContainsFunc(r.Arms, func(a ArmReport) bool {
		return slices.ContainsFunc(slices.Collect(maps.Values(a.Metrics)), func(s *MetricStats) bool { return s.Adjusted != nil })
	}) {
		fmt.Fprintln(w, "cuped: the comparison over units with the metric's covariate, adjusted by it (CUPED, one coefficient pooled over arms)")
	}
	fmt.Fprintf(w, "p50, p99: of raw values, from a DDSketch with relative accuracy %g%%\n", r.SketchAccuracy*100)
	_, err := fmt.Fprintln(w, "* significant at p < 0.05 (Welch's t-test over units; delta method for ratios)")
	return err
}

// Significant reports the arms whose metric differs significantly from
// the control's, with the sign of the difference.
func (r *Report) Significant(metric string) map[string]float64 {
	out := map[string]float64{}
	for _, a := range r.Arms {
		if s, ok := a.Metrics[metric]; ok && s.Versus != nil && s.Versus.Significant {
			out[a.Arm] = s.Versus.Diff
		}
	}
	return out
}

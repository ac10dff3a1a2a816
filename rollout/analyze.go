package rollout

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"text/tabwriter"
)

// MetricStats summarises one metric over an arm's exposures.
type MetricStats struct {
	N              int
	Mean, P50, P99 float64
	// Versus is the comparison with the control arm; nil for the control
	// itself, or when either side has fewer than two values.
	Versus *Comparison `json:"versus,omitempty"`
}

// Comparison is an arm's metric against the control's: Welch's t-test.
type Comparison struct {
	// Diff is mean(arm) - mean(control), and [Low, High] its 95%
	// confidence interval.
	Diff, Low, High float64
	// P is the two-sided p-value; Significant is P < 0.05.
	P           float64
	Significant bool
}

// ArmReport is one arm's numbers.
type ArmReport struct {
	Arm       string
	Units     int // distinct units exposed
	Exposures int
	Metrics   map[string]*MetricStats
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

// NoExposuresError is Analyze's error when no event is an exposure of
// the experiment: a report of zero units would read like a clean result.
type NoExposuresError struct {
	Experiment string
	// Events is the number of events given, all of other experiments or
	// of arms the experiment does not have.
	Events int
}

func (e *NoExposuresError) Error() string {
	if e.Events == 0 {
		return fmt.Sprintf("rollout: analyze: no exposures of experiment %q: no events", e.Experiment)
	}
	return fmt.Sprintf("rollout: analyze: no exposures of experiment %q: all %d events are of other experiments or unknown arms", e.Experiment, e.Events)
}

// Report is the analysis of one experiment's exposures.
type Report struct {
	Experiment string
	Control    string
	Arms       []ArmReport
	SRM        SRM
	// Ignored counts events of other experiments or unknown arms.
	Ignored int
}

// Analyze summarises the events of experiment e per arm, compares every
// metric of every arm with the control arm's, and checks the sample
// ratio against the arms' weights. An unknown control arm is an error, and
// so is a set of events with no exposure of e (a *NoExposuresError).
func Analyze(e Experiment, control string, events []Event) (*Report, error) {
	arms := map[string]*ArmReport{}
	values := map[string]map[string][]float64{} // arm -> metric -> values
	units := map[string]map[string]bool{}
	for _, a := range e.Arms {
		arms[a.Name] = &ArmReport{Arm: a.Name, Metrics: map[string]*MetricStats{}}
		values[a.Name] = map[string][]float64{}
		units[a.Name] = map[string]bool{}
	}
	if _, ok := arms[control]; !ok {
		return nil, fmt.Errorf("rollout: analyze: control arm %q is not an arm of %q", control, e.Key)
	}
	r := &Report{Experiment: e.Key, Control: control}
	for _, ev := range events {
		a, ok := arms[ev.Arm]
		if ev.Experiment != e.Key || !ok {
			r.Ignored++
			continue
		}
		a.Exposures++
		units[ev.Arm][ev.Unit] = true
		for m, v := range ev.Metrics {
			values[ev.Arm][m] = append(values[ev.Arm][m], v)
		}
	}
	if r.Ignored == len(events) {
		return nil, &NoExposuresError{Experiment: e.Key, Events: len(events)}
	}
	for _, a := range e.Arms {
		ar := arms[a.Name]
		ar.Units = len(units[a.Name])
		for m, vs := range values[a.Name] {
			ar.Metrics[m] = summarize(vs)
		}
	}
	for _, a := range e.Arms {
		if a.Name == control {
			continue
		}
		for m, vs := range values[a.Name] {
			if c := welch(vs, values[control][m]); c != nil {
				arms[a.Name].Metrics[m].Versus = c
			}
		}
	}
	for _, a := range e.Arms {
		r.Arms = append(r.Arms, *arms[a.Name])
	}
	r.SRM = sampleRatio(e, r.Arms)
	return r, nil
}

func summarize(vs []float64) *MetricStats {
	s := slices.Clone(vs)
	slices.Sort(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return &MetricStats{N: len(s), Mean: sum / float64(len(s)), P50: q(0.5), P99: q(0.99)}
}

func meanVar(vs []float64) (mean, variance float64) {
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	for _, v := range vs {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(vs)-1)
}

// welch compares a with b (the control) by Welch's unequal-variance
// t-test; nil if either has fewer than two values.
func welch(a, b []float64) *Comparison {
	if len(a) < 2 || len(b) < 2 {
		return nil
	}
	ma, va := meanVar(a)
	mb, vb := meanVar(b)
	na, nb := float64(len(a)), float64(len(b))
	se2 := va/na + vb/nb
	c := &Comparison{Diff: ma - mb}
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

// WriteText prints the report as a table.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "experiment %s (control: %s)\n", r.Experiment, r.Control)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "arm\tunits\texposures\tmetric\tmean\tp50\tp99\tvs control (95% CI)\tp\t")
	for _, a := range r.Arms {
		names := slices.Sorted(maps.Keys(a.Metrics))
		if len(names) == 0 {
			fmt.Fprintf(tw, "%s\t%d\t%d\t-\t\t\t\t\t\t\n", a.Arm, a.Units, a.Exposures)
		}
		for i, m := range names {
			s := a.Metrics[m]
			arm, u, x := a.Arm, fmt.Sprint(a.Units), fmt.Sprint(a.Exposures)
			if i > 0 {
				arm, u, x = "", "", ""
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.4g\t%.4g\t%.4g\t%s\t%s\t\n", arm, u, x, m, s.Mean, s.P50, s.P99, vs, p)
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
	if r.Ignored > 0 {
		fmt.Fprintf(w, "%d events of other experiments or unknown arms ignored\n", r.Ignored)
	}
	_, err := fmt.Fprintln(w, "* significant at p < 0.05 (Welch's t-test)")
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

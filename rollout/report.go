package rollout

import "fmt"

// moments accumulates the count, mean and sum of squared deviations of
// unit values (Welford's update, stable for values far from zero).
type moments struct {
	n, mean, m2 float64
}

func (m *moments) add(x float64) {
	m.n++
	d := x - m.mean
	m.mean += d / m.n
	m.m2 += d * (x - m.mean)
}

// variance is the sample variance (n-1 denominator).
func (m *moments) variance() float64 { return m.m2 / (m.n - 1) }

// comoments accumulates the means, variances and covariance of pairs
// (numerator, denominator) of unit sums, for a ratio metric.
type comoments struct {
	n, mx, my, m2x, m2y, cxy float64
}

func (c *comoments) add(x, y float64) {
	c.n++
	dx, dy := x-c.mx, y-c.my
	c.mx += dx / c.n
	c.my += dy / c.n
	c.m2x += dx * (x - c.mx)
	c.m2y += dy * (y - c.my)
	c.cxy += dx * (y - c.my)
}

// merge adds o's pairs to c (Chan et al.'s parallel update).
func (c *comoments) merge(o comoments) {
	n := c.n + o.n
	if n == 0 {
		return
	}
	dx, dy := o.mx-c.mx, o.my-c.my
	w := c.n * o.n / n
	c.m2x += o.m2x + dx*dx*w
	c.m2y += o.m2y + dy*dy*w
	c.cxy += o.cxy + dx*dy*w
	c.mx += dx * o.n / n
	c.my += dy * o.n / n
	c.n = n
}

// cuped returns the moments of the unit values x adjusted by their
// covariate y, x - theta·(y - yAll): the same mean shifted by the arm's
// covariate imbalance, and the residual variance.
func (c *comoments) cuped(theta, yAll float64) moments {
	m2 := c.m2x - 2*theta*c.cxy + theta*theta*c.m2y
	return moments{n: c.n, mean: c.mx - theta*(c.my-yAll), m2: max(m2, 0)} // rounding can take a perfect fit below 0
}

// ratio is sum(x)/sum(y), which is mean(x)/mean(y).
func (c *comoments) ratio() float64 { return c.mx / c.my }

// ratioVariance is the delta-method variance of ratio():
// (s_x² − 2 R s_xy + R² s_y²) / (n ȳ²), with R = x̄/ȳ.
func (c *comoments) ratioVariance() float64 {
	sx, sy, sxy := c.m2x/(c.n-1), c.m2y/(c.n-1), c.cxy/(c.n-1)
	r := c.ratio()
	return (sx - 2*r*sxy + r*r*sy) / (c.n * c.my * c.my)
}

// Report analyses the events added so far: per arm, each metric over the
// units in the arm (the arm of each unit's first exposure), compared with
// the control arm's; and the sample-ratio check over units. An unknown
// control arm is an error, and so are no exposures (a
// *NoExposuresError). Report does not change a, and walks every unit.
func (a *Aggregator) Report(control string) (*Report, error) {
	if err := a.usable(); err != nil {
		return nil, err
	}
	ci, ok := a.arms[control]
	if !ok {
		return nil, fmt.Errorf("rollout: analyze: control arm %q is not an arm of %q", control, a.exp.Key)
	}
	rep := &Report{Experiment: a.exp.Key, Control: control, Ignored: a.ignored, Malformed: a.malformed, Dropped: a.dropped, SketchAccuracy: SketchAccuracy}
	exposures, attributed := 0, 0
	for arm := range a.exp.Arms {
		exposures += a.exposures[arm]
		attributed += a.outcomes[arm]
	}
	nArms, nMetrics := len(a.exp.Arms), len(a.metrics)
	sum := make([]bool, nMetrics)      // reduce by sum, else mean
	covariate := make([]int, nMetrics) // metric index of the covariate, or -1
	for i := range covariate {
		covariate[i] = -1
	}
	type ratioSpec struct {
		name     string
		num, den int // metric indexes; -1 if never recorded
	}
	var ratios []ratioSpec
	for _, m := range a.exp.Metrics {
		if m.IsRatio() {
			r := ratioSpec{name: m.Name, num: -1, den: -1}
			if i, ok := a.index[m.Numerator]; ok {
				r.num = int(i)
			}
			if i, ok := a.index[m.Denominator]; ok {
				r.den = int(i)
			}
			ratios = append(ratios, r)
		} else if i, ok := a.index[m.Name]; ok {
			sum[i] = m.Reduce == ReduceSum
			if c, ok := a.index[m.Covariate]; ok && m.Covariate != "" {
				covariate[i] = int(c)
			}
		}
	}
	mom := make([][]moments, nArms)
	rmom := make([][]comoments, nArms)
	cmom := make([][]comoments, nArms) // [arm][metric]: (value, covariate) pairs
	units := make([]int, nArms)
	for arm := range nArms {
		mom[arm] = make([]moments, nMetrics)
		rmom[arm] = make([]comoments, len(ratios))
		cmom[arm] = make([]comoments, nMetrics)
	}
	value := func(m unitMetric) float64 {
		if sum[m.idx] {
			return m.sum
		}
		return m.sum / float64(m.n)
	}
	for _, u := range a.units {
		held := 0
		for _, p := range u.pending {
			if p.start {
				held++
			}
		}
		if u.arm < 0 {
			rep.Unattributed += held
			continue
		}
		rep.PreExposure += held
		units[u.arm]++
		if u.mixed {
			rep.MixedUnits++
		}
		for _, m := range u.metrics {
			mom[u.arm][m.idx].add(value(m))
			if c := covariate[m.idx]; c >= 0 {
				for _, cm := range u.metrics {
					if int(cm.idx) == c {
						cmom[u.arm][m.idx].add(value(m), value(cm))
					}
				}
			}
		}
		for r, spec := range ratios {
			var x, y float64
			have := false
			for _, m := range u.metrics {
				switch int(m.idx) {
				case spec.num:
					x, have = m.sum, true
				case spec.den:
					y, have = m.sum, true
				}
			}
			if have {
				rmom[u.arm][r].add(x, y)
			}
		}
	}
	if exposures == 0 {
		return nil, &NoExposuresError{Experiment: a.exp.Key, Events: a.events, Outcomes: attributed + rep.Unattributed + rep.PreExposure + a.dropped, Malformed: a.malformed}
	}
	for arm, spec := range a.exp.Arms {
		ar := ArmReport{Arm: spec.Name, Units: units[arm], Exposures: a.exposures[arm], Outcomes: a.outcomes[arm], Metrics: map[string]*MetricStats{}}
		for idx, name := range a.metrics {
			m := mom[arm][idx]
			if m.n == 0 {
				continue
			}
			s := &MetricStats{Kind: string(ReduceMean), N: int(m.n), Mean: m.mean}
			if sum[idx] {
				s.Kind = string(ReduceSum)
			}
			if sk := a.sketches[arm]; idx < len(sk) && sk[idx] != nil {
				s.Values = int(sk[idx].GetCount())
				s.P50, _ = sk[idx].GetValueAtQuantile(0.5)
				s.P99, _ = sk[idx].GetValueAtQuantile(0.99)
			}
			if arm != ci && mom[ci][idx].n > 0 {
				s.Versus = welch(m, mom[ci][idx])
			}
			if arm != ci && covariate[idx] >= 0 {
				s.Adjusted = adjusted(cmom, arm, ci, idx)
			}
			ar.Metrics[name] = s
		}
		for r, spec := range ratios {
			c := rmom[arm][r]
			if c.n == 0 || c.my == 0 {
				continue
			}
			s := &MetricStats{Kind: "ratio", N: int(c.n), Mean: c.ratio()}
			if arm != ci {
				s.Versus = deltaRatio(c, rmom[ci][r])
			}
			ar.Metrics[spec.name] = s
		}
		rep.Arms = append(rep.Arms, ar)
	}
	rep.SRM = sampleRatio(a.exp, rep.Arms)
	return rep, nil
}

// adjusted compares metric idx of arm with the control ci over the units
// with its covariate, each unit's value adjusted by CUPED with one
// coefficient theta = cov(value, covariate) / var(covariate) pooled over
// all arms; nil if either side has fewer than two such units.
func adjusted(cmom [][]comoments, arm, ci, idx int) *Comparison {
	var all comoments
	for a := range cmom {
		all.merge(cmom[a][idx])
	}
	a, c := cmom[arm][idx], cmom[ci][idx]
	if a.n < 2 || c.n < 2 {
		return nil
	}
	theta := 0.0
	if all.m2y > 0 {
		theta = all.cxy / all.m2y
	}
	cmp := welch(a.cuped(theta, all.my), c.cuped(theta, all.my))
	cmp.Method = "cuped"
	return cmp
}

package rollout_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// standardized returns n values drawn from r with their sample mean
// moved to exactly 0 and sample standard deviation scaled to exactly sd.
func standardized(r *rand.Rand, n int, sd float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = r.NormFloat64()
	}
	m, s := meanSD(xs)
	for i := range xs {
		xs[i] = (xs[i] - m) / s * sd
	}
	return xs
}

// meanSD is the two-pass sample mean and standard deviation.
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}

// welchZ is Welch's statistic for mean(a) - mean(b), computed in two
// passes, and its two-sided p-value from the normal distribution, which
// for the hundreds of degrees of freedom here is within 1e-3 of
// Student's t.
func welchZ(a, b []float64) (t, p float64) {
	ma, sa := meanSD(a)
	mb, sb := meanSD(b)
	t = (ma - mb) / math.Sqrt(sa*sa/float64(len(a))+sb*sb/float64(len(b)))
	return t, math.Erfc(math.Abs(t) / math.Sqrt2)
}

// TestPerUnitAnalysis is issue 16's example: 400 units per arm, 50
// exposures each, unit means spread with sd 5.74 and exposures around
// them with sd 1.8, arms 0.3 apart. Per exposure that is t ≈ 5 (p ≈ 1e-6);
// but units were randomized, and over units it is t ≈ 0.74, p ≈ 0.46.
// The report must give the per-unit answer.
func TestPerUnitAnalysis(t *testing.T) {
	const units, per, sdUnit, sdWithin, diff = 400, 50, 5.7356, 1.80, 0.3
	r := rand.New(rand.NewPCG(16, 1))
	var evs []rollout.Event
	values := map[string][]float64{}    // arm -> every exposure's value
	unitMeans := map[string][]float64{} // arm -> each unit's mean
	for _, arm := range []string{"control", "variant"} {
		base := 100.0
		if arm == "variant" {
			base += diff
		}
		effects := standardized(r, units, sdUnit)
		for i, eff := range effects {
			unit := fmt.Sprintf("%s-%d", arm, i)
			var vs []float64
			for j, noise := range standardized(r, per, sdWithin) {
				v := base + eff + noise
				vs = append(vs, v)
				evs = append(evs, rollout.Event{Experiment: "map-impl", Arm: arm, Unit: unit, Time: t0.Add(time.Duration(j) * time.Second),
					Metrics: map[string]float64{"latency_ms": v}})
			}
			m, _ := meanSD(vs)
			unitMeans[arm] = append(unitMeans[arm], m)
			values[arm] = append(values[arm], vs...)
		}
	}
	r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })

	naiveT, naiveP := welchZ(values["variant"], values["control"])
	if naiveP >= 1e-4 || naiveT < 4 || naiveT > 6.5 {
		t.Fatalf("per-exposure t = %.3g, p = %.3g; the data should make it look significant (t ≈ 5, p < 1e-4)", naiveT, naiveP)
	}
	unitT, unitP := welchZ(unitMeans["variant"], unitMeans["control"])
	if unitP < 0.40 || unitP > 0.52 {
		t.Fatalf("per-unit t = %.3g, p = %.3g computed in the test; the data should give p ≈ 0.46", unitT, unitP)
	}

	rep, err := rollout.Analyze(experiment(50, 50), "control", evs)
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Arms[1].Metrics["latency_ms"]
	if s == nil || s.Versus == nil {
		t.Fatalf("variant latency_ms: %+v; want a comparison", s)
	}
	if s.N != units || s.Values != units*per || rep.Arms[1].Units != units || rep.Arms[1].Exposures != units*per {
		t.Fatalf("variant: N %d units, %d values, %d units, %d exposures; want N = %d units of %d values",
			s.N, s.Values, rep.Arms[1].Units, rep.Arms[1].Exposures, units, per)
	}
	if c := s.Versus; math.Abs(c.P-unitP) > 3e-3 || c.Significant || c.Method != "welch" {
		t.Fatalf("report: %+v; want the per-unit p %.4f (not significant), not the per-exposure %.3g", c, unitP, naiveP)
	}
	wantDiff := 0.0
	for i := range units {
		wantDiff += (unitMeans["variant"][i] - unitMeans["control"][i]) / units
	}
	if c := s.Versus; math.Abs(c.Diff-wantDiff) > 1e-9 || c.Low > wantDiff || c.High < wantDiff || c.High-c.Low < 1.4 {
		t.Fatalf("report: %+v; want Diff %.6f inside a CI about 1.6 wide (per unit), not 0.24 (per exposure)", c, wantDiff)
	}
	t.Logf("per exposure t = %.3f p = %.3g; per unit t = %.3f p = %.4f; report p = %.4f", naiveT, naiveP, unitT, unitP, s.Versus.P)
}

// mergeExperiment has recorded metrics of both reductions and a ratio.
func mergeExperiment() rollout.Experiment {
	e := experiment(50, 50)
	e.Metrics = []rollout.Metric{
		{Name: "requests", Reduce: rollout.ReduceSum},
		{Name: "errors", Reduce: rollout.ReduceSum},
		{Name: "latency_ms", Reduce: rollout.ReduceMean, Covariate: "requests"}, // not a pre-experiment value, but it exercises the merge
		{Name: "error_rate", Numerator: "errors", Denominator: "requests"},
	}
	return e
}

// stream generates a shuffled event stream of n units: 1 to 3 exposures
// at random times, some carrying latency, and 0 to 8 outcomes at times
// before and after them, carrying requests, errors and latency; one unit
// in ten is never exposed. Plus events of another experiment, of an
// unknown arm, and malformed ones.
func stream(r *rand.Rand, n int) []rollout.Event {
	var evs []rollout.Event
	at := func(lo, hi int) time.Time { return t0.Add(time.Duration(lo+r.IntN(hi-lo)) * time.Millisecond) }
	for i := range n {
		unit := fmt.Sprintf("u%d", i)
		arm := []string{"control", "variant"}[r.IntN(2)]
		if r.IntN(10) > 0 {
			for range 1 + r.IntN(3) {
				ev := rollout.Event{Experiment: "map-impl", Arm: arm, Unit: unit, Time: at(0, 1000)}
				if r.IntN(2) == 0 {
					ev.Metrics = map[string]float64{"latency_ms": math.Exp(2 + r.NormFloat64())}
				}
				evs = append(evs, ev)
			}
		}
		rate := 0.02 + 0.1*r.Float64()
		if arm == "variant" {
			rate *= 1.3
		}
		for range r.IntN(9) {
			req := float64(1 + r.IntN(20))
			m := map[string]float64{"requests": req, "errors": math.Round(req * rate * 2 * r.Float64())}
			if r.IntN(3) == 0 {
				m["latency_ms"] = math.Exp(2.5 + r.NormFloat64())
			}
			if r.IntN(10) == 0 {
				m = nil // an outcome with no metric
			}
			evs = append(evs, rollout.Event{Experiment: "map-impl", Unit: unit, Time: at(-300, 1300), Metrics: m})
		}
	}
	evs = append(evs,
		rollout.Event{Experiment: "other", Arm: "control", Unit: "u1"},
		rollout.Event{Experiment: "map-impl", Arm: "nosuch", Unit: "u1"},
		rollout.Event{Experiment: "map-impl", Arm: "control", Unit: ""},
		rollout.Event{Experiment: "map-impl", Unit: "u2", Metrics: map[string]float64{"latency_ms": math.NaN()}},
	)
	r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// roughlyEqual reports whether a and b agree to 1e-9 relative.
func roughlyEqual(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// sameReport fails t unless got equals want: counts and percentiles
// exactly, other floats to 1e-9 relative.
func sameReport(t *testing.T, what string, got, want *rollout.Report) {
	t.Helper()
	if got.Ignored != want.Ignored || got.Malformed != want.Malformed || got.PreExposure != want.PreExposure ||
		got.Unattributed != want.Unattributed || got.Dropped != want.Dropped || got.MixedUnits != want.MixedUnits || len(got.Arms) != len(want.Arms) {
		t.Fatalf("%s: counts %+v; want %+v", what, got, want)
	}
	if !roughlyEqual(got.SRM.ChiSquare, want.SRM.ChiSquare) || !roughlyEqual(got.SRM.P, want.SRM.P) {
		t.Fatalf("%s: SRM %+v; want %+v", what, got.SRM, want.SRM)
	}
	for i, wa := range want.Arms {
		ga := got.Arms[i]
		if ga.Arm != wa.Arm || ga.Units != wa.Units || ga.Exposures != wa.Exposures || ga.Outcomes != wa.Outcomes || len(ga.Metrics) != len(wa.Metrics) {
			t.Fatalf("%s: arm %+v; want %+v", what, ga, wa)
		}
		for name, ws := range wa.Metrics {
			gs := ga.Metrics[name]
			if gs == nil || gs.Kind != ws.Kind || gs.N != ws.N || gs.Values != ws.Values || gs.P50 != ws.P50 || gs.P99 != ws.P99 || !roughlyEqual(gs.Mean, ws.Mean) {
				t.Fatalf("%s: arm %s metric %s: %+v; want %+v", what, wa.Arm, name, gs, ws)
			}
			for _, c := range [][2]*rollout.Comparison{{gs.Versus, ws.Versus}, {gs.Adjusted, ws.Adjusted}} {
				if g, w := c[0], c[1]; (g == nil) != (w == nil) || w != nil && (!roughlyEqual(g.Diff, w.Diff) || !roughlyEqual(g.Low, w.Low) ||
					!roughlyEqual(g.High, w.High) || !roughlyEqual(g.P, w.P) || g.Method != w.Method) {
					t.Fatalf("%s: arm %s metric %s: comparison %+v; want %+v", what, wa.Arm, name, g, w)
				}
			}
		}
	}
}

// TestMergedPartialsEqualSingleReport splits a stream among k
// aggregators at random (a unit's events land in several), ships each
// through MarshalBinary and UnmarshalBinary, merges them, and expects
// the report of one aggregator fed the whole stream, in another order.
func TestMergedPartialsEqualSingleReport(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 2))
	e := mergeExperiment()
	evs := stream(r, 600)
	single := rollout.NewAggregator(e)
	for _, ev := range evs {
		single.Add(ev)
	}
	want, err := single.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	// The stream exercises what it should.
	v := want.Arms[1]
	if want.PreExposure == 0 || want.Unattributed == 0 || want.Malformed != 2 || want.Ignored != 2 || v.Outcomes == 0 ||
		v.Metrics["error_rate"] == nil || v.Metrics["error_rate"].Versus == nil || v.Metrics["requests"].Kind != "sum" ||
		v.Metrics["latency_ms"].Versus == nil || v.Metrics["latency_ms"].Adjusted == nil || want.Dropped != 0 || want.MixedUnits != 0 {
		t.Fatalf("the generated stream does not exercise outcomes, ratios and bad events: %+v", want)
	}
	for trial := range 8 {
		k := 2 + trial%4
		parts := make([]*rollout.Aggregator, k)
		for i := range parts {
			parts[i] = rollout.NewAggregator(e)
		}
		order := slices.Clone(evs)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, ev := range order {
			parts[r.IntN(k)].Add(ev)
		}
		merged := rollout.NewAggregator(e)
		for _, p := range parts {
			blob, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back rollout.Aggregator
			if err := back.UnmarshalBinary(blob); err != nil {
				t.Fatal(err)
			}
			if err := merged.Merge(&back); err != nil {
				t.Fatal(err)
			}
		}
		got, err := merged.Report("control")
		if err != nil {
			t.Fatal(err)
		}
		sameReport(t, fmt.Sprintf("trial %d, %d partials", trial, k), got, want)
	}
}

// TestOutcomeAttribution: an outcome counts for its unit's arm only if
// it is not before the unit's first exposure; a never-exposed unit's
// outcomes are unattributed; and no order of arrival changes that.
func TestOutcomeAttribution(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ev := func(arm, unit string, s int, v float64) rollout.Event {
		e := rollout.Event{Experiment: "map-impl", Arm: arm, Unit: unit, Time: at(s)}
		if v != 0 {
			e.Metrics = map[string]float64{"m": v}
		}
		return e
	}
	evs := []rollout.Event{
		ev("control", "a", 10, 0), // a's first exposure
		ev("", "a", 5, 100),       // before it: not attributed
		ev("", "a", 15, 7),        // after it: control
		ev("", "b", 20, 50),       // b is never exposed: unattributed
		ev("", "c", 20, 3),        // after c's first exposure (10) ...
		ev("control", "c", 30, 0), // ... though before this one
		ev("control", "c", 10, 0),
	}
	// Every order of the 7 events (5040).
	idx := []int{0, 1, 2, 3, 4, 5, 6}
	var permute func(int)
	n := 0
	permute = func(k int) {
		if k == len(idx) {
			n++
			order := make([]rollout.Event, len(idx))
			for i, j := range idx {
				order[i] = evs[j]
			}
			rep, err := rollout.Analyze(experiment(50, 50), "control", order)
			if err != nil {
				t.Fatal(err)
			}
			c := rep.Arms[0]
			s := c.Metrics["m"]
			if rep.PreExposure != 1 || rep.Unattributed != 1 || c.Outcomes != 2 || c.Units != 2 || c.Exposures != 3 ||
				s == nil || s.N != 2 || s.Values != 2 || s.Mean != 5 {
				t.Fatalf("order %v: pre-exposure %d, unattributed %d, control %+v, m %+v; want 1, 1, 2 outcomes of 2 units, m over units a (7) and c (3): mean 5",
					idx, rep.PreExposure, rep.Unattributed, c, s)
			}
			return
		}
		for i := k; i < len(idx); i++ {
			idx[k], idx[i] = idx[i], idx[k]
			permute(k + 1)
			idx[k], idx[i] = idx[i], idx[k]
		}
	}
	permute(0)
	if n != 5040 {
		t.Fatalf("%d orders; want 5040", n)
	}
}

// TestSketchPercentiles: P50 and P99 of a lognormal sample are within
// SketchAccuracy of the exact order statistics.
func TestSketchPercentiles(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 4))
	var evs []rollout.Event
	var xs []float64
	for i := range 20000 {
		x := math.Exp(3 + 1.5*r.NormFloat64())
		xs = append(xs, x)
		evs = append(evs, rollout.Event{Experiment: "map-impl", Arm: "control", Unit: fmt.Sprint("u", i%500), Metrics: map[string]float64{"m": x}})
	}
	rep, err := rollout.Analyze(experiment(100), "control", evs)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(xs)
	s := rep.Arms[0].Metrics["m"]
	if rep.SketchAccuracy != rollout.SketchAccuracy || rollout.SketchAccuracy != 0.01 || s.Values != len(xs) {
		t.Fatalf("accuracy %v, %d values", rep.SketchAccuracy, s.Values)
	}
	for _, q := range []struct {
		p   float64
		got float64
	}{{0.5, s.P50}, {0.99, s.P99}} {
		exact := xs[int(q.p*float64(len(xs)-1))]
		if rel := math.Abs(q.got-exact) / exact; rel > rollout.SketchAccuracy*(1+1e-9) {
			t.Errorf("p%g = %v; exact %v: relative error %.4f over %v", q.p*100, q.got, exact, rel, rollout.SketchAccuracy)
		}
	}
}

// TestNullFalsePositiveRate: with no difference between the arms, units
// that differ a lot and several exposures per unit, the per-unit test
// calls 400 simulated experiments significant at about its 5% level.
func TestNullFalsePositiveRate(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 5))
	const sims = 400
	significant := 0
	for range sims {
		var evs []rollout.Event
		for _, arm := range []string{"control", "variant"} {
			for i := range 30 {
				unit := fmt.Sprintf("%s%d", arm, i)
				mu := 10 + 4*r.NormFloat64()
				for range 5 {
					evs = append(evs, rollout.Event{Experiment: "map-impl", Arm: arm, Unit: unit, Metrics: map[string]float64{"m": mu + r.NormFloat64()}})
				}
			}
		}
		rep, err := rollout.Analyze(experiment(50, 50), "control", evs)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Arms[1].Metrics["m"].Versus.Significant {
			significant++
		}
	}
	if rate := float64(significant) / sims; rate < 0.02 || rate > 0.09 {
		t.Fatalf("false-positive rate %.3f over %d null experiments; want about 0.05", rate, sims)
	}
}

// TestRatioIntervalCoverage: the delta-method 95% interval of an
// error-rate difference covers the true difference in about 95% of 400
// simulated experiments. Each unit's error probability is its arm's
// rate times a unit factor of mean 1, independent of its requests, so
// the true ratio is the arm's rate.
func TestRatioIntervalCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 6))
	e := experiment(50, 50)
	e.Metrics = []rollout.Metric{{Name: "error_rate", Numerator: "errors", Denominator: "requests"}}
	rates := map[string]float64{"control": 0.05, "variant": 0.065}
	const sims = 400
	covered, significant := 0, 0
	for range sims {
		a := rollout.NewAggregator(e)
		for _, arm := range []string{"control", "variant"} {
			for i := range 200 {
				unit := fmt.Sprintf("%s%d", arm, i)
				q := rates[arm] * (0.5 + r.Float64())
				for range 2 {
					req := 1 + r.IntN(20)
					errs := 0
					for range req {
						if r.Float64() < q {
							errs++
						}
					}
					a.Add(rollout.Event{Experiment: "map-impl", Arm: arm, Unit: unit, Metrics: map[string]float64{"requests": float64(req), "errors": float64(errs)}})
				}
			}
		}
		rep, err := a.Report("control")
		if err != nil {
			t.Fatal(err)
		}
		c := rep.Arms[1].Metrics["error_rate"].Versus
		if c.Method != "delta" {
			t.Fatalf("method %q; want delta", c.Method)
		}
		if c.Low <= 0.015 && 0.015 <= c.High {
			covered++
		}
		if c.Significant {
			significant++
		}
	}
	if rate := float64(covered) / sims; rate < 0.92 || rate > 0.98 {
		t.Fatalf("the 95%% interval covered the true difference in %.3f of %d experiments", rate, sims)
	}
	t.Logf("coverage %.3f, power %.3f", float64(covered)/sims, float64(significant)/sims)
}

// TestDeltaMethodWorkedExample checks the package documentation's
// worked example: three units (1, 100), (0, 50), (4, 150) have ratio
// 5/300 and delta-method standard error 0.0075154; against a control
// with the same units the difference is 0 with a 95% interval of
// ±1.96·√2·0.0075154.
func TestDeltaMethodWorkedExample(t *testing.T) {
	e := experiment(50, 50)
	e.Metrics = []rollout.Metric{{Name: "error_rate", Numerator: "errors", Denominator: "requests"}}
	a := rollout.NewAggregator(e)
	for _, arm := range []string{"control", "variant"} {
		for i, u := range [][2]float64{{1, 100}, {0, 50}, {4, 150}} {
			a.Add(rollout.Event{Experiment: "map-impl", Arm: arm, Unit: fmt.Sprint(arm, i), Metrics: map[string]float64{"errors": u[0], "requests": u[1]}})
		}
	}
	rep, err := a.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Arms[1].Metrics["error_rate"]
	half := 1.959963984540054 * math.Sqrt2 * 0.007515416254704823
	if s.Kind != "ratio" || s.N != 3 || math.Abs(s.Mean-5.0/300) > 1e-15 || s.Versus == nil || s.Versus.Diff != 0 ||
		math.Abs(s.Versus.High-half) > 1e-9 || math.Abs(s.Versus.Low+half) > 1e-9 {
		t.Fatalf("error_rate %+v, versus %+v; want ratio 5/300 of 3 units, interval ±%.6f", s, s.Versus, half)
	}
}

// TestAggregatorBadInput: malformed events are errors and counted,
// events of other experiments or unknown arms are ignored, a zero
// Aggregator says so, and merging different experiments is an error that
// changes nothing.
func TestAggregatorBadInput(t *testing.T) {
	e := mergeExperiment()
	a := rollout.NewAggregator(e)
	ok := rollout.Event{Experiment: "map-impl", Arm: "control", Unit: "u", Time: t0, Metrics: map[string]float64{"latency_ms": 3}}
	if err := a.Add(ok); err != nil {
		t.Fatal(err)
	}
	bad := map[string]rollout.Event{
		"no unit":          {Experiment: "map-impl", Arm: "control"},
		"no experiment":    {Arm: "control", Unit: "u"},
		"NaN":              {Experiment: "map-impl", Arm: "control", Unit: "u", Metrics: map[string]float64{"latency_ms": math.NaN()}},
		"+Inf":             {Experiment: "map-impl", Unit: "u", Metrics: map[string]float64{"latency_ms": math.Inf(1)}},
		"empty name":       {Experiment: "map-impl", Unit: "u", Metrics: map[string]float64{"": 1}},
		"ratio recorded":   {Experiment: "map-impl", Unit: "u", Metrics: map[string]float64{"error_rate": 0.1}},
		"time of year 1":   {Experiment: "map-impl", Arm: "control", Unit: "u", Time: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)},
		"NaN among others": {Experiment: "map-impl", Arm: "control", Unit: "u", Metrics: map[string]float64{"new": 1, "latency_ms": 1, "x": math.NaN()}},
	}
	for name, ev := range bad {
		var me *rollout.MalformedEventError
		if err := a.Add(ev); !errors.As(err, &me) {
			t.Errorf("%s: Add = %v; want a *MalformedEventError", name, err)
		}
	}
	for _, ev := range []rollout.Event{{Experiment: "other", Arm: "control", Unit: "u"}, {Experiment: "map-impl", Arm: "nosuch", Unit: "u"}} {
		if err := a.Add(ev); err != nil {
			t.Errorf("Add(%+v) = %v; want it ignored without error", ev, err)
		}
	}
	rep, err := a.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Malformed != len(bad) || rep.Ignored != 2 || rep.Arms[0].Exposures != 1 || len(rep.Arms[0].Metrics) != 1 || rep.Arms[0].Metrics["latency_ms"].Values != 1 {
		t.Fatalf("malformed %d, ignored %d, control %+v; want %d malformed events counted and nothing else of them kept", rep.Malformed, rep.Ignored, rep.Arms[0], len(bad))
	}
	if _, err := a.Report("nosuch"); err == nil {
		t.Error("Report with an unknown control arm: no error")
	}
	var zero rollout.Aggregator
	if err := zero.Add(ok); err == nil {
		t.Error("Add on a zero Aggregator: no error")
	}
	if _, err := rollout.NewAggregator(e).Report("control"); !errors.As(err, new(*rollout.NoExposuresError)) {
		t.Errorf("Report of no events = %v; want a *NoExposuresError", err)
	}

	before, _ := a.MarshalBinary()
	for name, change := range map[string]func(*rollout.Experiment){
		"key":     func(x *rollout.Experiment) { x.Key = "other" },
		"salt":    func(x *rollout.Experiment) { x.Salt = "other" },
		"weights": func(x *rollout.Experiment) { x.Arms[1].Weight = 40 },
		"arms":    func(x *rollout.Experiment) { x.Arms = append(x.Arms, rollout.Arm{Name: "third"}) },
		"reduce":  func(x *rollout.Experiment) { x.Metrics[2].Reduce = rollout.ReduceSum },
		"ratio":   func(x *rollout.Experiment) { x.Metrics = x.Metrics[:3] },
	} {
		o := mergeExperiment()
		change(&o)
		other := rollout.NewAggregator(o)
		other.Add(rollout.Event{Experiment: o.Key, Arm: "control", Unit: "v"})
		if err := a.Merge(other); err == nil {
			t.Errorf("Merge of an experiment with another %s: no error", name)
		}
	}
	if err := a.Merge(a); err == nil {
		t.Error("Merge with itself: no error")
	}
	if after, _ := a.MarshalBinary(); len(after) != len(before) {
		t.Errorf("refused merges changed the aggregator: blob %d bytes, was %d", len(after), len(before))
	}
	badMetrics := experiment(50, 50)
	badMetrics.Metrics = []rollout.Metric{{Name: "r", Numerator: "x"}}
	if err := rollout.NewAggregator(badMetrics).Add(ok); !errors.As(err, new(*rollout.FieldError)) {
		t.Errorf("Add to an aggregator of a misconfigured metric = %v; want its *FieldError", err)
	}
}

// TestHeldOutcomesBounded: a unit's outcomes held back waiting for an
// exposure are bounded; the rest are dropped and counted, not kept.
func TestHeldOutcomesBounded(t *testing.T) {
	a := rollout.NewAggregator(experiment(50, 50))
	for i := range 100 {
		a.Add(rollout.Event{Experiment: "map-impl", Unit: "u", Time: t0.Add(time.Duration(i) * time.Second), Metrics: map[string]float64{"m": 1}})
	}
	a.Add(rollout.Event{Experiment: "map-impl", Arm: "control", Unit: "u", Time: t0})
	rep, err := a.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 36 || rep.Arms[0].Outcomes != 64 {
		t.Fatalf("dropped %d, attributed %d; want 36 dropped past the bound of 64 held, 64 attributed", rep.Dropped, rep.Arms[0].Outcomes)
	}
}

// TestConfigMetrics parses reduce and ratio metrics and rejects bad ones
// naming the field.
func TestConfigMetrics(t *testing.T) {
	const head = "experiments:\n  - key: k\n    salt: s\n    arms: [{name: control, weight: 50}, {name: v, weight: 50}]\n    metrics:\n"
	c, err := rollout.ParseConfig([]byte(head + "      - {name: requests, reduce: sum}\n      - {name: latency_ms}\n      - {name: error_rate, numerator: errors, denominator: requests}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []rollout.Metric{{Name: "requests", Reduce: rollout.ReduceSum}, {Name: "latency_ms"}, {Name: "error_rate", Numerator: "errors", Denominator: "requests"}}
	if !slices.Equal(c.Experiments[0].Metrics, want) {
		t.Fatalf("metrics %+v; want %+v", c.Experiments[0].Metrics, want)
	}
	for body, field := range map[string]string{
		"      - {name: m, reduce: median}\n":                            "metrics[0].reduce",
		"      - {name: m}\n      - {name: m}\n":                         "metrics[1].name",
		"      - {reduce: sum}\n":                                        "metrics[0].name",
		"      - {name: r, numerator: a}\n":                              "metrics[0].denominator",
		"      - {name: r, denominator: a}\n":                            "metrics[0].numerator",
		"      - {name: r, numerator: a, denominator: b, reduce: sum}\n": "metrics[0].reduce",
		"      - {name: r, numerator: a, denominator: a}\n":              "metrics[0].denominator",
		"      - {name: r, numerator: a, denominator: b}\n      - {name: s, numerator: r, denominator: b}\n": "metrics[1].numerator",
		"      - {name: r, numerator: a, denominator: b, covariate: c}\n":                                    "metrics[0].covariate",
		"      - {name: m, covariate: m}\n":                                                                  "metrics[0].covariate",
		"      - {name: r, numerator: a, denominator: b}\n      - {name: m, covariate: r}\n":                 "metrics[1].covariate",
	} {
		_, err := rollout.ParseConfig([]byte(head + body))
		var fe *rollout.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%q: %v; want a *FieldError for %s", body, err, field)
		}
	}
}

// TestWriteTextLegend: the text report says what its numbers are: over
// units, the kind of each metric, the sketch's accuracy, and the
// outcomes and events not counted.
func TestWriteTextLegend(t *testing.T) {
	a := rollout.NewAggregator(mergeExperiment())
	for _, ev := range stream(rand.New(rand.NewPCG(16, 8)), 200) {
		a.Add(ev)
	}
	rep, err := a.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"n units", "error_rate", " ratio ", " sum ", " mean ",
		"relative accuracy 1%",
		fmt.Sprintf("outcomes not attributed: %d before their unit's first exposure, %d of units never exposed", rep.PreExposure, rep.Unattributed),
		"2 malformed events rejected", "2 events of other experiments or unknown arms ignored",
		"Welch's t-test over units", "delta",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// cupedSim simulates an experiment whose units differ a lot (sd 10) and
// whose covariate, sent with the first exposure, is the unit's level
// measured before (noise sd 2); effect is added to the variant's values.
// It returns the events and, per arm, each unit's (value mean, covariate).
func cupedSim(r *rand.Rand, units int, effect float64) ([]rollout.Event, map[string][][2]float64) {
	var evs []rollout.Event
	pairs := map[string][][2]float64{}
	for _, arm := range []string{"control", "variant"} {
		for i := range units {
			unit := fmt.Sprintf("%s%d", arm, i)
			level := 50 + 10*r.NormFloat64()
			pre := level + 2*r.NormFloat64()
			sum := 0.0
			for j := range 3 {
				v := level + 2*r.NormFloat64()
				if arm == "variant" {
					v += effect
				}
				sum += v
				m := map[string]float64{"latency_ms": v}
				if j == 0 {
					m["pre_latency_ms"] = pre
				}
				evs = append(evs, rollout.Event{Experiment: "map-impl", Arm: arm, Unit: unit, Metrics: m})
			}
			pairs[arm] = append(pairs[arm], [2]float64{sum / 3, pre})
		}
	}
	return evs, pairs
}

func cupedExperiment() rollout.Experiment {
	e := experiment(50, 50)
	e.Metrics = []rollout.Metric{{Name: "latency_ms", Covariate: "pre_latency_ms"}}
	return e
}

// TestCUPED: with a covariate that explains most of the units'
// differences, the adjusted comparison has the difference the test
// computes by the textbook formula, an interval several times narrower
// than the unadjusted one that still covers the true effect, and under
// the null calls about 5% of experiments significant.
func TestCUPED(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 10))
	const effect = 1.0
	evs, pairs := cupedSim(r, 300, effect)
	rep, err := rollout.Analyze(cupedExperiment(), "control", evs)
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Arms[1].Metrics["latency_ms"]
	plain, adj := s.Versus, s.Adjusted
	if adj == nil || adj.Method != "cuped" || plain == nil {
		t.Fatalf("latency_ms: versus %+v, adjusted %+v; want both", plain, adj)
	}
	// Textbook CUPED: theta = cov(y, x) / var(x) over all units; each
	// arm's mean of y - theta (x - mean x).
	var all [][2]float64
	all = append(append(all, pairs["control"]...), pairs["variant"]...)
	var my, mx float64
	for _, p := range all {
		my += p[0] / float64(len(all))
		mx += p[1] / float64(len(all))
	}
	var sxy, sxx float64
	for _, p := range all {
		sxy += (p[0] - my) * (p[1] - mx)
		sxx += (p[1] - mx) * (p[1] - mx)
	}
	theta := sxy / sxx
	adjMean := func(arm string) float64 {
		m := 0.0
		for _, p := range pairs[arm] {
			m += (p[0] - theta*(p[1]-mx)) / float64(len(pairs[arm]))
		}
		return m
	}
	if want := adjMean("variant") - adjMean("control"); math.Abs(adj.Diff-want) > 1e-9 {
		t.Fatalf("adjusted difference %v; the textbook formula gives %v", adj.Diff, want)
	}
	if w, pw := adj.High-adj.Low, plain.High-plain.Low; w > 0.35*pw || adj.Low > effect || adj.High < effect || !adj.Significant {
		t.Fatalf("adjusted %+v (width %.3f), unadjusted %+v (width %.3f); want a significant interval under 0.35 of the width covering %v", adj, w, plain, pw, effect)
	}

	significant := 0
	const sims = 300
	for range sims {
		evs, _ := cupedSim(r, 40, 0)
		rep, err := rollout.Analyze(cupedExperiment(), "control", evs)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Arms[1].Metrics["latency_ms"].Adjusted.Significant {
			significant++
		}
	}
	if rate := float64(significant) / sims; rate < 0.02 || rate > 0.09 {
		t.Fatalf("CUPED false-positive rate %.3f over %d null experiments; want about 0.05", rate, sims)
	}
}

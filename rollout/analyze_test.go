package rollout_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/mapguard/mapguard/rollout"
)

// events makes n units' exposures in arm, with latency drawn from a normal
// distribution of the given mean and standard deviation.
func events(r *rand.Rand, arm string, n int, mean, sd float64) []rollout.Event {
	var out []rollout.Event
	for i := range n {
		out = append(out, rollout.Event{Experiment: "map-impl", Arm: arm, Unit: arm + strconv.Itoa(i),
			Metrics: map[string]float64{"latency_ms": mean + sd*r.NormFloat64()}})
	}
	return out
}

func TestAnalyzeFindsTheFasterArm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	e := experiment(10, 10)
	evs := append(events(r, "control", 2000, 10, 2), events(r, "variant", 2000, 9.5, 2)...)
	evs = append(evs, rollout.Event{Experiment: "other", Arm: "x", Unit: "u"})
	rep, err := rollout.Analyze(e, "control", evs)
	if err != nil {
		t.Fatal(err)
	}
	v := rep.Arms[1].Metrics["latency_ms"].Versus
	if v == nil || !v.Significant || v.Diff > -0.3 || v.Low > -0.3 || v.High < -0.7 && v.High > -0.3 {
		t.Fatalf("variant vs control: %+v; want a significant difference near -0.5", v)
	}
	if v.Low > -0.5 || v.High < -0.5 {
		t.Fatalf("95%% CI [%v, %v] misses the true difference -0.5", v.Low, v.High)
	}
	if rep.SRM.Mismatch || rep.Ignored != 1 {
		t.Fatalf("SRM %+v, ignored %d", rep.SRM, rep.Ignored)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	for _, want := range []string{"experiment map-impl (control: control)", "latency_ms", " *", "sample ratio", "ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAnalyzeNoDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	evs := append(events(r, "control", 500, 10, 2), events(r, "variant", 500, 10, 2)...)
	rep, _ := rollout.Analyze(experiment(10, 10), "control", evs)
	if v := rep.Arms[1].Metrics["latency_ms"].Versus; v == nil || v.Significant {
		t.Fatalf("equal arms reported significant: %+v", v)
	}
}

// TestSampleRatioMismatch: weights 10/10 but 1000 vs 700 units is a
// broken assignment.
func TestSampleRatioMismatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	evs := append(events(r, "control", 1000, 10, 1), events(r, "variant", 700, 10, 1)...)
	rep, _ := rollout.Analyze(experiment(10, 10), "control", evs)
	if !rep.SRM.Mismatch || rep.SRM.P > 1e-6 {
		t.Fatalf("SRM %+v; want a mismatch", rep.SRM)
	}
	ok := append(events(r, "control", 1000, 10, 1), events(r, "variant", 1020, 10, 1)...)
	if rep, _ := rollout.Analyze(experiment(10, 10), "control", ok); rep.SRM.Mismatch {
		t.Fatalf("1000 vs 1020 flagged: %+v", rep.SRM)
	}
	if _, err := rollout.Analyze(experiment(10, 10), "nosuch", nil); err == nil {
		t.Fatal("unknown control arm accepted")
	}
}

// TestWelchAgainstKnownValues checks the t-test on Wikipedia's Welch
// example (t = -2.46, df = 24.99): p = 0.021378, computed independently by
// integrating Student's t density numerically.
func TestWelchAgainstKnownValues(t *testing.T) {
	a := []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	b := []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}
	var evs []rollout.Event
	for i, v := range a {
		evs = append(evs, rollout.Event{Experiment: "map-impl", Arm: "variant", Unit: "a" + strconv.Itoa(i), Metrics: map[string]float64{"m": v}})
	}
	for i, v := range b {
		evs = append(evs, rollout.Event{Experiment: "map-impl", Arm: "control", Unit: "b" + strconv.Itoa(i), Metrics: map[string]float64{"m": v}})
	}
	rep, _ := rollout.Analyze(experiment(50, 50), "control", evs)
	c := rep.Arms[1].Metrics["m"].Versus
	if c == nil || math.Abs(c.P-0.021378) > 1e-5 {
		t.Fatalf("Welch p = %+v; want 0.021378", c)
	}
}

// TestAnalyzeNoExposures pins the bug where no exposures (an empty file,
// a file of other experiments' events, an unreachable broker) gave an
// empty report whose sample-ratio line said "ok".
func TestAnalyzeNoExposures(t *testing.T) {
	unrelated := []rollout.Event{{Experiment: "other", Arm: "control", Unit: "u"}, {Experiment: "map-impl", Arm: "nosuch", Unit: "u"}}
	for _, evs := range [][]rollout.Event{nil, unrelated} {
		rep, err := rollout.Analyze(experiment(10, 10), "control", evs)
		var none *rollout.NoExposuresError
		if !errors.As(err, &none) || none.Events != len(evs) || none.Experiment != "map-impl" || rep != nil {
			t.Fatalf("Analyze(%d unrelated events) = %v, %v; want a *NoExposuresError for map-impl with Events %d", len(evs), rep, err, len(evs))
		}
		if !strings.HasPrefix(err.Error(), "rollout: ") || !strings.Contains(err.Error(), `"map-impl"`) {
			t.Fatalf("error %q does not name the package and the experiment", err)
		}
	}
}

// TestSampleRatioNotCheckedWithFewUnits: with 3 units per arm the
// chi-square test means nothing, and the report must not say "ok".
func TestSampleRatioNotCheckedWithFewUnits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	evs := append(events(r, "control", 3, 10, 1), events(r, "variant", 3, 10, 1)...)
	rep, err := rollout.Analyze(experiment(10, 10), "control", evs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SRM.NotChecked == "" || rep.SRM.Mismatch {
		t.Fatalf("SRM %+v with 6 units; want not checked", rep.SRM)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sample ratio: not checked: too few units (6)") || strings.Contains(out.String(), ": ok") {
		t.Fatalf("report:\n%s\nwant the sample ratio not checked, not ok", out.String())
	}
	one := rollout.Experiment{Key: "map-impl", Salt: "s", Arms: []rollout.Arm{{Name: "control", Weight: 10}}}
	if rep, err := rollout.Analyze(one, "control", events(r, "control", 100, 10, 1)); err != nil || rep.SRM.NotChecked == "" {
		t.Fatalf("one-arm experiment: SRM %+v, %v; want not checked", rep.SRM, err)
	}
}

// TestSampleRatioUnitsInZeroWeightArm pins that units in an arm of weight
// 0, which enrols nobody, are a mismatch (the chi-square over expected
// counts skipped that arm and printed ok).
func TestSampleRatioUnitsInZeroWeightArm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	evs := append(events(r, "control", 500, 10, 1), events(r, "variant", 500, 10, 1)...)
	evs = append(evs, events(r, "third", 3, 10, 1)...)
	rep, err := rollout.Analyze(experiment(10, 10, 0), "control", evs)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.SRM.Mismatch {
		t.Fatalf("SRM %+v with 3 units in an arm of weight 0; want a mismatch", rep.SRM)
	}
}

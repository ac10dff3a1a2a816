package rollout_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/murmur3"

	"github.com/mapguard/mapguard/rollout"
)

// TestMurmur3ReferenceVectors checks the hash against MurmurHash3_x86_32's
// published values, so the golden buckets rest on the real algorithm.
func TestMurmur3ReferenceVectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"hello", 0, 0x248bfa47},
		{"The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723},
	} {
		if got := murmur3.SeedStringSum32(tc.seed, tc.in); got != tc.want {
			t.Errorf("murmur3_32(%q, seed %d) = %#x; want %#x", tc.in, tc.seed, got, tc.want)
		}
	}
}

func experiment(weights ...float64) rollout.Experiment {
	e := rollout.Experiment{Key: "map-impl", Salt: "map-impl-2026-11"}
	for i, w := range weights {
		e.Arms = append(e.Arms, rollout.Arm{Name: []string{"control", "variant", "third"}[i], Weight: w})
	}
	return e
}

// TestArmsChiSquare assigns 1,000,000 units and checks each arm's share
// against its weight with a chi-square test (3 cells, 2 degrees of
// freedom: the 0.1% critical value is 13.82).
func TestArmsChiSquare(t *testing.T) {
	if testing.Short() {
		t.Skip("1e6 assignments")
	}
	e := experiment(5, 10)
	const n = 1_000_000
	counts := map[string]int{}
	for i := range n {
		counts[e.Assign("id-"+strconv.Itoa(i), nil).Arm]++
	}
	expected := map[string]float64{"control": 0.05 * n, "variant": 0.10 * n, "": 0.85 * n}
	chi2 := 0.0
	for arm, exp := range expected {
		d := float64(counts[arm]) - exp
		chi2 += d * d / exp
	}
	if chi2 > 13.82 {
		t.Fatalf("arm counts %v: chi-square %.2f > 13.82 (p < 0.001): the split does not follow the weights", counts, chi2)
	}
	t.Logf("counts %v, chi-square %.2f", counts, chi2)
}

// TestRampNeverReassigns ramps the traffic 5% -> 10% -> 50% keeping the
// arms' proportions: every unit enrolled at a step stays in its arm at
// every later step.
func TestRampNeverReassigns(t *testing.T) {
	steps := []rollout.Experiment{experiment(2, 3), experiment(4, 6), experiment(20, 30)}
	const n = 200_000
	prev := make([]string, n)
	for s, e := range steps {
		enrolled := 0
		for i := range n {
			arm := e.Assign("id-"+strconv.Itoa(i), nil).Arm
			if prev[i] != "" && arm != prev[i] {
				t.Fatalf("step %d: unit %d moved from %s to %q", s, i, prev[i], arm)
			}
			if arm != "" {
				enrolled++
			}
			prev[i] = arm
		}
		want := 0.05 * float64(n) * []float64{1, 2, 10}[s]
		if math.Abs(float64(enrolled)-want) > 0.05*want {
			t.Fatalf("step %d enrolled %d; want about %.0f", s, enrolled, want)
		}
	}
}

// TestSeparateHashesAreIndependent checks that the arm hash splits the
// enrolled units by the arms' weights even at low traffic: picking the arm
// from the enrolment bucket itself would give the first arm the units
// enrolled first.
func TestSeparateHashesAreIndependent(t *testing.T) {
	// Among units enrolled at 5%, the arm hash must still split 1:2.
	e := experiment(5.0/3, 10.0/3)
	counts := map[string]int{}
	for i := range 300_000 {
		if a := e.Assign("id-"+strconv.Itoa(i), nil); a.Arm != "" {
			counts[a.Arm]++
		}
	}
	ratio := float64(counts["variant"]) / float64(counts["control"])
	if math.Abs(ratio-2) > 0.15 {
		t.Fatalf("variant/control among enrolled = %.2f; want 2", ratio)
	}
}

func TestTargetingAndDeterminism(t *testing.T) {
	e := experiment(50, 50)
	e.Targeting = map[string][]string{"region": {"eu", "us"}}
	if a := e.Assign("u1", map[string]string{"region": "ap"}); a.Arm != "" || a.Reason != "not-targeted" {
		t.Fatalf("unit outside targeting: %+v", a)
	}
	if a := e.Assign("u1", nil); a.Reason != "not-targeted" {
		t.Fatalf("unit without the attribute: %+v", a)
	}
	a1 := e.Assign("u1", map[string]string{"region": "eu"})
	for range 10 {
		if a := e.Assign("u1", map[string]string{"region": "eu"}); a != a1 {
			t.Fatalf("assignment changed: %+v then %+v", a1, a)
		}
	}
	if a1.Reason != "enrolled" || a1.Arm == "" {
		t.Fatalf("100%% traffic left u1 out: %+v", a1)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{`experiments: [{key: a, salt: s, arms: [{name: c, weight: 60}, {name: v, weight: 50}]}]`, "arms: weights sum to 110.00%"},
		{`experiments: [{key: a, salt: s, arms: [{name: c, weight: 5}, {name: c, weight: 5}]}]`, `arms[1].name: duplicate arm name "c"`},
		{`experiments: [{key: a, salt: "", arms: [{name: c, weight: 5}]}]`, "salt: must not be empty"},
		{`experiments: [{key: a, salt: s, arms: [{name: c, weight: 5, colour: red}]}]`, "field colour not found"},
		{`experiments: [{key: a, salt: s, arms: [{name: c, weight: -1}]}]`, "arms[0].weight"},
		{`experiments: [{key: a, salt: s, arms: [{name: c, weight: 1.234}]}]`, "arms[0].weight: 1.234 has more than two decimals"},
		{`experiments: [{key: a, salt: s, arms: []}]`, "arms: at least one arm"},
		{`experiments: [{key: a, salt: s, arms: [{name: c, weight: 1}]}, {key: a, salt: t, arms: [{name: c, weight: 1}]}]`, "experiments[1].key: duplicate experiment key"},
		{`{"experiments": [{"key": "a", "salt": "s", "arms": [{"name": "", "weight": 1}]}]}`, "arms[0].name: must not be empty"},
		{`experiments: {`, "rollout: config"},
		{`experiments: []`, "no experiment defined"},
	} {
		_, err := rollout.ParseConfig([]byte(tc.config))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("ParseConfig(%s) = %v; want an error containing %q", tc.config, err, tc.field)
		}
	}
}

const goodConfig = `
experiments:
  - key: map-impl
    salt: map-impl-2026-11
    arms:
      - {name: control, weight: 5}
      - {name: mapguard, weight: 10}
`

func TestReloadKeepsLastGoodConfig(t *testing.T) {
	a, err := rollout.NewAssigner([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := a.Experiment("map-impl")
	if err := a.Reload([]byte(`experiments: [{key: map-impl, salt: x, arms: [{name: c, weight: 200}]}]`)); err == nil {
		t.Fatal("a config with weight 200 was accepted")
	}
	after, _ := a.Experiment("map-impl")
	if after.Salt != before.Salt || len(after.Arms) != 2 {
		t.Fatalf("bad reload changed the config: %+v", after)
	}
	if _, err := a.Assign("nope", "u", nil); !errors.Is(err, rollout.ErrUnknownExperiment) {
		t.Fatalf("unknown experiment: %v", err)
	}
	// Concurrent assignments during reloads see one config or the other.
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			a.Reload([]byte(goodConfig))
		}
	})
	for i := range 2000 {
		if _, err := a.Assign("map-impl", strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

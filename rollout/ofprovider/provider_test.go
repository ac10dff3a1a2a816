package ofprovider_test

import (
	"context"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/ofprovider"
)

const config = `
experiments:
  - key: map-impl
    salt: map-impl-2026-11
    arms:
      - {name: control, weight: 30}
      - {name: mapguard, weight: 30}
    targeting: {region: [eu, us]}
`

func setup(t *testing.T) (*of.Client, *rollout.Assigner, *rollout.MemorySink) {
	t.Helper()
	a, err := rollout.NewAssigner([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	sink := &rollout.MemorySink{}
	domain := t.Name()
	if err := of.SetNamedProviderAndWait(domain, ofprovider.New(a, sink)); err != nil {
		t.Fatal(err)
	}
	return of.NewClient(domain), a, sink
}

// TestSameAssignmentAsRollout evaluates the experiment through the
// OpenFeature SDK for many units: the variant is rollout's arm, enrolled
// units record an exposure through the provider's hook, and units left
// out get the default with reason DEFAULT.
func TestSameAssignmentAsRollout(t *testing.T) {
	client, a, sink := setup(t)
	ctx := context.Background()
	enrolled := 0
	for i := range 500 {
		unit := "instance-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		ec := of.NewEvaluationContext(unit, map[string]any{"region": "eu"})
		d, err := client.StringValueDetails(ctx, "map-impl", "off", ec)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := a.Assign("map-impl", unit, map[string]string{"region": "eu"})
		switch {
		case want.Arm == "":
			if d.Value != "off" || d.Reason != of.DefaultReason {
				t.Fatalf("%s not enrolled: got %+v", unit, d)
			}
		default:
			enrolled++
			if d.Value != want.Arm || d.Variant != want.Arm || d.Reason != of.SplitReason {
				t.Fatalf("%s: OpenFeature says %+v; rollout says %s", unit, d, want.Arm)
			}
		}
	}
	if got := len(sink.Events()); got != enrolled || enrolled == 0 {
		t.Fatalf("%d exposures recorded for %d enrolled evaluations", got, enrolled)
	}
}

func TestErrorsAndTracking(t *testing.T) {
	client, a, sink := setup(t)
	ctx := context.Background()
	if d, _ := client.StringValueDetails(ctx, "map-impl", "off", of.NewEvaluationContext("", nil)); d.ErrorCode != of.TargetingKeyMissingCode || d.Value != "off" {
		t.Fatalf("no targeting key: %+v", d)
	}
	if d, _ := client.StringValueDetails(ctx, "nosuch", "off", of.NewEvaluationContext("u", nil)); d.ErrorCode != of.FlagNotFoundCode {
		t.Fatalf("unknown experiment: %+v", d)
	}
	if d, _ := client.BooleanValueDetails(ctx, "map-impl", false, of.NewEvaluationContext("u", nil)); d.ErrorCode != of.TypeMismatchCode {
		t.Fatalf("bool evaluation: %+v", d)
	}
	if d, _ := client.StringValueDetails(ctx, "map-impl", "off", of.NewEvaluationContext("u1", map[string]any{"region": "ap"})); d.Reason != of.DefaultReason {
		t.Fatalf("outside targeting: %+v", d)
	}
	// Track a metric for an enrolled unit.
	var unit string
	for i := range 100 {
		u := "u" + string(rune('a'+i))
		if r, _ := a.Assign("map-impl", u, map[string]string{"region": "us"}); r.Arm != "" {
			unit = u
			break
		}
	}
	before := len(sink.Events())
	client.Track(ctx, "latency_ms", of.NewEvaluationContext(unit, map[string]any{"region": "us"}), of.NewTrackingEventDetails(12.5).Add("experiment", "map-impl"))
	evs := sink.Events()
	if len(evs) != before+1 || evs[len(evs)-1].Metrics["latency_ms"] != 12.5 || evs[len(evs)-1].Unit != unit {
		t.Fatalf("tracking recorded %+v", evs[before:])
	}
}

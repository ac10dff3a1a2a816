package rollout_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/mapguard/mapguard/rollout"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/buckets.golden.json from the current bucketing")

type goldenVector struct {
	Salt    string `json:"salt"`
	Unit    string `json:"unit"`
	Enrol   int    `json:"enrol_bucket"`
	ArmPick int    `json:"arm_bucket"`
}

// TestGoldenBuckets pins the bucketing: the checked-in vectors were
// produced by this code (go test ./rollout -run Golden -update) and any
// change to the hash, seeds or key format, which would reassign every
// unit of every running experiment, fails here.
func TestGoldenBuckets(t *testing.T) {
	var vectors []goldenVector
	for _, salt := range []string{"map-impl-2026-11", "gc-tuning", "s"} {
		for i := range 8 {
			u := fmt.Sprintf("unit-%d", i*7919)
			vectors = append(vectors, goldenVector{salt, u, rollout.Bucket(salt, u, 0), rollout.Bucket(salt, u, 86028157)})
		}
	}
	path := "testdata/buckets.golden.json"
	if *updateGolden {
		b, _ := json.MarshalIndent(vectors, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []goldenVector
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(vectors) {
		t.Fatalf("%d golden vectors; computed %d", len(want), len(vectors))
	}
	for i := range want {
		if want[i] != vectors[i] {
			t.Errorf("bucket of %q under %q: %+v; golden %+v", want[i].Unit, want[i].Salt, vectors[i], want[i])
		}
	}
}

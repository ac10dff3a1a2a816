package lab_test

import (
	"testing"

	"github.com/mapguard/mapguard/lab"
)

// r makes a synthetic run.
func r(variant, fatal string, kv ...any) lab.Run {
	run := lab.Run{Variant: variant, Fatal: fatal, Metrics: map[string]float64{}, Notes: map[string]string{}}
	if fatal != "" {
		run.ExitCode = 2
	}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case float64:
			run.Metrics[kv[i].(string)] = v
		case int:
			run.Metrics[kv[i].(string)] = float64(v)
		case string:
			run.Notes[kv[i].(string)] = v
		}
	}
	return run
}

func times(n int, run lab.Run) []lab.Run {
	out := make([]lab.Run, n)
	for i := range out {
		out[i] = run
	}
	return out
}

func join(parts ...[]lab.Run) []lab.Run {
	var out []lab.Run
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

const (
	iterCrash = "fatal error: concurrent map iteration and map write"
	readCrash = "fatal error: concurrent map read and map write"
)

// TestVerdicts feeds each scenario's judge synthetic measurements for
// each outcome: the verdict must follow the evidence.
func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		runs     []lab.Run
		want     lab.Verdict
	}{
		{"range-while-insert", join(times(3, r("empty", iterCrash)), times(3, r("prefilled", iterCrash))), lab.Confirmed},
		{"range-while-insert", join(times(3, r("empty", "", "passes", 9)), times(3, r("prefilled", iterCrash))), lab.Partly},
		{"range-while-insert", join(times(3, r("empty", "", "passes", 9)), times(3, r("prefilled", "", "passes", 9))), lab.Refuted},
		{"range-while-insert", nil, lab.Inconclusive},

		{"recover-map-crash", times(3, r("recover", iterCrash)), lab.Refuted},
		{"recover-map-crash", times(3, r("recover", "", "recovered", 1)), lab.Confirmed},
		{"recover-map-crash", times(3, r("recover", "", "recovered", 0)), lab.Inconclusive},

		{"read-while-write", times(10, r("lookup", readCrash)), lab.Confirmed},
		{"read-while-write", join(times(3, r("lookup", readCrash)), times(7, r("lookup", "", "sum", 1))), lab.Partly},
		{"read-while-write", times(10, r("lookup", "", "sum", 1)), lab.Refuted},

		{"syncmap-dirty-map", []lab.Run{r("inspect", "", "fields", "m HashTrieMap", "entries", 10)}, lab.Outdated},
		{"syncmap-dirty-map", []lab.Run{r("inspect", "", "fields", "mu; read; dirty; misses", "dirty_len", 12800, "misses", 98000)}, lab.Confirmed},
		{"syncmap-dirty-map", []lab.Run{r("inspect", "", "fields", "mu; read; dirty; misses", "dirty_len", 10, "misses", 3)}, lab.Refuted},

		{"syncmap-range-stw", []lab.Run{r("range", "", "max_pause_ms", 250.0), r("baseline", "", "max_pause_ms", 1.0)}, lab.Confirmed},
		{"syncmap-range-stw", []lab.Run{r("range", "", "max_pause_ms", 0.2), r("baseline", "", "max_pause_ms", 0.1)}, lab.Refuted},
		{"syncmap-range-stw", []lab.Run{r("range", "", "max_pause_ms", 30.0), r("baseline", "", "max_pause_ms", 1.0)}, lab.Partly},

		{"syncmap-range-store", times(2, r("store-in-range", iterCrash)), lab.Confirmed},
		{"syncmap-range-store", times(2, r("store-in-range", "", "new_keys_visited", 300, "new_keys_stored", 700, "visits", 1000)), lab.Refuted},
		{"syncmap-range-store", times(2, r("store-in-range", "", "new_keys_visited", 0, "new_keys_stored", 1000, "visits", 1000)), lab.Partly},

		{"closure-keeps-map", []lab.Run{r("capture-map", "", "map_bytes", 5e7, "retained_bytes", 5e7), r("capture-value", "", "retained_bytes", 2e4)}, lab.Confirmed},
		{"closure-keeps-map", []lab.Run{r("capture-map", "", "map_bytes", 5e7, "retained_bytes", 2e4), r("capture-value", "", "retained_bytes", 2e4)}, lab.Refuted},

		{"cycles-leak", []lab.Run{r("cycles", "", "nodes", 1000, "freed", 1000)}, lab.Refuted},
		{"cycles-leak", []lab.Run{r("cycles", "", "nodes", 1000, "freed", 0)}, lab.Confirmed},

		{"cow-vs-rwmutex", []lab.Run{r("cow", "", "reads_per_sec", 2e8, "p99_pause_ms", 0.1), r("rwmutex", "", "reads_per_sec", 2e7, "p99_pause_ms", 0.5)}, lab.Confirmed},
		{"cow-vs-rwmutex", []lab.Run{r("cow", "", "reads_per_sec", 2e8, "p99_pause_ms", 0.5), r("rwmutex", "", "reads_per_sec", 2e7, "p99_pause_ms", 0.0)}, lab.Partly},
		{"cow-vs-rwmutex", []lab.Run{r("cow", "", "reads_per_sec", 1e7, "p99_pause_ms", 0.5), r("rwmutex", "", "reads_per_sec", 2e7, "p99_pause_ms", 0.1)}, lab.Refuted},

		{"shard-sequential-keys", []lab.Run{r("hashes", "", "keys", 100000, "fnv1a_max_over_mean", 1.03, "maphash_max_over_mean", 1.04, "sum_bytes_max_over_mean", 1.02)}, lab.Confirmed},
		{"shard-sequential-keys", []lab.Run{r("hashes", "", "keys", 100000, "fnv1a_max_over_mean", 1.03, "maphash_max_over_mean", 1.04, "sum_bytes_max_over_mean", 2.0)}, lab.Partly},
		{"shard-sequential-keys", []lab.Run{r("hashes", "", "keys", 100000, "fnv1a_max_over_mean", 1.9, "maphash_max_over_mean", 1.04, "sum_bytes_max_over_mean", 2.0)}, lab.Refuted},

		{"syncmap-costs", []lab.Run{r("bench", "", "load_ns", 3.0, "store_ns", 50.0)}, lab.Confirmed},
		{"syncmap-costs", []lab.Run{r("bench", "", "load_ns", 13.0, "store_ns", 62.0)}, lab.Partly},
		{"syncmap-costs", []lab.Run{r("bench", "", "load_ns", 30.0, "store_ns", 500.0)}, lab.Refuted},

		{"map-memory-back", []lab.Run{r("builtin", "", "full_bytes", 4e7, "after_delete_bytes", 1e6), r("mapguard", "", "full_bytes", 5e7, "after_delete_bytes", 1e6)}, lab.Confirmed},
		{"map-memory-back", []lab.Run{r("builtin", "", "full_bytes", 4e7, "after_delete_bytes", 4e7), r("mapguard", "", "full_bytes", 5e7, "after_delete_bytes", 1e6)}, lab.Refuted},
	} {
		s, ok := lab.Lookup(tc.scenario)
		if !ok {
			t.Fatalf("no scenario %s", tc.scenario)
		}
		got, ev := s.Judge(lab.Evidence{GoVersion: "go1.test", Runs: tc.runs})
		if got != tc.want {
			t.Errorf("%s with %d synthetic runs: %s (%s); want %s", tc.scenario, len(tc.runs), got, ev, tc.want)
		}
	}
}

func TestEveryScenarioIsComplete(t *testing.T) {
	ids := map[int]bool{}
	for _, s := range lab.Scenarios() {
		if ids[s.ID] || s.Name == "" || s.Claim == "" || s.Instead == "" || len(s.Variants) == 0 || s.Runs < 1 || s.ShortRuns < 1 || s.Timeout <= 0 || s.Child == nil || s.Judge == nil {
			t.Errorf("scenario %d %q is incomplete or duplicated", s.ID, s.Name)
		}
		ids[s.ID] = true
	}
	for id := 1; id <= 12; id++ {
		if !ids[id] {
			t.Errorf("claim %d has no scenario", id)
		}
	}
}

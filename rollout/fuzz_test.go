package rollout_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mapguard/mapguard/internal/fuzzbound"
	"github.com/mapguard/mapguard/rollout"
)

// readmeConfig is the README's example config.
const readmeConfig = `experiments:
  - key: map-impl
    salt: map-impl-2026-11          # makes this experiment's buckets independent of others'
    arms:
      - {name: syncmap, weight: 5}  # percent of all units; the rest is not enrolled
      - {name: mapguard, weight: 10}
    targeting: {region: [eu-west-1]}
    metrics:                        # optional: how analyze reduces each unit's values
      - {name: p99_ms}              # reduce: mean is the default
      - {name: requests, reduce: sum}
      - {name: errors, reduce: sum}
      - {name: error_rate, numerator: errors, denominator: requests}
`

// FuzzParseConfig: for every input of up to 4 KiB (larger ones are
// skipped), ParseConfig stays within the resource bounds and an error
// names the package. A config it accepts has valid experiments with
// distinct keys, encodes as JSON and as YAML to configs it accepts again
// unchanged, and loads into an Assigner that assigns every experiment.
func FuzzParseConfig(f *testing.F) {
	// The README's example, the tests' configs and the alias bombs of
	// TestParseConfigBillionLaughs; the malformed seeds (truncated, huge
	// weights, deep nesting) are files under testdata/fuzz/FuzzParseConfig.
	f.Add([]byte(readmeConfig))
	f.Add([]byte(sharedConfig))
	f.Add([]byte(`{"experiments":[{"key":"map-impl","salt":"s","arms":[{"name":"control","weight":50},{"name":"variant","weight":50}],"targeting":{"region":["eu"]}}]}`))
	f.Add([]byte(`experiments: [{key: a, salt: s, arms: [{name: c, weight: 60}, {name: v, weight: 50}]}]`))
	f.Add([]byte(`experiments: [{key: a, salt: s, arms: [{name: c, weight: 1.234}]}]`))
	f.Add([]byte(`experiments: [{key: a, salt: s, arms: [{name: c, weight: 1}]}, {key: a, salt: t, arms: [{name: c, weight: 1}]}]`))
	f.Add([]byte(`experiments: [{key: a, salt: s, arms: [{name: c, weight: .nan}, {name: d, weight: 1e308}]}]`))
	f.Add([]byte(configLaughs))
	f.Add([]byte(configMergeLaughs))
	f.Add([]byte(configMergedKeys(900)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzbound.MaxInput {
			t.Skip("over the 4 KiB bound")
		}
		var c *rollout.Config
		var err error
		fuzzbound.Check(t, "ParseConfig", func() { c, err = rollout.ParseConfig(data) })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rollout: ") {
				t.Fatalf("error %q does not start with the package name", err)
			}
			return
		}
		keys := map[string]bool{}
		for i := range c.Experiments {
			if err := c.Experiments[i].Validate(); err != nil {
				t.Fatalf("accepted an invalid experiment: %v", err)
			}
			if keys[c.Experiments[i].Key] {
				t.Fatalf("accepted two experiments keyed %q", c.Experiments[i].Key)
			}
			keys[c.Experiments[i].Key] = true
		}
		for _, enc := range []struct {
			name    string
			marshal func(any) ([]byte, error)
		}{{"JSON", json.Marshal}, {"YAML", yaml.Marshal}} {
			data, err := enc.marshal(c)
			if err != nil {
				t.Fatalf("encoding an accepted config as %s: %v", enc.name, err)
			}
			again, err := rollout.ParseConfig(data)
			if err != nil {
				t.Fatalf("the %s encoding of an accepted config is refused: %v\n%s", enc.name, err, data)
			}
			// Compared as JSON: an empty targeting or metrics list
			// comes back as none.
			if before, after := mustJSON(t, c), mustJSON(t, again); !bytes.Equal(before, after) {
				t.Fatalf("config changed on a round trip through %s:\n%s\nthen\n%s", enc.name, before, after)
			}
		}
		a, err := rollout.NewAssigner(data)
		if err != nil {
			t.Fatalf("NewAssigner refused a config ParseConfig accepts: %v", err)
		}
		for _, e := range c.Experiments {
			got, err := a.Assign(e.Key, "unit-1", nil)
			if err != nil || got.Experiment != e.Key {
				t.Fatalf("Assign(%q) = %+v, %v", e.Key, got, err)
			}
		}
	})
}

// mustJSON returns v as JSON.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// configLaughs is the classic alias bomb beside a valid experiment:
// nine levels of nine aliases each, 9^9 (387 million) strings once
// expanded, in 0.5 KB.
var configLaughs = func() string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, nineOf(fmt.Sprintf("*l%d", i-1)))
	}
	b.WriteString("experiments: [{key: a, salt: s, arms: [{name: c, weight: 1}]}]\n")
	return b.String()
}()

// configMergeLaughs is the bomb built of merge keys, where the decoder
// does follow aliases: every experiment merges nine copies of the one
// before, so that the last stands for 9^8 (43 million) copies of the
// first.
var configMergeLaughs = func() string {
	var b strings.Builder
	b.WriteString("experiments:\n  - &l0 {key: a, salt: s, arms: [{name: c, weight: 1}], targeting: {region: [eu, us, ap]}}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "  - &l%d {<<: [%s]}\n", i, nineOf(fmt.Sprintf("*l%d", i-1)))
	}
	return b.String()
}()

// nineOf returns s nine times, comma-separated.
func nineOf(s string) string {
	return strings.TrimSuffix(strings.Repeat(s+", ", 9), ", ")
}

// configMergedKeys is a config whose experiment merges many copies of
// one mapping of n keys: yaml.v3 compares every pair of a mapping's
// keys each time it decodes it, and does not count that against its
// alias limit, so at 900 keys these 4 KB took 0.1 s to parse.
func configMergedKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%x", i)
	}
	doc := "experiments: [{<<: [&e {" + strings.Join(keys, ",") + "}"
	for len(doc) < fuzzbound.MaxInput-8 {
		doc += ",*e"
	}
	return doc + "]}]\n"
}

// sharedConfig shares arms and targeting among experiments by aliases,
// as a config may.
const sharedConfig = `experiments:
  - {key: a, salt: a, arms: &arms [{name: control, weight: 5}, {name: variant, weight: 5}], targeting: &eu {region: [eu-west-1, eu-central-1]}}
  - {key: b, salt: b, arms: *arms, targeting: *eu}
  - {<<: {key: c, salt: c, arms: *arms}, targeting: *eu}
`

// TestParseConfigBillionLaughs: YAML alias bombs that would expand to
// hundreds of millions of nodes, beside a valid experiment, as its
// targeting values, and as merged experiments, and merges that make the
// decoder compare millions of keys, are refused within the resource
// bounds, with an error that names the config and its aliases. A config
// whose experiments share arms and targeting by aliases still parses.
func TestParseConfigBillionLaughs(t *testing.T) {
	const want = "rollout: config: its aliases (*name) add more than"
	for _, tc := range []struct{ name, yaml string }{
		{"beside the experiments", configLaughs},
		{"as targeting values", strings.Replace(configLaughs, "weight: 1}]", "weight: 1}], targeting: {region: *l9}", 1)},
		{"merged experiments", configMergeLaughs},
		{"merges of 900 keys", configMergedKeys(900)},
		{"merges of 100 keys", configMergedKeys(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.yaml) > fuzzbound.MaxInput {
				t.Fatalf("the bomb is %d bytes; the bounds are for %d", len(tc.yaml), fuzzbound.MaxInput)
			}
			var err error
			fuzzbound.Check(t, "ParseConfig", func() { _, err = rollout.ParseConfig([]byte(tc.yaml)) })
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("ParseConfig(bomb) = %v; want an error starting %q", err, want)
			}
		})
	}
	c, err := rollout.ParseConfig([]byte(sharedConfig))
	if err != nil || len(c.Experiments) != 3 || len(c.Experiments[1].Arms) != 2 || len(c.Experiments[2].Targeting["region"]) != 2 {
		t.Fatalf("ParseConfig(shared arms and targeting) = %+v, %v; want three experiments sharing them", c, err)
	}
}

// eventLines are the events of the scan tests, good and bad.
var eventLines = strings.Join([]string{
	`{"experiment":"map-impl","arm":"control","unit":"a","metrics":{"m":1}}`,
	`not json`,
	``,
	`{"experiment":"map-impl","arm":"variant","unit":""}`,
	`{"experiment":"map-impl","arm":"variant","unit":"b","time":"2026-11-02T10:00:00Z","metrics":{"m":3,"requests":12}}`,
	"  \t",
	`{"experiment":"map-impl","arm":"control","unit":"c","metrics":{"m":1e308,"n":-0}}` + "\r",
}, "\n")

// FuzzScanEvents: for every input of up to 4 KiB (larger ones are
// skipped), ScanEvents, alone and adding into an Aggregator, stays
// within the resource bounds; it reads the input without error, its
// counts add up (every line is an event, malformed, torn or blank; the
// events are the callbacks that returned nil; at most the last line is
// torn) and it keeps at most MaxLineErrors malformed lines, in order.
// The callback refuses every third event, which must count as
// malformed.
func FuzzScanEvents(f *testing.F) {
	// The lines of the scan tests and a few variations; the malformed
	// seeds (truncated, deep nesting, huge numbers) are files under
	// testdata/fuzz/FuzzScanEvents.
	f.Add([]byte(eventLines))
	f.Add([]byte(strings.Repeat("x\n", 3*rollout.MaxLineErrors)))
	f.Add([]byte(`{"experiment":"e","unit":"u","metrics":{` + strings.Repeat(`"m":1,`, 500) + `"m":2}}`))
	f.Add([]byte(`{"experiment":"e","unit":"u","time":"99999-01-01T00:00:00Z"}`))
	f.Add([]byte("\n\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzbound.MaxInput {
			t.Skip("over the 4 KiB bound")
		}
		calls, refused := 0, 0
		var st rollout.ScanStats
		var err error
		fuzzbound.Check(t, "ScanEvents", func() {
			st, err = rollout.ScanEvents(bytes.NewReader(data), func(rollout.Event) error {
				calls++
				if calls%3 == 0 {
					refused++
					return fmt.Errorf("refused")
				}
				return nil
			})
		})
		if err != nil {
			t.Fatalf("ScanEvents of a byte slice: %v", err)
		}
		if lines := bytes.Count(data, []byte("\n")) + 1; st.Lines > lines || st.Lines < lines-1 {
			t.Fatalf("%d lines counted in an input of %d newlines", st.Lines, lines-1)
		}
		if st.Events != calls-refused || st.Events+st.Malformed+st.Torn > st.Lines || st.Malformed < refused || st.Torn > 1 {
			t.Fatalf("stats %+v after %d callbacks, %d refused", st, calls, refused)
		}
		if len(st.First) != min(st.Malformed, rollout.MaxLineErrors) {
			t.Fatalf("%d malformed lines kept of %d", len(st.First), st.Malformed)
		}
		for i, le := range st.First {
			if le.Line < 1 || le.Line > st.Lines || (i > 0 && le.Line <= st.First[i-1].Line) {
				t.Fatalf("malformed lines %+v out of order or range", st.First)
			}
		}
		a := rollout.NewAggregator(experiment(50, 50))
		fuzzbound.Check(t, "AddAll", func() { st, err = a.AddAll(bytes.NewReader(data)) })
		if err != nil {
			t.Fatalf("AddAll of a byte slice: %v", err)
		}
		if _, err := a.Report("control"); err != nil && !strings.HasPrefix(err.Error(), "rollout: ") {
			t.Fatalf("report after AddAll: error %q does not start with the package name", err)
		}
	})
}

// FuzzReadEvents: for every input of up to 4 KiB (larger ones are
// skipped), ReadEvents stays within the resource bounds and an error
// names the package. An input it accepts holds no line ScanEvents finds
// malformed, and the two return the same events.
func FuzzReadEvents(f *testing.F) {
	// As FuzzScanEvents; the malformed seeds are files under
	// testdata/fuzz/FuzzReadEvents.
	f.Add([]byte(eventLines))
	f.Add([]byte(`{"experiment":"map-impl","arm":"control","unit":"a","metrics":{"m":1}}` + "\n" + `{"experiment":"map-impl","arm":"variant","unit":"b"}`))
	f.Add([]byte(`{"experiment":"e","unit":"u","metrics":{"m":1e999}}`))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzbound.MaxInput {
			t.Skip("over the 4 KiB bound")
		}
		var evs []rollout.Event
		var err error
		fuzzbound.Check(t, "ReadEvents", func() { evs, err = rollout.ReadEvents(bytes.NewReader(data)) })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rollout: ") {
				t.Fatalf("error %q does not start with the package name", err)
			}
			return
		}
		var scanned []rollout.Event
		st, err := rollout.ScanEvents(bytes.NewReader(data), func(e rollout.Event) error {
			scanned = append(scanned, e)
			return nil
		})
		if err != nil || st.Malformed != 0 || st.Torn != 0 {
			t.Fatalf("ReadEvents accepts what ScanEvents finds malformed: %+v, %v", st, err)
		}
		if len(evs) != len(scanned) {
			t.Fatalf("ReadEvents read %d events; ScanEvents %d", len(evs), len(scanned))
		}
		for i, e := range evs {
			s := scanned[i]
			if e.Experiment != s.Experiment || e.Arm != s.Arm || e.Unit != s.Unit || !e.Time.Equal(s.Time) || !reflect.DeepEqual(e.Metrics, s.Metrics) {
				t.Fatalf("event %d: ReadEvents read %+v; ScanEvents %+v", i, e, s)
			}
		}
	})
}

package bench_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mapguard/mapguard/bench"
	"github.com/mapguard/mapguard/internal/fuzzbound"
)

// FuzzParseWorkloads: for every input of up to 4 KiB (larger ones are
// skipped), ParseWorkloads stays within the resource bounds; an error
// names the package; the workloads of an input it accepts are valid,
// named apart, and encode to YAML that parses back to the same
// workloads (the encoding is a fixed point).
func FuzzParseWorkloads(f *testing.F) {
	// The README's example and the inputs of the tests above.
	f.Add([]byte(`workloads:
  - name: sessions
    mix: {load: 70, store: 20, delete: 10}   # also loadorstore, compute, range
    keys: 200000
    key_type: string          # or int
    distribution: zipf        # or uniform
    zipf_s: 1.1
    value_type: pointer       # or int (an int64, no payload)
    value_size: 512           # payload bytes per stored value
    goroutines: 64            # 0: GOMAXPROCS
    prefill: 0.8              # fraction of keys stored first
    duration: 2s              # or ops: 1000000
`))
	f.Add([]byte(`
workloads:
  - name: cache
    mix: {load: 98, store: 2}
    distribution: zipf
    zipf_s: 1.3
    keys: 5000
    duration: 2s
  - name: writes
    mix: {store: 60, delete: 40}
    value_size: 512
`))
	f.Add([]byte("name: one\nmix: {compute: 100}\nkey_type: int\n"))
	f.Add([]byte("- name: a\n  mix: {load: 100}\n- name: b\n  mix: {store: 100}\n  keys: 7\n"))
	f.Add([]byte("- name: mine\n  mix: {load: 100}\n  keys: 100\n- name: other\n  mix: {load: 100}\n- name: mine\n  mix: {store: 100}\n"))
	f.Add([]byte("name: x\nmix: {load: 100}\nops: -5\n"))
	f.Add([]byte("- name: a\n  mix: {load: 100}\n  keyz: 1\n"))
	f.Add([]byte("name: x\nmix: {load: 100}\nduration: soon\n"))
	f.Add([]byte("# nothing yet\n"))
	// The alias bombs of TestParseWorkloadsBillionLaughs; the malformed
	// seeds (truncated, huge counts, deep nesting) are files under
	// testdata/fuzz/FuzzParseWorkloads.
	f.Add([]byte(billionLaughs))
	f.Add([]byte(mergeLaughs))
	f.Add([]byte(mergedKeys(900)))
	f.Add([]byte(sharedMix))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzbound.MaxInput {
			t.Skip("over the 4 KiB bound")
		}
		def := bench.Workload{Name: "default", KeyType: "string", Distribution: "uniform", ZipfS: 1.1, Keys: 1024, Duration: time.Second}
		var ws []bench.Workload
		var err error
		fuzzbound.Check(t, "ParseWorkloads", func() { ws, err = bench.ParseWorkloads(data, def) })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bench: ") {
				t.Fatalf("error %q does not start with the package name", err)
			}
			return
		}
		names := map[string]bool{}
		for i := range ws {
			if err := ws[i].Validate(); err != nil {
				t.Fatalf("accepted an invalid workload: %v", err)
			}
			if names[ws[i].Name] {
				t.Fatalf("accepted two workloads named %q", ws[i].Name)
			}
			names[ws[i].Name] = true
		}
		enc, err := yaml.Marshal(ws)
		if err != nil {
			t.Fatalf("encoding accepted workloads: %v", err)
		}
		again, err := bench.ParseWorkloads(enc, def)
		if err != nil {
			t.Fatalf("the encoding of accepted workloads is refused: %v\n%s", err, enc)
		}
		if enc2, _ := yaml.Marshal(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("workloads changed on a round trip:\n%s\nthen\n%s", enc, enc2)
		}
	})
}

// billionLaughs is the classic alias bomb: nine levels of nine aliases
// each, 9^9 (387 million) strings once expanded, in 0.4 KB.
var billionLaughs = laughs(func(level int, prev string) string {
	return fmt.Sprintf("[%s]", strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ","))
})

// mergeLaughs is the same bomb built of merge keys inside a workload's
// mix, the one field whose type lets the decoder follow aliases all the
// way down: every level merges nine copies of the level below into a
// mapping that is, once merged, the valid mix {load: 100}.
var mergeLaughs = "name: laughs\nmix:\n  <<: [&l0 {load: 100}" + laughLevels(func(level int, prev string) string {
	return fmt.Sprintf("{<<: [%s]}", strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ","))
}) + "]\n"

// laughs returns a document of keys l0 to l9, each level anchored and
// made of the level below by next.
func laughs(next func(level int, prev string) string) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d %s\n", i, i, next(i, fmt.Sprintf("l%d", i-1)))
	}
	return b.String()
}

// laughLevels returns ", &l1 X1, &l2 X2, ..., &l9 X9", each level made
// of the level below by next.
func laughLevels(next func(level int, prev string) string) string {
	var b strings.Builder
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, ", &l%d %s", i, next(i, fmt.Sprintf("l%d", i-1)))
	}
	return b.String()
}

// mergedKeys is a workload whose mix merges many copies of one mapping
// of n keys: yaml.v3 compares every pair of a mapping's keys each time
// it decodes it, and does not count that against its alias limit, so at
// 900 keys these 4 KB took 0.4 s to parse (4 s under the race detector).
func mergedKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%x", i)
	}
	doc := "name: x\nmix:\n  <<: [&m {" + strings.Join(keys, ",") + "}"
	for len(doc) < fuzzbound.MaxInput-6 {
		doc += ",*m"
	}
	return doc + "]\n"
}

// sharedMix shares a mix among workloads by an alias, as a file may, and
// merges it into another.
const sharedMix = "- {name: a, mix: &m {load: 90, store: 10}}\n- {name: b, mix: *m}\n- {name: c, mix: {<<: *m, load: 80, delete: 10}}\n"

// TestParseWorkloadsBillionLaughs: YAML alias bombs that would expand to
// hundreds of millions of nodes, at the top level, as a workload's mix,
// and in a list of workloads, and merges that make the decoder compare
// millions of keys, are refused within the resource bounds, with an
// error that names the workload file and its aliases. A file that
// shares a mix among workloads by an alias still parses.
func TestParseWorkloadsBillionLaughs(t *testing.T) {
	def := bench.Workload{Name: "default", KeyType: "string", Distribution: "uniform", Keys: 1024, Duration: time.Second}
	const want = "bench: workload file: its aliases (*name) add more than"
	for _, tc := range []struct{ name, yaml string }{
		{"top-level", billionLaughs},
		{"merged mix", mergeLaughs},
		{"merged mix in a list", "- " + strings.ReplaceAll(mergeLaughs, "\n", "\n  ")},
		{"as a mix", billionLaughs + "name: x\nmix: *l9\n"},
		{"merges of 900 keys", mergedKeys(900)},
		{"merges of 100 keys", mergedKeys(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.yaml) > fuzzbound.MaxInput {
				t.Fatalf("the bomb is %d bytes; the bounds are for %d", len(tc.yaml), fuzzbound.MaxInput)
			}
			var err error
			fuzzbound.Check(t, "ParseWorkloads", func() { _, err = bench.ParseWorkloads([]byte(tc.yaml), def) })
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("ParseWorkloads(bomb) = %v; want an error starting %q", err, want)
			}
		})
	}
	_, err := bench.ParseWorkloads([]byte(strings.Replace(sharedMix, "delete: 10", "keys: 1", 1)), def)
	if err == nil || !strings.Contains(err.Error(), "mix") {
		t.Fatalf("ParseWorkloads(shared mix, merged with an unknown op) = %v; want an error naming the mix", err)
	}
	if ws, err := bench.ParseWorkloads([]byte(sharedMix), def); err != nil || len(ws) != 3 || ws[1].Mix["store"] != 10 || ws[2].Mix["load"] != 80 || ws[2].Mix["delete"] != 10 {
		t.Fatalf("ParseWorkloads(shared mix) = %+v, %v; want three workloads, the third's mix merged", ws, err)
	}
}

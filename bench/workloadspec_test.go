package bench_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mapguard/mapguard/bench"
)

func validWorkload() bench.Workload {
	return bench.Workload{Name: "w", Mix: map[string]int{"load": 90, "store": 10}, Keys: 1024,
		KeyType: "string", Distribution: "uniform", Duration: time.Second}
}

// TestValidateNamesTheField checks that each invalid field is reported by
// name with the values it allows.
func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(w *bench.Workload)
	}{
		{"mix", func(w *bench.Workload) { w.Mix = map[string]int{"load": 90, "get": 10} }},
		{"mix", func(w *bench.Workload) { w.Mix = map[string]int{"load": 90} }},
		{"mix.load", func(w *bench.Workload) { w.Mix = map[string]int{"load": 110, "store": -10} }},
		{"keys", func(w *bench.Workload) { w.Keys = 0 }},
		{"key_type", func(w *bench.Workload) { w.KeyType = "uuid" }},
		{"distribution", func(w *bench.Workload) { w.Distribution = "normal" }},
		{"zipf_s", func(w *bench.Workload) { w.Distribution, w.ZipfS = "zipf", 0.5 }},
		{"value_size", func(w *bench.Workload) { w.ValueSize = -1 }},
		{"value_type", func(w *bench.Workload) { w.ValueType = "string" }},
		{"value_size", func(w *bench.Workload) { w.ValueType, w.ValueSize = "int", 64 }},
		{"goroutines", func(w *bench.Workload) { w.Goroutines = -2 }},
		{"duration", func(w *bench.Workload) { w.Duration = 0 }},
		{"prefill", func(w *bench.Workload) { w.Prefill = 1.5 }},
		{"bulk_size", func(w *bench.Workload) { w.BulkEvery = time.Second }},
		{"ops", func(w *bench.Workload) { w.Ops, w.Duration = -5, 0 }},
		{"ops", func(w *bench.Workload) { w.Ops = -5 }},
		{"name", func(w *bench.Workload) { w.Name = "" }},
	} {
		w := validWorkload()
		tc.edit(&w)
		err := w.Validate()
		var fe *bench.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || fe.Allowed == "" {
			t.Errorf("%s: Validate() = %v; want a FieldError for %s", tc.field, err, tc.field)
		}
	}
	w := validWorkload()
	if err := w.Validate(); err != nil {
		t.Fatalf("valid workload: %v", err)
	}
	for _, p := range bench.Presets(time.Second) {
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s: %v", p.Name, err)
		}
	}
}

func TestParseWorkloads(t *testing.T) {
	def := validWorkload()
	ws, err := bench.ParseWorkloads([]byte(`
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
`), def)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Keys != 5000 || ws[0].Duration != 2*time.Second || ws[0].ZipfS != 1.3 ||
		ws[1].Keys != def.Keys || ws[1].Duration != def.Duration || ws[1].ValueSize != 512 || ws[1].KeyType != "string" {
		t.Fatalf("parsed %+v", ws)
	}
	one, err := bench.ParseWorkloads([]byte("name: one\nmix: {compute: 100}\nkey_type: int\n"), def)
	if err != nil || len(one) != 1 || one[0].KeyType != "int" || one[0].Mix["compute"] != 100 {
		t.Fatalf("single workload: %+v, %v", one, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nmix: {load: 100}\nkeyz: 3\n", "keyz"},
		{"name: x\nmix: {load: 50}\n", "mix"},
		{"name: x\nmix: {load: 100}\ndistribution: pareto\n", "distribution"},
		{"name: x\nmix: {load: 100}\nduration: soon\n", "duration"},
		{"name: [\n", "workload file"},
	} {
		if _, err := bench.ParseWorkloads([]byte(tc.yaml), def); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWorkloads(%q) = %v; want an error naming %s", tc.yaml, err, tc.want)
		}
	}
}

// TestParseWorkloadsTopLevelList: the README says a file holds "one
// workload or a list"; a bare YAML list is a list.
func TestParseWorkloadsTopLevelList(t *testing.T) {
	def := validWorkload()
	ws, err := bench.ParseWorkloads([]byte("- name: a\n  mix: {load: 100}\n- name: b\n  mix: {store: 100}\n  keys: 7\n"), def)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Name != "a" || ws[0].Keys != def.Keys || ws[1].Name != "b" || ws[1].Keys != 7 || ws[1].Duration != def.Duration {
		t.Fatalf("parsed %+v", ws)
	}
	if _, err := bench.ParseWorkloads([]byte("- name: a\n  mix: {load: 100}\n  keyz: 1\n"), def); err == nil || !strings.Contains(err.Error(), "keyz") {
		t.Fatalf("unknown field in a listed workload: %v; want an error naming keyz", err)
	}
	if _, err := bench.ParseWorkloads([]byte("just a string\n"), def); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a scalar document: %v; want an error naming its line", err)
	}
}

// TestParseWorkloadsEmptyFile: an empty file (or only comments) says so,
// instead of "workload file: EOF".
func TestParseWorkloadsEmptyFile(t *testing.T) {
	for _, data := range []string{"", "# nothing yet\n", "---\n", "\n\n"} {
		_, err := bench.ParseWorkloads([]byte(data), validWorkload())
		if !errors.Is(err, bench.ErrEmptyWorkloadFile) || !strings.Contains(err.Error(), "empty") || strings.Contains(err.Error(), "EOF") {
			t.Errorf("ParseWorkloads(%q) = %v; want ErrEmptyWorkloadFile", data, err)
		}
	}
}

// TestParseWorkloadsNegativeOps: ops: -5 is an ops error, not a duration
// error (the file default leaves no duration when ops is set).
func TestParseWorkloadsNegativeOps(t *testing.T) {
	_, err := bench.ParseWorkloads([]byte("name: x\nmix: {load: 100}\nops: -5\n"), validWorkload())
	var fe *bench.FieldError
	if !errors.As(err, &fe) || fe.Field != "ops" {
		t.Fatalf("ops: -5: %v; want a FieldError for ops", err)
	}
}

// TestParseWorkloadsDuplicateNames: two workloads named alike were merged
// into one set of results; now the file is refused, naming both entries.
func TestParseWorkloadsDuplicateNames(t *testing.T) {
	for _, data := range []string{
		"workloads:\n  - name: mine\n    mix: {load: 100}\n    keys: 100\n  - name: other\n    mix: {load: 100}\n  - name: mine\n    mix: {store: 100}\n",
		"- name: mine\n  mix: {load: 100}\n  keys: 100\n- name: other\n  mix: {load: 100}\n- name: mine\n  mix: {store: 100}\n",
	} {
		_, err := bench.ParseWorkloads([]byte(data), validWorkload())
		var de *bench.DuplicateNameError
		if !errors.As(err, &de) {
			t.Fatalf("duplicate names: %v; want a DuplicateNameError", err)
		}
		if de.Name != "mine" || de.First != 1 || de.Second != 3 || de.FirstLine >= de.SecondLine || de.FirstLine < 1 {
			t.Errorf("duplicate names: %+v; want workloads 1 and 3 named mine, with their lines", de)
		}
		for _, want := range []string{`"mine"`, "workloads 1 (line", "and 3 (line"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	}
}

func TestParseMix(t *testing.T) {
	mix, err := bench.ParseMix("load=90, store=8,delete=2")
	if err != nil || mix["load"] != 90 || mix["store"] != 8 || mix["delete"] != 2 {
		t.Fatalf("ParseMix = %v, %v", mix, err)
	}
	if _, err := bench.ParseMix("load:90"); err == nil {
		t.Fatal("ParseMix accepted load:90")
	}
}

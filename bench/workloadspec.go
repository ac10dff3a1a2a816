package bench

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Op is one kind of map operation a workload mixes.
type Op int

// The operations a workload can mix. OpRange is one full Range pass.
const (
	OpLoad Op = iota
	OpStore
	OpDelete
	OpLoadOrStore
	OpCompute
	OpRange
	numOps
)

var opNames = [numOps]string{"load", "store", "delete", "loadorstore", "compute", "range"}

// String returns the operation's name as workloads spell it.
func (o Op) String() string { return opNames[o] }

// OpNames returns the names of every operation, in Op order.
func OpNames() []string { return slices.Clone(opNames[:]) }

// Workload describes one benchmark run: what each goroutine does and on
// which keys. The YAML and JSON field names are the ones below.
type Workload struct {
	// Name names the workload in reports.
	Name string `yaml:"name" json:"name"`
	// Mix is the percentage of each operation ("load", "store", "delete",
	// "loadorstore", "compute", "range"); the percentages sum to 100.
	Mix map[string]int `yaml:"mix" json:"mix"`
	// Keys is the number of distinct keys (at least 1).
	Keys int `yaml:"keys" json:"keys"`
	// KeyType is "string" (16-byte IDs) or "int".
	KeyType string `yaml:"key_type" json:"key_type"`
	// Distribution is how keys are drawn: "uniform" or "zipf".
	Distribution string `yaml:"distribution" json:"distribution"`
	// ZipfS is the zipf skew (s > 1; larger is more skewed).
	ZipfS float64 `yaml:"zipf_s,omitempty" json:"zipf_s,omitempty"`
	// ValueType is what the map stores: "pointer" (the default when
	// empty), a pointer to a Value carrying ValueSize bytes of payload, as
	// a cache's or a session table's values are; or "int", an int64 and
	// nothing else, as a counter table's are (no pointers: mapguard.Map
	// stores such entries inline, and a write allocates nothing).
	ValueType string `yaml:"value_type,omitempty" json:"value_type,omitempty"`
	// ValueSize is the bytes of payload each stored value carries (with
	// value type "pointer").
	ValueSize int `yaml:"value_size" json:"value_size"`
	// Goroutines is the number of goroutines running the mix; 0 means
	// GOMAXPROCS.
	Goroutines int `yaml:"goroutines" json:"goroutines"`
	// Rangers is the number of extra goroutines doing full Range passes
	// back to back while the mix runs.
	Rangers int `yaml:"rangers,omitempty" json:"rangers,omitempty"`
	// BulkEvery, if set, adds one goroutine that stores BulkSize keys
	// every BulkEvery: the rare bulk updates of a config table.
	BulkEvery time.Duration `yaml:"bulk_every,omitempty" json:"bulk_every,omitempty"`
	BulkSize  int           `yaml:"bulk_size,omitempty" json:"bulk_size,omitempty"`
	// Duration bounds the run; Ops, if set, bounds the operations of the
	// mix instead (whichever ends first, when both are set).
	Duration time.Duration `yaml:"duration" json:"duration"`
	Ops      int64         `yaml:"ops,omitempty" json:"ops,omitempty"`
	// Prefill is the fraction of the keys stored before the run, 0 to 1.
	Prefill float64 `yaml:"prefill" json:"prefill"`
}

// FieldError is a workload field with an invalid value.
type FieldError struct {
	Workload string // the workload's name
	Field    string // the field, as YAML names it
	Value    any
	Allowed  string // what the field accepts
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("bench: workload %q: %s: invalid value %v; allowed: %s", e.Workload, e.Field, e.Value, e.Allowed)
}

// Validate reports the first invalid field, as a *FieldError.
func (w *Workload) Validate() error {
	bad := func(field string, value any, allowed string) error {
		return &FieldError{Workload: w.Name, Field: field, Value: value, Allowed: allowed}
	}
	if w.Name == "" {
		return bad("name", `""`, "a non-empty name")
	}
	if len(w.Mix) == 0 {
		return bad("mix", "{}", "percentages of "+strings.Join(opNames[:], ", ")+" summing to 100")
	}
	sum := 0
	for _, op := range slices.Sorted(maps.Keys(w.Mix)) {
		if !slices.Contains(opNames[:], op) {
			return bad("mix", strconv.Quote(op), "operations "+strings.Join(opNames[:], ", "))
		}
		if p := w.Mix[op]; p < 0 || p > 100 {
			return bad("mix."+op, p, "a percentage from 0 to 100")
		}
		sum += w.Mix[op]
	}
	if sum != 100 {
		return bad("mix", fmt.Sprintf("percentages summing to %d", sum), "percentages summing to 100")
	}
	switch {
	case w.Keys < 1 || w.Keys > 1<<26:
		return bad("keys", w.Keys, "1 to 67108864")
	case w.KeyType != "string" && w.KeyType != "int":
		return bad("key_type", strconv.Quote(w.KeyType), "string, int")
	case w.Distribution != "uniform" && w.Distribution != "zipf":
		return bad("distribution", strconv.Quote(w.Distribution), "uniform, zipf")
	case w.Distribution == "zipf" && !(w.ZipfS > 1):
		return bad("zipf_s", w.ZipfS, "a number greater than 1 (with distribution zipf)")
	case w.ValueType != "" && w.ValueType != "pointer" && w.ValueType != "int":
		return bad("value_type", strconv.Quote(w.ValueType), "pointer, int")
	case w.ValueSize < 0 || w.ValueSize > 1<<20:
		return bad("value_size", w.ValueSize, "0 to 1048576 bytes")
	case w.ValueType == "int" && w.ValueSize != 0:
		return bad("value_size", w.ValueSize, "0 with value_type int (an int64 carries no payload)")
	case w.Goroutines < 0 || w.Goroutines > 4096:
		return bad("goroutines", w.Goroutines, "0 (GOMAXPROCS) to 4096")
	case w.Rangers < 0 || w.Rangers > 64:
		return bad("rangers", w.Rangers, "0 to 64")
	case w.BulkEvery < 0:
		return bad("bulk_every", w.BulkEvery, "a positive duration, or 0 for none")
	case w.BulkEvery > 0 && (w.BulkSize < 1 || w.BulkSize > w.Keys):
		return bad("bulk_size", w.BulkSize, fmt.Sprintf("1 to keys (%d) when bulk_every is set", w.Keys))
	case w.Ops < 0:
		return bad("ops", w.Ops, "a positive count, or 0 for none")
	case w.Duration <= 0 && w.Ops == 0:
		return bad("duration", w.Duration, "a positive duration (or set ops)")
	case w.Duration < 0:
		return bad("duration", w.Duration, "a positive duration")
	case !(w.Prefill >= 0 && w.Prefill <= 1):
		return bad("prefill", w.Prefill, "a fraction from 0 to 1")
	}
	return nil
}

// Presets returns the built-in workloads, named for the situations they
// model. Each runs for d.
func Presets(d time.Duration) []Workload {
	return []Workload{
		{Name: "read-mostly-cache", Mix: map[string]int{"load": 95, "store": 4, "delete": 1},
			Keys: 1 << 16, KeyType: "string", Distribution: "zipf", ZipfS: 1.1, ValueSize: 64, Prefill: 1, Duration: d},
		{Name: "session-table", Mix: map[string]int{"load": 50, "store": 30, "delete": 20},
			Keys: 1 << 16, KeyType: "string", Distribution: "uniform", ValueSize: 128, Prefill: 0.5, Duration: d},
		{Name: "hot-keys", Mix: map[string]int{"loadorstore": 100},
			Keys: 10, KeyType: "string", Distribution: "uniform", Duration: d},
		{Name: "iterate-while-writing", Mix: map[string]int{"store": 70, "delete": 30},
			Keys: 1 << 16, KeyType: "string", Distribution: "uniform", Prefill: 1, Rangers: 1, Duration: d},
		{Name: "config-table", Mix: map[string]int{"load": 100},
			Keys: 1 << 12, KeyType: "string", Distribution: "zipf", ZipfS: 1.2, ValueSize: 256, Prefill: 1,
			BulkEvery: 100 * time.Millisecond, BulkSize: 256, Duration: d},
		{Name: "counter", Mix: map[string]int{"compute": 90, "load": 10},
			Keys: 1 << 10, KeyType: "int", Distribution: "zipf", ZipfS: 1.1, Duration: d},
		{Name: "counter-table", Mix: map[string]int{"load": 70, "compute": 20, "store": 5, "delete": 5},
			Keys: 1 << 18, KeyType: "int", ValueType: "int", Distribution: "uniform", Prefill: 1, Duration: d},
	}
}

// PresetNames returns the names of the presets, in order.
func PresetNames() []string {
	var names []string
	for _, w := range Presets(time.Second) {
		names = append(names, w.Name)
	}
	return names
}

// workloadFile is the YAML form {workloads: [...]}.
type workloadFile struct {
	Workloads []Workload `yaml:"workloads"`
}

// ErrEmptyWorkloadFile is returned by ParseWorkloads for a file that holds
// no YAML document (nothing, or only comments).
var ErrEmptyWorkloadFile = errors.New("bench: workload file is empty: give one workload, a list of workloads, or {workloads: [...]}")

// ParseWorkloads decodes YAML holding one workload, a list of workloads,
// or a document {workloads: [...]}, filling unset fields from defaults (a
// workload's duration, for instance). Unknown fields are errors, every
// workload is validated, and two workloads with the same name are an
// error naming both (results are reported by name). An empty document is
// ErrEmptyWorkloadFile.
func ParseWorkloads(data []byte, defaults Workload) ([]Workload, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("bench: workload file: %w", err)
	}
	if len(root.Content) == 0 || root.Content[0].Tag == "!!null" {
		return nil, ErrEmptyWorkloadFile
	}
	if err := checkDecodable(&root); err != nil {
		return nil, err
	}
	dec := func(v any) error {
		d := yaml.NewDecoder(bytes.NewReader(data))
		d.KnownFields(true)
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("bench: workload file: %s", nameFields(data, err))
		}
		return nil
	}
	// list decodes a sequence of workloads, each started from the
	// defaults; raw is the same sequence as plain mappings, which say
	// which fields each workload sets.
	var (
		ws    []Workload
		items []*yaml.Node // the YAML node of each workload, for its line
	)
	list := func(decoded []Workload, raw []map[string]any, node *yaml.Node) {
		for i := range decoded {
			ws = append(ws, withDefaults(decoded[i], raw[i], defaults))
			items = append(items, node.Content[i])
		}
	}
	doc := root.Content[0]
	switch {
	case doc.Kind == yaml.SequenceNode:
		var decoded []Workload
		var raw []map[string]any
		if err := dec(&decoded); err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("bench: workload file: %w", err)
		}
		list(decoded, raw, doc)
	case doc.Kind == yaml.MappingNode && mappingValue(doc, "workloads") != nil:
		var f workloadFile
		if err := dec(&f); err != nil {
			return nil, err
		}
		var raw struct {
			Workloads []map[string]any `yaml:"workloads"`
		}
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("bench: workload file: %w", err)
		}
		list(f.Workloads, raw.Workloads, mappingValue(doc, "workloads"))
	case doc.Kind == yaml.MappingNode:
		var w Workload
		if err := dec(&w); err != nil {
			return nil, err
		}
		var raw map[string]any
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("bench: workload file: %w", err)
		}
		ws, items = append(ws, withDefaults(w, raw, defaults)), append(items, doc)
	default:
		return nil, fmt.Errorf("bench: workload file: line %d: want a workload (a mapping), a list of workloads or {workloads: [...]}, got %s", doc.Line, doc.Tag)
	}
	if len(ws) == 0 {
		return nil, errors.New("bench: workload file: no workloads")
	}
	first := map[string]int{} // name -> index of the first workload so named
	for i := range ws {
		if j, ok := first[ws[i].Name]; ok && ws[i].Name != "" {
			return nil, &DuplicateNameError{Name: ws[i].Name, First: j + 1, FirstLine: items[j].Line, Second: i + 1, SecondLine: items[i].Line}
		}
		first[ws[i].Name] = i
	}
	for i := range ws {
		if err := ws[i].Validate(); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// DuplicateNameError is two workloads of one file with the same name:
// results are keyed by workload name, so they would be merged.
type DuplicateNameError struct {
	Name string
	// First and Second are the workloads' positions in the file, from 1;
	// FirstLine and SecondLine the lines where they start.
	First, Second         int
	FirstLine, SecondLine int
}

func (e *DuplicateNameError) Error() string {
	return fmt.Sprintf("bench: workload file: workloads %d (line %d) and %d (line %d) are both named %q; results are reported by name, so give each its own",
		e.First, e.FirstLine, e.Second, e.SecondLine, e.Name)
}

// checkDecodable refuses a document that would cost yaml.v3 far more
// to decode than its size: one with a mapping that repeats a key
// (yaml.v3 makes an error of every pair of equal keys: 4 KB of one key
// repeated allocated 100 MB), or whose aliases add more than
// maxAliasWork (see decodeWork).
//
// The same check, with repeatedKey and decodeWork, guards
// rollout/config.go (rollout.ParseConfig): the two modules share no package
// that may import yaml (the maps' module imports only the standard
// library), and a module of its own would have to be released before
// both; so it is written twice, and a change to one is made to both.
func checkDecodable(root *yaml.Node) error {
	if dup, first := repeatedKey(root); dup != nil {
		return fmt.Errorf("bench: workload file: line %d: mapping key %q already defined at line %d", dup.Line, dup.Value, first.Line)
	}
	plain := decodeWork(root, false, 1<<50, map[*yaml.Node]int64{})
	if decodeWork(root, true, plain+maxAliasWork, map[*yaml.Node]int64{}) > plain+maxAliasWork {
		return fmt.Errorf("bench: workload file: its aliases (*name) add more than %d nodes and key comparisons to decode; a workload file needs far fewer", maxAliasWork)
	}
	return nil
}

// repeatedKey returns the first key of a mapping under n (aliases not
// followed) equal to an earlier key of the same mapping, as yaml.v3
// compares them (kind and value), and that earlier key; or nil, nil.
func repeatedKey(n *yaml.Node) (dup, first *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		type key struct {
			kind  yaml.Kind
			value string
		}
		seen := make(map[key]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if f, ok := seen[key{k.Kind, k.Value}]; ok {
				return k, f
			}
			seen[key{k.Kind, k.Value}] = k
		}
	}
	for _, c := range n.Content {
		if dup, first := repeatedKey(c); dup != nil {
			return dup, first
		}
	}
	return nil, nil
}

// maxAliasWork bounds the decoding work that a workload file's YAML
// aliases add (see decodeWork): each alias is decoded again where it
// stands, so a few hundred bytes of nested aliases stand for gigabytes
// (the "billion laughs"), and aliases of a mapping of n keys cost n²/2
// key comparisons each time, which yaml.v3's own alias limit does not
// count: 4 KB of them took 0.4 s (4 s under the race detector). 2^18
// units decode in a few milliseconds; a real file's aliases (a shared
// mix, say) add hundreds.
const maxAliasWork = 1 << 18

// decodeWork returns the work of decoding n with go.yaml.in/yaml/v3: the
// nodes it visits, and the key pairs it compares (it compares every
// pair of keys of each mapping it decodes, to find duplicates). With
// expand, an alias counts as the node it stands for, as the decoder
// visits it; without, as one node. Counting stops a little past limit;
// memo holds the work of the nodes counted so far.
func decodeWork(n *yaml.Node, expand bool, limit int64, memo map[*yaml.Node]int64) int64 {
	if w, ok := memo[n]; ok {
		return w
	}
	memo[n] = 0 // an alias inside its own anchor, which the decoder refuses
	w := int64(1)
	if n.Kind == yaml.MappingNode {
		k := int64(len(n.Content) / 2)
		w += min(k*(k-1)/2, limit)
	}
	if n.Kind == yaml.AliasNode && expand && n.Alias != nil {
		w += decodeWork(n.Alias, expand, limit, memo)
	}
	for _, c := range n.Content {
		if w > limit {
			break
		}
		w += decodeWork(c, expand, limit, memo)
	}
	w = min(w, limit+1)
	memo[n] = w
	return w
}

// mappingValue returns the value of key in the mapping node n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// nameFields rewrites a YAML decoding error's "line N:" prefixes to name
// the field on that line, since yaml.v3's type errors name only the line.
func nameFields(data []byte, err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err.Error()
	}
	fieldAt := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				name := n.Content[i].Value
				if path != "" && path != "workloads" {
					name = path + "." + name
				}
				fieldAt[n.Content[i+1].Line] = name
				walk(n.Content[i+1], name)
			}
		}
	}
	walk(&root, "")
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = m
		var line int
		if _, scanErr := fmt.Sscanf(m, "line %d:", &line); scanErr == nil {
			if f, ok := fieldAt[line]; ok {
				msgs[i] = "field " + f + " (" + m + ")"
			}
		}
	}
	return strings.Join(msgs, "; ")
}

// withDefaults fills the fields of w that set (the decoded YAML mapping)
// does not mention with those of def.
func withDefaults(w Workload, set map[string]any, def Workload) Workload {
	has := func(k string) bool { _, ok := set[k]; return ok }
	if !has("key_type") {
		w.KeyType = def.KeyType
	}
	if !has("distribution") {
		w.Distribution = def.Distribution
	}
	if !has("keys") {
		w.Keys = def.Keys
	}
	if !has("duration") && !has("ops") {
		w.Duration = def.Duration
	}
	if !has("zipf_s") && w.Distribution == "zipf" {
		w.ZipfS = def.ZipfS
	}
	if !has("prefill") {
		w.Prefill = def.Prefill
	}
	if !has("value_type") {
		w.ValueType = def.ValueType
	}
	return w
}

// ParseMix parses "load=90,store=8,delete=2" into a mix.
func ParseMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		name, pct, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(pct)
		if !ok || err != nil {
			return nil, fmt.Errorf("bench: mix %q: want op=percent pairs like load=90,store=10 (ops: %s)", s, strings.Join(opNames[:], ", "))
		}
		mix[name] += n
	}
	return mix, nil
}

package rollout

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/mapguard/mapguard"
)

// Config is a set of experiments, as a YAML or JSON document:
//
//	experiments:
//	  - key: map-impl
//	    salt: map-impl-2026-11
//	    arms:
//	      - {name: control, weight: 5}
//	      - {name: mapguard, weight: 10}
//	    targeting: {region: [eu-west-1]}
//	    metrics:
//	      - {name: latency_ms}                 # each unit's mean (the default)
//	      - {name: requests, reduce: sum}      # each unit's sum
//	      - {name: errors, reduce: sum}
//	      - {name: error_rate, numerator: errors, denominator: requests}
type Config struct {
	Experiments []Experiment `yaml:"experiments" json:"experiments"`
}

// ParseConfig decodes and validates a YAML or JSON config (JSON is YAML).
// Unknown fields, duplicate experiment keys and every invalid experiment
// field are errors that name the field.
func ParseConfig(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("rollout: config: %w", err)
	}
	if err := checkDecodable(&root); err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("rollout: config: %w", err)
	}
	if len(c.Experiments) == 0 {
		return nil, errors.New("rollout: config: experiments: no experiment defined")
	}
	keys := map[string]bool{}
	for i := range c.Experiments {
		e := &c.Experiments[i]
		if err := e.Validate(); err != nil {
			return nil, err
		}
		if keys[e.Key] {
			return nil, &FieldError{Experiment: e.Key, Field: fmt.Sprintf("experiments[%d].key", i), Msg: "duplicate experiment key"}
		}
		keys[e.Key] = true
	}
	return &c, nil
}

// checkDecodable refuses a document that would cost yaml.v3 far more
// to decode than its size: one with a mapping that repeats a key
// (yaml.v3 makes an error of every pair of equal keys: 4 KB of one key
// repeated allocated 100 MB), or whose aliases add more than
// maxAliasWork (see decodeWork).
//
// The same check, with repeatedKey and decodeWork, guards
// bench/workloadspec.go (bench.ParseWorkloads): the two modules share no package
// that may import yaml (the maps' module imports only the standard
// library), and a module of its own would have to be released before
// both; so it is written twice, and a change to one is made to both.
func checkDecodable(root *yaml.Node) error {
	if dup, first := repeatedKey(root); dup != nil {
		return fmt.Errorf("rollout: config: line %d: mapping key %q already defined at line %d", dup.Line, dup.Value, first.Line)
	}
	plain := decodeWork(root, false, 1<<50, map[*yaml.Node]int64{})
	if decodeWork(root, true, plain+maxAliasWork, map[*yaml.Node]int64{}) > plain+maxAliasWork {
		return fmt.Errorf("rollout: config: its aliases (*name) add more than %d nodes and key comparisons to decode; a config needs far fewer", maxAliasWork)
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

// maxAliasWork bounds the decoding work that a config's YAML aliases add
// (see decodeWork): each alias is decoded again where it stands, so a few
// hundred bytes of nested aliases stand for gigabytes (the "billion
// laughs"), and aliases of a mapping of n keys cost n²/2 key comparisons
// each time, which yaml.v3's own alias limit does not count: 4 KB of
// them took 0.1 s (1 s under the race detector). 2^18 units decode in a
// few milliseconds; a real config's aliases (arms or targeting shared by
// experiments) add hundreds.
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

// Assigner assigns units to the experiments of the current config. Reload
// replaces the config atomically; a config that does not parse or
// validate is rejected and the last good one stays in force. Assign is
// safe for concurrent use and takes no lock: the experiments live in a
// mapguard.ReadMostly.
type Assigner struct {
	experiments mapguard.ReadMostly[string, *Experiment]
}

// NewAssigner returns an Assigner with the config in data.
func NewAssigner(data []byte) (*Assigner, error) {
	a := &Assigner{}
	if err := a.Reload(data); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload replaces the config with the one in data, or returns why it
// cannot, keeping the current one.
func (a *Assigner) Reload(data []byte) error {
	c, err := ParseConfig(data)
	if err != nil {
		return err
	}
	return a.experiments.Update(func(tx *mapguard.Tx[string, *Experiment]) error {
		for k := range tx.All() {
			tx.Delete(k)
		}
		for i := range c.Experiments {
			e := c.Experiments[i]
			tx.Store(e.Key, &e)
		}
		return nil
	})
}

// ErrUnknownExperiment is returned for an experiment key not in the
// config.
var ErrUnknownExperiment = errors.New("rollout: unknown experiment")

// Assign assigns unit, with attributes attrs, in experiment key.
func (a *Assigner) Assign(key, unit string, attrs map[string]string) (Assignment, error) {
	e, ok := a.experiments.Load(key)
	if !ok {
		return Assignment{}, fmt.Errorf("%w %q", ErrUnknownExperiment, key)
	}
	return e.Assign(unit, attrs), nil
}

// Experiment returns the current definition of experiment key.
func (a *Assigner) Experiment(key string) (Experiment, bool) {
	e, ok := a.experiments.Load(key)
	if !ok {
		return Experiment{}, false
	}
	return *e, true
}

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

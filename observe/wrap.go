package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/pprof"

	"github.com/mapguard/mapguard"
)

// The methods that Map and SnapshotMap (and, for iteration and JSON,
// ReadMostly and View) wrap alike, written once over the wrapped map's
// method values.

// computeFn is a map's Compute method.
type computeFn[K comparable, V any] func(key K, fn func(old V, loaded bool) (V, mapguard.ComputeOp)) (V, bool)

// observeCompute runs compute(key, fn) under in's compute labels and
// counts it by what fn decided: stored, deleted, or a miss (cancelled,
// or deleting an absent key).
func observeCompute[K comparable, V any](in *instrument, compute computeFn[K, V], key K, fn func(old V, loaded bool) (V, mapguard.ComputeOp)) (actual V, ok bool) {
	var decided mapguard.ComputeOp
	pprof.Do(context.Background(), in.computeLbls, func(context.Context) {
		actual, ok = compute(key, func(old V, loaded bool) (V, mapguard.ComputeOp) {
			v, op := fn(old, loaded)
			if op == mapguard.DeleteOp && !loaded {
				op = mapguard.CancelOp
			}
			decided = op
			return v, op
		})
	})
	switch decided {
	case mapguard.UpdateOp:
		in.ops.inc(computeStored)
	case mapguard.DeleteOp:
		in.ops.inc(computeDeleted)
	default:
		in.ops.inc(computeMiss)
	}
	return actual, ok
}

// loadOrComputeFn is a map's LoadOrCompute method.
type loadOrComputeFn[K comparable, V any] func(key K, fn func() (V, bool)) (V, bool)

// observeLoadOrCompute is LoadOrCompute through loadOrCompute, fn run
// under in's compute labels. It loads first through loadOrCompute with
// cancel, a function that cancels, rather than the map's Load, which Map
// counts as a load.
func observeLoadOrCompute[K comparable, V any](in *instrument, loadOrCompute loadOrComputeFn[K, V], cancel func() (V, bool), key K, fn func() (value V, cancel bool)) (actual V, loaded bool) {
	if v, ok := loadOrCompute(key, cancel); ok {
		in.ops.inc(loadOrComputeHit)
		return v, true
	}
	stored := false
	pprof.Do(context.Background(), in.computeLbls, func(context.Context) {
		actual, loaded = loadOrCompute(key, func() (V, bool) {
			v, cancel := fn()
			stored = !cancel
			return v, cancel
		})
	})
	switch {
	case loaded:
		in.ops.inc(loadOrComputeHit)
	case stored:
		in.ops.inc(loadOrComputeStored)
	default:
		in.ops.inc(loadOrComputeMiss)
	}
	return actual, loaded
}

// cancelCompute is the LoadOrCompute function of observeLoadOrCompute's
// first load.
func cancelCompute[V any]() (v V, cancel bool) { return v, true }

// observeDeleteFunc is DeleteFunc through deleteFunc, observed as an
// iteration and its deletions counted.
func observeDeleteFunc[K, V any](in *instrument, deleteFunc func(func(K, V) bool) int, del func(key K, value V) bool) int {
	it := in.begin(context.Background())
	n, visited := 0, 0
	pprof.Do(context.Background(), in.labels, func(context.Context) {
		n = deleteFunc(func(k K, v V) bool { visited++; return del(k, v) })
	})
	in.end(it, visited, false)
	in.ops.addExact(deleteDeleted, uint64(n))
	return n
}

// marshalJSON encodes what one observed iteration of rangeFn visits as a
// JSON object, as encoding/json encodes a map[K]V (and as the mapguard
// maps' MarshalJSON do). size is a hint of the number of entries.
func marshalJSON[K comparable, V any](in *instrument, rangeFn func(func(K, V) bool), size int) ([]byte, error) {
	plain := make(map[K]V, size)
	observeRange(context.Background(), in, rangeFn, func(k K, v V) bool {
		plain[k] = v
		return true
	})
	return encodeJSON(in, plain)
}

// encodeJSON encodes plain, the contents of the map of in, as
// encoding/json encodes a map[K]V, with errors naming the map.
func encodeJSON[K comparable, V any](in *instrument, plain map[K]V) ([]byte, error) {
	b, err := json.Marshal(plain)
	if err != nil {
		return nil, fmt.Errorf("observe: encoding map %s as JSON: %w", in.name, err)
	}
	return b, nil
}

// decodeJSON decodes a JSON object for the map of in into a new map[K]V.
func decodeJSON[K comparable, V any](in *instrument, data []byte) (map[K]V, error) {
	var plain map[K]V
	if err := json.Unmarshal(data, &plain); err != nil {
		return nil, fmt.Errorf("observe: decoding map %s from JSON: %w", in.name, err)
	}
	return plain, nil
}

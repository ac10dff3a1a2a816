// Package mapguard provides concurrent maps for Go that are safe to iterate
// while other goroutines write.
//
// There are three map types. Map and SnapshotMap share one API: sync.Map's
// method names with typed keys and values, plus xsync-style Compute,
// LoadOrCompute, Size, All and Clear. ReadMostly has a smaller one (Load,
// Store, Delete, Len, iteration, and Update for several writes at once).
//
//   - [Map] is the general-purpose map and the fast default: a drop-in
//     replacement for sync.Map with lock-free reads and iteration,
//     per-bucket locking for writes, a constant-time [Map.Size] and a table
//     that shrinks again after mass deletion.
//   - [SnapshotMap] is a Map plus [SnapshotMap.Snapshot], an O(1)
//     point-in-time consistent [View] taken while writers keep running. It
//     costs more per operation and per entry than Map.
//   - [ReadMostly] is a copy-on-write map: reads are an atomic load and a
//     builtin map lookup, every write copies the whole map, and every
//     iteration sees one consistent version.
//
// Which map when:
//
//	workload                                          map
//	caches, session tables, counters; any write rate  Map
//	exports, checkpoints or reports that must add up  SnapshotMap
//	  (a consistent view while writers run)
//	config, routing and feature-flag tables: written  ReadMostly
//	  rarely (BENCHMARKS.md has the crossover), read
//	  on every request, iterated as one version
//
// Map's iteration visits each key at most once and never blocks writers,
// but it is not a snapshot: keys written during the walk may or may not be
// seen. Use a SnapshotMap View, or a ReadMostly, when the entries visited
// must belong to one instant.
//
// The package imports only the standard library.
package mapguard

// noCopy may be embedded in structs that must not be copied after first use.
// go vet's copylocks check reports copies of any struct holding one.
type noCopy struct{}

// Lock is a no-op used by go vet's copylocks check.
func (*noCopy) Lock() {}

// Unlock is a no-op used by go vet's copylocks check.
func (*noCopy) Unlock() {}

// Package inline is a prototype of issue 17: a concurrent hash map for keys
// and values that hold no pointers, stored inline in memory allocated
// without pointers ([]uint64 words), so that the GC neither scans the table
// nor pays write barriers on it, and writes allocate nothing. Readers take
// no lock: each chain of buckets carries a sequence counter (a seqlock),
// and every word read or written concurrently goes through sync/atomic, so
// -race stays silent with nothing suppressed. It is not yet used by the
// root package's Map.
//
// # How it maps onto the root package's table.go
//
// The shape is table.go's with entry pointers replaced by words:
//
//   - Table: a power-of-two array of root buckets; chains of overflow
//     buckets; the same per-map seeded hash (hash.go's mixInt for integer
//     keys, maphash.Comparable otherwise), the same 7-bit tags in a meta
//     word matched with SWAR, index = hash>>7 & mask, a striped size
//     counter, maxLoad 0.75 and cooperative growth in 64-bucket chunks
//     (table.go's resize and Map.help, unchanged in outline: every writer
//     that meets a grow helps, the old table is frozen and stays readable).
//   - Bucket: bw = 2 + 8*(kw+vw) words, where kw and vw are the key's and
//     value's sizes rounded up to 8 bytes. Word 0 holds the chain's
//     sequence counter (low 32 bits, root buckets only) and the overflow
//     link (high 32 bits); word 1 holds 8 tag bytes; then 8 slots, each a
//     key's words then a value's. table.go's bucket holds 5 entry pointers
//     and its mutex in one cache line; here the mutexes live in a separate
//     array of at most 1024 cache-line stripes (chain i uses stripe
//     i&1023), which a writer touches and a reader never does.
//   - An overflow bucket has the same header but 4 slots (its tag word's
//     top 4 bytes stay 0): a chain that overflows at maxLoad mostly holds
//     one to three entries more than its root.
//   - Overflow buckets cannot be pointers in pointer-free memory: a link is
//     a 32-bit number naming a bucket in the table's overflow segments,
//     []uint64 arrays of doubling size (the first 1/128 of the root
//     buckets) published through atomic pointers before any link to them
//     is stored. A link, once stored, never changes for the table's life.
//
// # Seqlock protocol
//
// A writer locks the chain's stripe, then for each change: increments the
// root's counter (odd), stores the words with atomic stores, increments it
// again (even). A reader loads the counter, skips the try if it is odd,
// loads the tags, keys and value with atomic loads, reloads the counter and
// keeps the result only if it is unchanged; Go's atomics are sequentially
// consistent, so no other fence is needed. Keys are compared with == on K
// (never word by word: floats and struct padding), and a value read during
// a try is only returned once validated. After 4 failed tries a reader
// takes the chain's lock and reads under it, so readers make progress
// behind a stream of writers of one hot chain.
//
// Compute, LoadOrCompute and the compare operations decide under the
// chain's lock before the counter goes odd: the callback or comparison
// runs first, then the words are written inside one odd-even pair, and the
// unlock is deferred. A panicking callback thus leaves the chain unchanged,
// its counter even and its lock free.
//
// # Shrink and Clear
//
// As in the root package, a deletion that empties a bucket of a table at
// most 1/16 full (shrinkLoad) replaces it by one at load maxLoad/2, and
// Clear by an 8-bucket table; both use the grow's cooperative copy, and
// the old table's overflow segments go with it.
//
// Range copies a whole chain under one validation (or its lock), then calls
// its function from the copy with no lock held: each key is in one chain,
// so it is visited at most once, and a key present throughout is in that
// copy. Range walks the table current when it starts; a grow freezes that
// table (every chain is copied under its lock, and no writer touches it
// afterwards), so the walk finishes on a consistent, frozen table.
package inline

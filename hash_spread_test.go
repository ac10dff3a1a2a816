package mapguard

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIntHashSpreadsPatterns hashes integer keys in the patterns real
// tables hold (sequential IDs, negative ones, IDs in the high 32 bits,
// strides of 2^k as in packed or aligned values) into 4,096 buckets at the
// table's maximum load (3.75 keys per bucket), for 8 random seeds, and
// compares the same-bucket pairs (what probes pay for) with a random
// hash's expectation, n(n-1)/2 / buckets: a random hash stays within 2% of
// it (worst of 800 simulated trials), so more than 15% is a pattern the
// hash does not spread. One round of mixInt's multiply reached 43% on keys
// i<<16 for some seeds. The fullest bucket must stay under 24 keys (a
// random hash: about 16 at worst), and keys sharing a bucket should share
// a 7-bit tag about as often as 1 pair in 128.
func TestIntHashSpreadsPatterns(t *testing.T) {
	const (
		bucketBits = 12
		buckets    = 1 << bucketBits
		keys       = buckets * slotsPerBucket * 3 / 4
	)
	patterns := map[string]func(i int) uint64{
		"sequential": func(i int) uint64 { return uint64(i) },
		"negative":   func(i int) uint64 { return uint64(-i) },
		"high half":  func(i int) uint64 { return uint64(i) << 32 },
		"both halves": func(i int) uint64 {
			return uint64(i)<<32 | uint64(i)
		},
	}
	for k := 1; k < 64-14; k += 3 {
		patterns[fmt.Sprintf("stride 2^%d", k)] = func(i int) uint64 { return uint64(i) << k }
	}
	expected := float64(keys) * float64(keys-1) / 2 / buckets
	for range 8 {
		seed := rand.Uint64()
		for name, key := range patterns {
			var count [buckets]int
			type slotTag struct{ bucket, tag uint64 }
			tags := map[slotTag]int{}
			pairs, tagPairs := 0, 0
			for i := range keys {
				h := mixInt(seed, key(i))
				b := (h >> 7) & (buckets - 1)
				pairs += count[b]
				tagPairs += tags[slotTag{b, h & 0x7f}]
				count[b]++
				tags[slotTag{b, h & 0x7f}]++
			}
			fullest := 0
			for _, c := range count {
				fullest = max(fullest, c)
			}
			if r := float64(pairs) / expected; r > 1.15 {
				t.Errorf("%s (seed %#x): %d same-bucket pairs, %.2f times a random hash's %.0f", name, seed, pairs, r, expected)
			}
			if fullest >= 24 {
				t.Errorf("%s (seed %#x): fullest bucket holds %d keys; a random hash stays near 16", name, seed, fullest)
			}
			// A random hash: tagPairs ~ pairs/128, with a generous margin.
			if limit := pairs/128*2 + 20; tagPairs > limit {
				t.Errorf("%s (seed %#x): %d of %d same-bucket pairs share a tag; a random hash gives about %d", name, seed, tagPairs, pairs, pairs/128)
			}
		}
	}
}

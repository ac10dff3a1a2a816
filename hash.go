package mapguard

import (
	"hash/maphash"
	"math/bits"
	"reflect"
	"unsafe"
)

// hashKind selects the hash function of a table. It is chosen once, when the
// table is made, from the key type's kind, so the hot path pays one
// predictable branch instead of an indirect call.
type hashKind uint8

const (
	hashComparable hashKind = iota // maphash.Comparable: any comparable key
	hashString                     // maphash.String: kind string
	hash64                         // integer kinds 8 bytes wide
	hash32                         // integer kinds 4 bytes wide
	hash16                         // integer kinds 2 bytes wide
	hash8                          // integer kinds 1 byte wide
	hashCollide                    // test hook: every key hashes alike
)

// collideHash is the hash every key gets under hashCollide. Its tag bits are
// non-zero so that it exercises tag matching, not only the empty-slot path.
const collideHash = 0x5bd1e9955bd1e995

// hashKindOf returns the fastest correct hash kind for K. The specialised
// kinds reinterpret the key's memory, so they are only used when K's
// underlying type is exactly a string or a fixed-width integer; everything
// else (floats, whose -0 and NaN need care, structs, interfaces, pointers)
// takes maphash.Comparable.
func hashKindOf[K comparable]() hashKind {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return hashString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		switch t.Size() {
		case 8:
			return hash64
		case 4:
			return hash32
		case 2:
			return hash16
		case 1:
			return hash8
		}
	}
	return hashComparable
}

// hasher holds what hashing needs: the per-map seed and the hash kind.
// Every table of one map shares one hasher, so a key lands in the same bucket
// index modulo the smaller table size, which lets resizes copy buckets without
// locking the destination.
type hasher struct {
	seed    maphash.Seed
	intSeed uint64 // derived from seed, for the integer mixer
	kind    hashKind
}

func newHasher[K comparable]() hasher {
	seed := maphash.MakeSeed()
	return hasher{
		seed:    seed,
		intSeed: maphash.Comparable(seed, uint64(0x6d61706775617264)) | 1,
		kind:    hashKindOf[K](),
	}
}

// hashKey hashes key with h. Only the kinds chosen by hashKindOf reinterpret
// the key's memory, so each unsafe conversion reads exactly the bytes of a
// value of that kind.
func hashKey[K comparable](h *hasher, key K) uint64 {
	p := unsafe.Pointer(&key)
	switch h.kind {
	case hashString:
		return maphash.String(h.seed, *(*string)(p))
	case hash64:
		return mixInt(h.intSeed, *(*uint64)(p))
	case hash32:
		return mixInt(h.intSeed, uint64(*(*uint32)(p)))
	case hash16:
		return mixInt(h.intSeed, uint64(*(*uint16)(p)))
	case hash8:
		return mixInt(h.intSeed, uint64(*(*uint8)(p)))
	case hashCollide:
		return collideHash
	}
	return maphash.Comparable(h.seed, key)
}

// mixInt is a seeded integer hash: two rounds of a full 64x64->128-bit
// multiply folded back to 64 bits (the "mum" step of wyhash). One round is
// 2-7% faster on small int maps but spreads some strided keys badly for
// some seeds (keys i<<16: up to 1.43 times a random hash's same-bucket
// pairs, a fullest bucket of 21 where random stays near 16);
// TestIntHashSpreadsPatterns checks the spread. Both rounds together cost
// less than one call of maphash.Comparable.
func mixInt(seed, v uint64) uint64 {
	hi, lo := bits.Mul64(v^seed, 0xa0761d6478bd642f)
	hi, lo = bits.Mul64(hi^lo^seed, 0xe7037ed1a0b428db)
	return hi ^ lo
}

package inline

import (
	"hash/maphash"
	"math/bits"
	"reflect"
	"unsafe"
)

// hashKind selects the hash function of a map, as hash.go of the root
// package does. Keys here never hold pointers, so there is no string kind.
type hashKind uint8

const (
	hashComparable hashKind = iota // maphash.Comparable: floats, arrays, structs
	hash64                         // integer kinds 8 bytes wide
	hash32                         // integer kinds 4 bytes wide
	hash16                         // integer kinds 2 bytes wide
	hash8                          // integer kinds 1 byte wide
	hashCollide                    // test hook: every key hashes alike
)

// collideHash is the hash every key gets under hashCollide. Its tag bits are
// non-zero so that it exercises tag matching, not only the empty-slot path.
const collideHash = 0x5bd1e9955bd1e995

func hashKindOf[K comparable]() hashKind {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
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

// hasher holds the per-map seed and the hash kind. Every table of one map
// shares it, so a resize can place each key by its hash alone.
type hasher struct {
	seed    maphash.Seed
	intSeed uint64
	kind    hashKind
}

func newHasher[K comparable](collide bool) hasher {
	seed := maphash.MakeSeed()
	h := hasher{
		seed:    seed,
		intSeed: maphash.Comparable(seed, uint64(0x6d61706775617264)) | 1,
		kind:    hashKindOf[K](),
	}
	if collide {
		h.kind = hashCollide
	}
	return h
}

// hashKey hashes key with h. Only the integer kinds reinterpret the key's
// memory, and only when the key is exactly that wide.
func hashKey[K comparable](h *hasher, key K) uint64 {
	p := unsafe.Pointer(&key)
	switch h.kind {
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

// mixInt is the root package's seeded integer hash (two wyhash "mum" rounds).
func mixInt(seed, v uint64) uint64 {
	hi, lo := bits.Mul64(v^seed, 0xa0761d6478bd642f)
	hi, lo = bits.Mul64(hi^lo^seed, 0xe7037ed1a0b428db)
	return hi ^ lo
}

package rollout

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// blobMagic opens every blob of MarshalBinary; blobVersion is its format.
const (
	blobMagic   = "MGRA"
	blobVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxSketchIndex bounds a sketch bin index in a blob: the indexes of
// values from the smallest normal float64 to the largest, at
// SketchAccuracy, lie within ±35,500.
const maxSketchIndex = 40_000

// MarshalBinary encodes a's state (a partial aggregate, to be merged in
// another process with UnmarshalBinary and Merge), experiment included,
// in the versioned format of the package documentation.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	if err := a.usable(); err != nil {
		return nil, err
	}
	exp, err := json.Marshal(a.exp)
	if err != nil {
		return nil, fmt.Errorf("rollout: encoding the experiment: %w", err)
	}
	b := append([]byte(blobMagic), blobVersion)
	b = appendBytes(b, exp)
	for _, n := range []int{a.events, a.malformed, a.ignored, a.dropped} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	for arm := range a.exp.Arms {
		b = binary.AppendUvarint(b, uint64(a.exposures[arm]))
		b = binary.AppendUvarint(b, uint64(a.outcomes[arm]))
	}
	b = binary.AppendUvarint(b, uint64(len(a.metrics)))
	for _, name := range a.metrics {
		b = appendBytes(b, []byte(name))
	}
	for arm := range a.exp.Arms {
		for idx := range a.metrics {
			var s *ddsketch.DDSketch
			if row := a.sketches[arm]; idx < len(row) {
				s = row[idx]
			}
			if s == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(s.GetZeroCount()))
			b = appendStore(b, s.GetPositiveValueStore())
			b = appendStore(b, s.GetNegativeValueStore())
		}
	}
	b = binary.AppendUvarint(b, uint64(len(a.units)))
	for key, u := range a.units {
		b = appendBytes(b, []byte(key))
		var flags byte
		if u.arm >= 0 {
			flags |= 1
		}
		if u.mixed {
			flags |= 2
		}
		b = append(b, flags)
		if u.arm >= 0 {
			b = binary.AppendUvarint(b, uint64(u.arm))
			b = binary.AppendVarint(b, u.first)
		}
		b = binary.AppendUvarint(b, uint64(len(u.metrics)))
		for _, m := range u.metrics {
			b = binary.AppendUvarint(b, uint64(m.idx))
			b = binary.AppendUvarint(b, uint64(m.n))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.sum))
		}
		b = binary.AppendUvarint(b, uint64(len(u.pending)))
		for _, p := range u.pending {
			b = binary.AppendVarint(b, p.t)
			b = binary.AppendUvarint(b, uint64(p.idx))
			start := byte(0)
			if p.start {
				start = 1
			}
			b = append(b, start)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.v))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendStore writes a sketch store's bins densely: their number, the
// first index, then each bin's count; a blob so spends at least a byte
// per bin a decoder allocates.
func appendStore(b []byte, s store.Store) []byte {
	lo, err := s.MinIndex()
	if err != nil { // empty
		return binary.AppendUvarint(b, 0)
	}
	hi, _ := s.MaxIndex()
	counts := make([]uint64, hi-lo+1)
	s.ForEach(func(index int, count float64) bool {
		counts[index-lo] = uint64(count) // counts are sums of 1s: whole numbers
		return false
	})
	b = binary.AppendUvarint(b, uint64(len(counts)))
	b = binary.AppendVarint(b, int64(lo))
	for _, c := range counts {
		b = binary.AppendUvarint(b, c)
	}
	return b
}

// BlobError is UnmarshalBinary's error for data that is not a blob of
// MarshalBinary, or a corrupt one.
type BlobError struct {
	Offset int // where decoding stopped
	Msg    string
}

func (e *BlobError) Error() string {
	return fmt.Sprintf("rollout: aggregate blob: at byte %d: %s", e.Offset, e.Msg)
}

// decoder reads a blob; every length it reads is checked against the
// bytes left before anything is allocated for it, so a blob of n bytes
// allocates O(n), whatever its length fields claim.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &BlobError{Offset: d.off, Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad unsigned varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads a count of items of at least minSize bytes each, and fails
// unless that many could fit in the bytes left or it exceeds limit.
func (d *decoder) count(what string, minSize int, limit uint64) int {
	n := d.uvarint()
	if d.err == nil && (n > limit || n > uint64((len(d.b)-d.off)/minSize)) {
		d.fail("%s: %d is more than the blob holds or the limit %d", what, n, limit)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(what string) []byte {
	n := d.count(what, 1, math.MaxInt32)
	if d.err != nil {
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
	d.off += 8
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail("a value is %v", v)
	}
	return v
}

// small reads an unsigned varint no larger than limit.
func (d *decoder) small(what string, limit uint64) uint64 {
	v := d.uvarint()
	if d.err == nil && v > limit {
		d.fail("%s %d is over %d", what, v, limit)
	}
	return v
}

// UnmarshalBinary replaces a's state, experiment included, with the one
// MarshalBinary encoded in data. Data that is not such a blob, of another
// version, or corrupt is a *BlobError, and leaves a unchanged.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	const trailer = 4
	if len(data) < len(blobMagic)+1+trailer || string(data[:len(blobMagic)]) != blobMagic {
		return &BlobError{Msg: "not an aggregate blob (no " + blobMagic + " header)"}
	}
	if v := data[len(blobMagic)]; v != blobVersion {
		return &BlobError{Offset: len(blobMagic), Msg: fmt.Sprintf("format version %d; this build reads version %d", v, blobVersion)}
	}
	body := data[:len(data)-trailer]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(body):]) {
		return &BlobError{Offset: len(body), Msg: "checksum mismatch: the blob is corrupt or truncated"}
	}
	d := &decoder{b: body, off: len(blobMagic) + 1}
	var e Experiment
	if raw := d.bytes("experiment"); d.err == nil {
		if err := json.Unmarshal(raw, &e); err != nil {
			d.fail("experiment: %v", err)
		}
	}
	if d.err != nil {
		return d.err
	}
	var n Aggregator
	n.init(e)
	if n.err != nil {
		return &BlobError{Offset: d.off, Msg: n.err.Error()}
	}
	const maxCount = math.MaxInt32
	n.events = int(d.small("events", maxCount))
	n.malformed = int(d.small("malformed", maxCount))
	n.ignored = int(d.small("ignored", maxCount))
	n.dropped = int(d.small("dropped", maxCount))
	for arm := range e.Arms {
		n.exposures[arm] = int(d.small("exposures", maxCount))
		n.outcomes[arm] = int(d.small("outcomes", maxCount))
	}
	nm := d.count("metrics", 1, maxMetrics)
	for range nm {
		name := string(d.bytes("metric name"))
		if d.err != nil {
			return d.err
		}
		if _, dup := n.index[name]; dup || name == "" || n.ratio[name] {
			d.fail("metric name %q is empty, repeated or a ratio metric", name)
			return d.err
		}
		n.register(name)
	}
	for arm := range e.Arms {
		for idx := range nm {
			switch d.byte() {
			case 0:
				continue
			case 1:
			default:
				d.fail("bad sketch flag")
			}
			if d.err != nil {
				return d.err
			}
			s := n.sketch(arm, uint16(idx))
			if zero := d.small("zero count", 1<<53); zero > 0 {
				s.AddWithCount(0, float64(zero))
			}
			d.store(s.GetPositiveValueStore())
			d.store(s.GetNegativeValueStore())
		}
	}
	nu := d.count("units", 4, maxCount)
	if d.err != nil {
		return d.err
	}
	n.units = make(map[string]*unitState, nu)
	for range nu {
		key := string(d.bytes("unit"))
		flags := d.byte()
		if d.err != nil {
			return d.err
		}
		if _, dup := n.units[key]; dup || key == "" || flags > 3 {
			d.fail("unit %q is empty or repeated, or has bad flags", key)
			return d.err
		}
		u := &unitState{arm: -1, mixed: flags&2 != 0}
		if flags&1 != 0 {
			u.arm = int16(d.small("arm", uint64(len(e.Arms)-1)))
			u.first = d.varint()
		}
		if k := d.count("unit metrics", 10, uint64(nm)); k > 0 {
			u.metrics = make([]unitMetric, k)
			for i := range u.metrics {
				m := &u.metrics[i]
				m.idx = uint16(d.small("metric index", uint64(nm-1)))
				m.n = uint32(d.small("value count", math.MaxUint32))
				m.sum = d.float()
				if d.err == nil && m.n == 0 {
					d.fail("unit %q: metric %d with no values", key, m.idx)
				}
				for _, o := range u.metrics[:i] {
					if d.err == nil && o.idx == m.idx {
						d.fail("unit %q: metric %d twice", key, m.idx)
					}
				}
			}
		}
		if k := d.count("held outcomes", 11, maxPending); k > 0 {
			u.pending = make([]pendingValue, k)
			for i := range u.pending {
				p := &u.pending[i]
				p.t = d.varint()
				p.idx = uint16(d.uvarint())
				switch d.byte() {
				case 0:
				case 1:
					p.start = true
				default:
					d.fail("bad outcome flag")
				}
				p.v = d.float()
				switch {
				case d.err != nil:
				case p.idx != noMetric && int(p.idx) >= nm:
					d.fail("unit %q: held outcome of metric %d", key, p.idx)
				case i == 0 && !p.start:
					d.fail("unit %q: held outcomes do not start with an outcome", key)
				case u.arm >= 0 && p.t >= u.first:
					d.fail("unit %q: a held outcome follows the first exposure", key)
				}
			}
		}
		if d.err != nil {
			return d.err
		}
		n.units[key] = u
	}
	if d.err == nil && d.off != len(body) {
		d.fail("%d bytes after the units", len(body)-d.off)
	}
	if d.err != nil {
		return d.err
	}
	*a = n
	return nil
}

// store reads bins written by appendStore into s.
func (d *decoder) store(s store.Store) {
	nb := d.count("sketch bins", 1, 2*maxSketchIndex+1)
	if nb == 0 || d.err != nil {
		return
	}
	lo := d.varint()
	if d.err == nil && (lo < -maxSketchIndex || lo+int64(nb)-1 > maxSketchIndex) {
		d.fail("sketch bins %d to %d are out of range", lo, lo+int64(nb)-1)
	}
	for i := range nb {
		c := d.small("bin count", 1<<53)
		if d.err != nil {
			return
		}
		s.AddWithCount(int(lo)+i, float64(c))
	}
}

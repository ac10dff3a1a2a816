package rollout_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/mapguard/mapguard/internal/fuzzbound"
	"github.com/mapguard/mapguard/rollout"
)

// reseal replaces a blob's CRC-32C trailer with the right one for the
// bytes before it, so a test can change a blob's fields and reach the
// decoder behind the checksum.
func reseal(blob []byte) []byte {
	body := blob[:len(blob)-4]
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

// sampleBlob is a small aggregate with sketches, attributed and held
// outcomes, and a unit never exposed.
func sampleBlob(t testing.TB) []byte {
	t.Helper()
	a := rollout.NewAggregator(mergeExperiment())
	for _, ev := range stream(rand.New(rand.NewPCG(16, 7)), 6) {
		a.Add(ev)
	}
	blob, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

// TestUnmarshalForeignBlob: data that is not a blob, of another version,
// truncated or with any one byte changed is a *BlobError, and leaves the
// aggregator as it was.
func TestUnmarshalForeignBlob(t *testing.T) {
	blob := sampleBlob(t)
	var a rollout.Aggregator
	if err := a.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.MarshalBinary(); len(got) != len(blob) {
		t.Fatalf("round trip: %d bytes; want %d", len(got), len(blob))
	}
	if e := a.Experiment(); e.Key != "map-impl" || len(e.Metrics) != 4 {
		t.Fatalf("restored experiment %+v", e)
	}
	version := bytes.Clone(blob)
	version[4] = 2
	bad := map[string][]byte{
		"empty":         nil,
		"json":          []byte(`{"experiment":"map-impl"}`),
		"magic only":    []byte("MGRA"),
		"other version": reseal(version),
		"truncated":     blob[:len(blob)/2],
		"resealed cut":  reseal(append(bytes.Clone(blob[:len(blob)/2]), 0, 0, 0, 0)),
		"trailing byte": reseal(append(bytes.Clone(blob[:len(blob)-4]), 7, 0, 0, 0, 0)),
	}
	for i := 5; i < len(blob); i++ {
		flipped := bytes.Clone(blob)
		flipped[i] ^= 0x10
		var b rollout.Aggregator
		if err := b.UnmarshalBinary(flipped); !errors.As(err, new(*rollout.BlobError)) {
			t.Fatalf("byte %d flipped: %v; want a *BlobError", i, err)
		}
	}
	for name, data := range bad {
		before, _ := a.MarshalBinary()
		if err := a.UnmarshalBinary(data); !errors.As(err, new(*rollout.BlobError)) {
			t.Errorf("%s: %v; want a *BlobError", name, err)
		}
		if after, _ := a.MarshalBinary(); !bytes.Equal(after, before) && len(after) != len(before) {
			t.Errorf("%s: a failed UnmarshalBinary changed the aggregator", name)
		}
	}
}

// TestUnmarshalHostileLength: a blob whose unit count claims 2^40 units
// (checksum made right) is refused without allocating for them.
func TestUnmarshalHostileLength(t *testing.T) {
	a := rollout.NewAggregator(experiment(50, 50))
	blob, _ := a.MarshalBinary() // no units: ends in uvarint(0) and the trailer
	body := blob[:len(blob)-5]
	if blob[len(blob)-5] != 0 {
		t.Fatalf("an empty aggregate's blob does not end in a unit count of 0: % x", blob[len(blob)-8:])
	}
	hostile := reseal(append(binary.AppendUvarint(bytes.Clone(body), 1<<40), 0, 0, 0, 0))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var b rollout.Aggregator
	err := b.UnmarshalBinary(hostile)
	runtime.ReadMemStats(&after)
	if !errors.As(err, new(*rollout.BlobError)) {
		t.Fatalf("a blob claiming 2^40 units: %v; want a *BlobError", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing it allocated %d bytes", grew)
	}
}

// FuzzUnmarshalBinary: for every input of up to 4 KiB (larger ones are
// skipped), UnmarshalBinary stays within the resource bounds, and its
// error is a *BlobError that names the package. A blob it accepts
// encodes again to one it accepts, of the same length and with the same
// report (the units are encoded in map order, so the bytes may differ),
// and merges with its copy. With fixCRC the checksum is made right, so
// the fuzzer reaches the decoder behind it.
func FuzzUnmarshalBinary(f *testing.F) {
	blob := sampleBlob(f)
	empty, _ := rollout.NewAggregator(experiment(100)).MarshalBinary()
	f.Add(blob, false)
	f.Add(blob, true)
	f.Add(empty, false)
	f.Add(blob[:len(blob)/3], true)
	f.Add([]byte("MGRA\x01"), true)
	f.Add([]byte{}, false)
	// The malformed seeds (huge counts and lengths, bins out of range,
	// truncated) are files under testdata/fuzz/FuzzUnmarshalBinary.
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if len(data) > fuzzbound.MaxInput {
			t.Skip("over the 4 KiB bound")
		}
		if fixCRC && len(data) >= 4 {
			data = reseal(data)
		}
		var a rollout.Aggregator
		var err error
		fuzzbound.Check(t, "UnmarshalBinary", func() { err = a.UnmarshalBinary(data) })
		if err != nil {
			if !errors.As(err, new(*rollout.BlobError)) || !strings.HasPrefix(err.Error(), "rollout: ") {
				t.Fatalf("error %v is not a *BlobError naming the package", err)
			}
			return
		}
		again, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var b rollout.Aggregator
		if err := b.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded blob refused: %v", err)
		}
		if third, _ := b.MarshalBinary(); len(third) != len(again) {
			t.Fatalf("a decoded blob encodes to %d bytes, then %d", len(again), len(third))
		}
		control := a.Experiment().Arms[0].Name
		ra, errA := a.Report(control)
		rb, errB := b.Report(control)
		if fmt.Sprint(errA) != fmt.Sprint(errB) {
			t.Fatalf("report after a round trip: %v; want %v", errB, errA)
		}
		if errA == nil {
			sameReport(t, "report after a round trip", rb, ra)
		}
		if err := a.Merge(&b); err != nil {
			t.Fatalf("merging a blob's aggregate with its copy: %v", err)
		}
	})
}

package partial_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/mapguard/mapguard/internal/fuzzbound"
	"github.com/mapguard/mapguard/rollout"
	"github.com/mapguard/mapguard/rollout/partial"
)

// FuzzPartialUnmarshalBinary: for every input of up to 4 KiB (larger
// ones are skipped), UnmarshalBinary stays within the resource bounds and
// an error names the package. A partial it accepts has a valid header
// and encodes again to one it accepts with the same header and an
// aggregate of the same size. With fixCRC the checksum of the aggregate
// blob (from its "MGRA" magic on) is made right, so the fuzzer reaches
// the aggregate's decoder behind it.
func FuzzPartialUnmarshalBinary(f *testing.F) {
	agg := rollout.NewAggregator(experiment)
	for i, u := range []string{"ua", "ub", "uc", "ud", "ue", "uf"} {
		if err := agg.Add(rollout.Event{Experiment: experiment.Key, Arm: experiment.Assign(u, nil).Arm, Unit: u, Metrics: map[string]float64{"latency_ms": float64(i)}}); err != nil {
			f.Fatal(err)
		}
	}
	p := &partial.Partial{Topic: "events", Partition: 5, Next: 1234, Records: 40, Skipped: 3, Writer: "host/1/2", Agg: agg}
	good, err := p.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	// The partial and the foreign values of TestPartialRoundTrip; the
	// malformed seeds (truncated, huge lengths, counts out of range) are
	// files under testdata/fuzz/FuzzPartialUnmarshalBinary.
	f.Add(good, false)
	f.Add(good, true)
	f.Add(good[:10], false)
	f.Add([]byte("MGP"), false)
	f.Add([]byte("{}"), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if len(data) > fuzzbound.MaxInput {
			t.Skip("over the 4 KiB bound")
		}
		if i := bytes.Index(data, []byte("MGRA")); fixCRC && i >= 0 && len(data)-i >= 4 {
			body := data[:len(data)-4]
			data = binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body[i:], crc32.MakeTable(crc32.Castagnoli)))
		}
		var q partial.Partial
		var err error
		fuzzbound.Check(t, "UnmarshalBinary", func() { err = q.UnmarshalBinary(data) })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "partial: ") {
				t.Fatalf("error %q does not start with the package name", err)
			}
			return
		}
		if q.Agg == nil || q.Partition < 0 || q.Next < 0 || q.Records < 0 || q.Skipped < 0 {
			t.Fatalf("accepted %+v", q)
		}
		again, err := q.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r partial.Partial
		if err := r.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded partial refused: %v", err)
		}
		if r.Topic != q.Topic || r.Partition != q.Partition || r.Next != q.Next || r.Records != q.Records || r.Skipped != q.Skipped || r.Writer != q.Writer {
			t.Fatalf("header after a round trip %+v; want %+v", r, q)
		}
		if a, b := mustMarshal(t, q.Agg), mustMarshal(t, r.Agg); len(a) != len(b) {
			t.Fatalf("aggregate of %d bytes after a round trip; want %d", len(b), len(a))
		}
	})
}

// mustMarshal returns m's binary encoding.
func mustMarshal(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package partial

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mapguard/mapguard/rollout"
)

// magic starts every encoded Partial: a record of the partials topic
// that does not start with it is not one (and is skipped and counted).
const magic = "MGP\x01"

// Partial is one source partition's partial aggregate: the aggregate of
// exactly the records of partition Partition of topic Topic at offsets
// below Next, whoever consumed them. That invariant is what makes any
// partial a safe place to resume from and to report from (see the
// package documentation).
//
// The zero Partial is for UnmarshalBinary. A Partial is not safe for
// concurrent use.
type Partial struct {
	// Topic and Partition name the source partition.
	Topic     string
	Partition int32
	// Next is the offset of the first record not covered: the offset a
	// member resumes consuming from.
	Next int64
	// Records counts the records covered, events or not; Skipped counts
	// those that were not events (not JSON), which Agg does not hold.
	Records, Skipped int64
	// Writer names the member that published it, for diagnostics.
	Writer string
	// Agg is the aggregate of the events covered.
	Agg *rollout.Aggregator
}

// Key returns the record key of the partial of one source partition of
// one experiment: "experiment/topic/partition". A compacted partials
// topic keeps the latest partial per key.
func Key(experiment, topic string, partition int32) string {
	return experiment + "/" + topic + "/" + strconv.Itoa(int(partition))
}

// parseKey splits a Key; Kafka topic names cannot hold "/", so the
// topic and partition are the last two fields whatever the experiment.
func parseKey(key string) (experiment, topic string, partition int32, ok bool) {
	rest, p, ok := cutLast(key)
	if !ok {
		return "", "", 0, false
	}
	experiment, topic, ok = cutLast(rest)
	n, err := strconv.ParseInt(p, 10, 32)
	if !ok || err != nil || n < 0 || topic == "" {
		return "", "", 0, false
	}
	return experiment, topic, int32(n), true
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// MarshalBinary encodes p: a small header (the fields above Agg) and
// Agg's own MarshalBinary.
func (p *Partial) MarshalBinary() ([]byte, error) {
	if p.Agg == nil {
		return nil, errors.New("partial: marshal: no aggregate")
	}
	agg, err := p.Agg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("partial: marshal: %w", err)
	}
	b := make([]byte, 0, len(magic)+len(p.Topic)+len(p.Writer)+5*binary.MaxVarintLen64+len(agg))
	b = append(b, magic...)
	b = binary.AppendUvarint(b, uint64(len(p.Topic)))
	b = append(b, p.Topic...)
	b = binary.AppendVarint(b, int64(p.Partition))
	b = binary.AppendVarint(b, p.Next)
	b = binary.AppendVarint(b, p.Records)
	b = binary.AppendVarint(b, p.Skipped)
	b = binary.AppendUvarint(b, uint64(len(p.Writer)))
	b = append(b, p.Writer...)
	return append(b, agg...), nil
}

// UnmarshalBinary decodes what MarshalBinary encoded, the aggregate
// (and its experiment) included. On error p is left as it was, as
// rollout.Aggregator.UnmarshalBinary leaves its receiver.
func (p *Partial) UnmarshalBinary(b []byte) error {
	var q Partial
	rest, err := q.decodeHeader(b)
	if err != nil {
		return err
	}
	var a rollout.Aggregator
	if err := a.UnmarshalBinary(rest); err != nil {
		return fmt.Errorf("partial: %s partition %d: %w", q.Topic, q.Partition, err)
	}
	q.Agg = &a
	*p = q
	return nil
}

// decodeHeader decodes the fields above Agg, leaves Agg nil and returns
// the encoded aggregate.
func (p *Partial) decodeHeader(b []byte) (agg []byte, err error) {
	bad := errors.New("partial: not an encoded partial")
	s, ok := strings.CutPrefix(string(b[:min(len(b), len(magic))]), magic)
	if !ok || s != "" {
		return nil, bad
	}
	b = b[len(magic):]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		v := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return v, true
	}
	num := func() (int64, bool) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	var q Partial
	var part int64
	if q.Topic, ok = str(); !ok {
		return nil, bad
	}
	for _, f := range []*int64{&part, &q.Next, &q.Records, &q.Skipped} {
		if *f, ok = num(); !ok {
			return nil, bad
		}
	}
	if q.Writer, ok = str(); !ok || part < 0 || part > 1<<31-1 || q.Next < 0 || q.Records < 0 || q.Skipped < 0 {
		return nil, bad
	}
	q.Partition = int32(part)
	*p = q
	return b, nil
}

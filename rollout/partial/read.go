package partial

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mapguard/mapguard/rollout"
)

// maxPartialBytes bounds one encoded partial, and is the
// max.message.bytes EnsureTopic gives the partials topic: an aggregate
// holds about 100 bytes per unit (rollout.Aggregator), so 64 MiB is
// about 600,000 units in one source partition; spread units over more
// partitions beyond that.
const maxPartialBytes = 64 << 20

// ReadOptions say where Read reads.
type ReadOptions struct {
	Brokers []string
	// Partials is the compacted topic the members publish to.
	Partials string
	// Experiment is the key of the experiment whose partials are read;
	// partials of other experiments in the same topic are left alone.
	Experiment string
	// Source, if set, is the events topic: its partitions without a
	// partial are Missing even when no partition has one. Empty takes
	// the source topics the partials name.
	Source string
	// Timeout bounds the wait for a broker to answer (default 10 s).
	Timeout time.Duration
	// Auth secures the connections: TLS and SASL (default plaintext).
	Auth rollout.KafkaAuth
	// Opts are extra franz-go options.
	Opts []kgo.Opt
}

// Snapshot is the latest partial of every source partition of one
// experiment, as the partials topic held them when Read read it.
type Snapshot struct {
	Experiment string
	// Partials are sorted by source topic and partition.
	Partials []*Partial
	// Missing lists, per source topic, the partitions without a
	// partial: their events are in no aggregate.
	Missing map[string][]int32
	// Ends holds the end offset of every source partition when read:
	// End - Partial.Next is the records not yet covered (the lag).
	Ends map[string]map[int32]int64
	// Skipped counts records of the partials topic that are not
	// partials.
	Skipped int
}

// NoPartialsError is Read's error when the partials topic holds no
// partial of the experiment.
type NoPartialsError struct {
	Experiment, Topic string
}

func (e *NoPartialsError) Error() string {
	return fmt.Sprintf("partial: no partials of experiment %q in topic %s", e.Experiment, e.Topic)
}

// Read reads the partials topic to its end and returns the latest
// partial of every source partition of o.Experiment: the one covering
// the most records (the largest Next; of equal ones, the last written).
// Every partial is a consistent prefix, so any choice is correct; the
// largest is the most complete. No partial at all is a *NoPartialsError
// unless o.Source is set.
func Read(ctx context.Context, o ReadOptions) (*Snapshot, error) {
	if len(o.Brokers) == 0 || o.Partials == "" || o.Experiment == "" {
		return nil, errors.New("partial: read: brokers, partials topic and experiment are required")
	}
	secure, err := o.Auth.Opts()
	if err != nil {
		return nil, err
	}
	base := baseOpts(o.Brokers, o.Opts)
	cl, err := newClient(ctx, o.Auth, base, o.Brokers, o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	latest, skipped, err := readLatest(ctx, cl, append(base, secure...), o.Partials, func(exp, _ string, _ int32) bool { return exp == o.Experiment })
	if err != nil {
		return nil, err
	}
	if len(latest) == 0 && o.Source == "" {
		return nil, &NoPartialsError{Experiment: o.Experiment, Topic: o.Partials}
	}
	s := &Snapshot{Experiment: o.Experiment, Missing: map[string][]int32{}, Ends: map[string]map[int32]int64{}, Skipped: skipped}
	sources := map[string]bool{}
	if o.Source != "" {
		sources[o.Source] = true
	}
	for k, raw := range latest {
		var p Partial
		if err := p.UnmarshalBinary(raw.value); err != nil {
			return nil, err
		}
		if got := p.Agg.Experiment().Key; got != o.Experiment {
			return nil, fmt.Errorf("partial: %s partition %d: key names experiment %q, the aggregate is of %q", k.topic, k.partition, o.Experiment, got)
		}
		s.Partials = append(s.Partials, &p)
		sources[p.Topic] = true
	}
	slices.SortFunc(s.Partials, func(a, b *Partial) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for topic := range sources {
		ends, err := endOffsets(ctx, cl, topic)
		if err != nil {
			return nil, err
		}
		s.Ends[topic] = ends
		for p := range ends {
			if _, ok := latest[topicPartition{topic, p}]; !ok {
				s.Missing[topic] = append(s.Missing[topic], p)
			}
		}
		slices.Sort(s.Missing[topic])
	}
	return s, nil
}

// Merge merges the partials into one Aggregator: the aggregate of every
// record the partials cover. It leaves out the Missing partitions: a
// caller reporting it must say so.
func (s *Snapshot) Merge() (*rollout.Aggregator, error) {
	if len(s.Partials) == 0 {
		return nil, &NoPartialsError{Experiment: s.Experiment}
	}
	agg := rollout.NewAggregator(s.Partials[0].Agg.Experiment())
	for _, p := range s.Partials {
		if err := agg.Merge(p.Agg); err != nil {
			return nil, fmt.Errorf("partial: %s partition %d: %w", p.Topic, p.Partition, err)
		}
	}
	return agg, nil
}

// Lag returns the records of the source partitions not yet covered by
// a partial, the Missing partitions' included.
func (s *Snapshot) Lag() int64 {
	next := map[topicPartition]int64{}
	for _, p := range s.Partials {
		next[topicPartition{p.Topic, p.Partition}] = p.Next
	}
	var lag int64
	for topic, ends := range s.Ends {
		for p, end := range ends {
			lag += max(0, end-next[topicPartition{topic, p}])
		}
	}
	return lag
}

// topicPartition names a source partition.
type topicPartition struct {
	topic     string
	partition int32
}

// rawPartial is a partial's header fields that choose the latest, and
// its encoding, decoded in full only if it is chosen.
type rawPartial struct {
	next  int64
	value []byte
}

// readLatest reads topic from its start to the end offsets it has when
// called, through a client of its own made of base, and returns, for every source partition whose key want
// accepts, the encoding of the partial with the largest Next (the last
// written of equal ones), and the number of records that are not
// partials.
func readLatest(ctx context.Context, cl *kgo.Client, base []kgo.Opt, topic string, want func(experiment, topic string, partition int32) bool) (map[topicPartition]rawPartial, int, error) {
	ends, err := endOffsets(ctx, cl, topic)
	if err != nil {
		return nil, 0, err
	}
	parts := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			parts[p] = kgo.NewOffset().AtStart()
		}
	}
	latest := map[topicPartition]rawPartial{}
	skipped := 0
	if len(parts) == 0 {
		return latest, 0, nil
	}
	rd, err := kgo.NewClient(append(slices.Clone(base), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxPartitionBytes(maxPartialBytes))...)
	if err != nil {
		return nil, 0, fmt.Errorf("partial: %w", err)
	}
	defer rd.Close()
	for len(parts) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("partial: reading %s: %w", topic, err)
		}
		for _, fe := range fs.Errors() {
			return nil, 0, fmt.Errorf("partial: reading %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= ends[r.Partition] {
				delete(parts, r.Partition)
			}
			if r.Offset >= ends[r.Partition] {
				return // written after the read began
			}
			exp, src, p, ok := parseKey(string(r.Key))
			if !ok || r.Value == nil { // a tombstone deletes nothing we need
				skipped++
				return
			}
			if !want(exp, src, p) {
				return
			}
			var h Partial
			if _, err := h.decodeHeader(r.Value); err != nil || h.Topic != src || h.Partition != p {
				skipped++
				return
			}
			k := topicPartition{src, p}
			if old, ok := latest[k]; !ok || h.Next >= old.next {
				latest[k] = rawPartial{next: h.Next, value: r.Value}
			}
		})
	}
	return latest, skipped, nil
}

// baseOpts are the options of every client: the brokers, room for the
// largest partial, and the caller's extra options.
func baseOpts(brokers []string, extra []kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(maxPartialBytes)}, extra...)
}

// newClient returns a client of opts (and more), secured by auth, once
// one of brokers answers within timeout (default 10 s); none answering is
// an error naming them, and a broker refusing the credentials is a
// *rollout.AuthError (rollout.KafkaAuth.Connect).
func newClient(ctx context.Context, auth rollout.KafkaAuth, opts []kgo.Opt, brokers []string, timeout time.Duration, more ...kgo.Opt) (*kgo.Client, error) {
	return auth.Connect(ctx, brokers, timeout, append(slices.Clone(opts), more...)...)
}

// endOffsets returns the end offset (high watermark) of every partition
// of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("partial: metadata of %s: %w", topic, err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("partial: metadata of %s: %d topics in the answer", topic, len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("partial: topic %s: %w", topic, err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = -1 // the end
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("partial: end offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("partial: end offset of %s partition %d: %w", topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	if len(ends) != len(mresp.Topics[0].Partitions) {
		return nil, fmt.Errorf("partial: end offsets of %s: %d of %d partitions answered", topic, len(ends), len(mresp.Topics[0].Partitions))
	}
	return ends, nil
}

// EnsureTopic creates the partials topic, compacted (cleanup.policy
// compact: Kafka keeps the latest partial per key) and taking partials
// up to 64 MiB, unless it exists; an existing topic is left as it is.
func EnsureTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = topic
	t.NumPartitions = 1
	t.ReplicationFactor = -1 // the broker's default
	for k, v := range map[string]string{"cleanup.policy": "compact", "max.message.bytes": strconv.Itoa(maxPartialBytes)} {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = 10_000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("partial: creating topic %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("partial: creating topic %s: %w", topic, err)
		}
	}
	return nil
}

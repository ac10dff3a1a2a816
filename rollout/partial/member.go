package partial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mapguard/mapguard/rollout"
)

// Options configure a Member.
type Options struct {
	Brokers []string
	// Topic is the events topic, keyed by unit (rollout.KafkaSink).
	Topic string
	// Group is the consumer group the members share.
	Group string
	// Partials is the compacted topic partials are published to; a
	// Member creates it (EnsureTopic) if it does not exist.
	Partials string
	// Experiment is the experiment aggregated; events of others are
	// counted as ignored.
	Experiment rollout.Experiment
	// Every publishes a partition's partial once it covers this many
	// more records (default 100,000).
	Every int
	// Interval publishes a partition's partial at least this often
	// while it changes (default 10 s): the staleness of a report.
	Interval time.Duration
	// Timeout bounds the wait for a broker to answer at the start, and
	// each publication (default 10 s).
	Timeout time.Duration
	// Name names the member in the partials it writes (default host,
	// process id and a sequence number).
	Name string
	// Auth secures the connections: TLS and SASL (default plaintext).
	Auth rollout.KafkaAuth
	// Opts are extra franz-go options (group timeouts, ...).
	Opts []kgo.Opt
	// Logf, if set, is told of malformed events (the first few per
	// partition, with their partition and offset) and of failed
	// publications, which are retried.
	Logf func(format string, args ...any)
}

// logMalformed is how many malformed records per partition a Member
// logs: enough to find the producer at fault, few enough not to flood
// the log when every record is bad. All are counted.
const logMalformed = 3

// fetchMaxBytes bounds a fetch of events (franz-go's default is 50 MB):
// a fetch is held decoded, records of a few hundred bytes taking several
// times their size, until the member has added them; 4 MiB holds about
// 25,000 events, several polls' worth. Reading a backlog of 2,000,000
// events on kfake, three members peaked at 74 to 109 MiB with it and at
// 81 to 181 MiB without (TestRolloutScaleOutMeasure), at the same speed.
const fetchMaxBytes = 4 << 20

// pollRecords bounds the records one poll returns: the records a
// rebalance waits for, about 20 ms of aggregation.
const pollRecords = 10_000

// Member is one member of the consumer group that aggregates an events
// topic partition by partition (see the package documentation for the
// protocol). Make it with NewMember and call Run once.
//
// Its methods are safe for concurrent use; Stats may be called while
// Run runs.
type Member struct {
	o    Options
	base []kgo.Opt
	// secure are the options of o.Auth, which newClient adds itself.
	secure []kgo.Opt
	// admin is a plain client for metadata and for reading partials.
	admin *kgo.Client
	// mu protects parts. It is held by the poll loop while it adds a
	// poll's records and publishes, and by the group callbacks.
	mu    sync.Mutex
	parts map[int32]*state
	// fatal is the first error that stops Run from a group callback;
	// stop cancels Run's context. Both are set before Run polls.
	fatal     atomic.Pointer[error]
	stop      context.CancelFunc
	records   atomic.Int64
	published atomic.Int64
	owned     atomic.Int32
	// abandon, a test hook, stops without publishing, as a crash would.
	abandon atomic.Bool
}

// state is one owned partition's aggregate.
type state struct {
	p Partial
	// since counts the records added since the last publication; dirty
	// says there is something to publish (a partition just taken over
	// is dirty with no records, so that its Writer shows its owner);
	// last is when it was last published or taken over.
	since     int
	dirty     bool
	last      time.Time
	malformed int
}

// Stats are a Member's counters.
type Stats struct {
	// Records counts the records this member consumed and added.
	Records int64
	// Published counts the partials it published.
	Published int64
	// Partitions is the number of partitions it owns now.
	Partitions int
}

var memberSeq atomic.Int64

// NewMember checks o and returns a Member; it does not connect.
func NewMember(o Options) (*Member, error) {
	if len(o.Brokers) == 0 || o.Topic == "" || o.Group == "" || o.Partials == "" {
		return nil, errors.New("partial: brokers, topic, group and partials topic are required")
	}
	if o.Topic == o.Partials {
		return nil, fmt.Errorf("partial: the partials topic must not be the events topic %s", o.Topic)
	}
	if err := rollout.NewAggregator(o.Experiment).Merge(rollout.NewAggregator(o.Experiment)); err != nil {
		return nil, fmt.Errorf("partial: experiment %q: %w", o.Experiment.Key, err)
	}
	if o.Every <= 0 {
		o.Every = 100_000
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = host + "/" + strconv.Itoa(os.Getpid()) + "/" + strconv.FormatInt(memberSeq.Add(1), 10)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	secure, err := o.Auth.Opts()
	if err != nil {
		return nil, err
	}
	return &Member{o: o, base: baseOpts(o.Brokers, o.Opts), secure: secure, parts: map[int32]*state{}}, nil
}

// Stats returns the member's counters.
func (m *Member) Stats() Stats {
	return Stats{Records: m.records.Load(), Published: m.published.Load(), Partitions: int(m.owned.Load())}
}

// Run joins the group and aggregates the partitions assigned to it
// until ctx is done; it then publishes the partials of the partitions
// it owns and leaves the group, so that the others take them over where
// it stopped. No broker answering within Options.Timeout is an error
// naming the brokers, and so is a partials topic holding partials of
// another definition of the experiment.
func (m *Member) Run(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	m.stop = stop
	admin, err := newClient(ctx, m.o.Auth, m.base, m.o.Brokers, m.o.Timeout)
	if err != nil {
		return err
	}
	defer admin.Close()
	m.admin = admin
	if err := EnsureTopic(ctx, admin, m.o.Partials); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(append(slices.Clone(m.base), m.secure...),
		kgo.ConsumerGroup(m.o.Group),
		kgo.ConsumeTopics(m.o.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.AdjustFetchOffsetsFn(m.adjust),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
	)...)
	if err != nil {
		return fmt.Errorf("partial: %w", err)
	}
	err = m.poll(ctx, cl)
	// Leaving the group revokes every partition: revoked publishes them.
	cl.CloseAllowingRebalance()
	if p := m.fatal.Load(); p != nil {
		return *p
	}
	return err
}

// poll is Run's loop: poll, add, publish what is due.
func (m *Member) poll(ctx context.Context, cl *kgo.Client) error {
	for {
		// Wake at least twice an Interval, so that an idle partition's
		// last records are published in time.
		pctx, cancel := context.WithTimeout(ctx, m.o.Interval/2)
		fs := cl.PollRecords(pctx, pollRecords)
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				cl.AllowRebalance()
				return fmt.Errorf("partial: consuming %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		m.mu.Lock()
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			st := m.parts[ftp.Partition]
			if st == nil || ftp.Topic != m.o.Topic {
				return // revoked since: its new owner reads them again
			}
			for _, r := range ftp.Records {
				m.add(st, r)
			}
		})
		m.publish(ctx, cl, false, slices.Collect(func(yield func(*state) bool) {
			for _, st := range m.parts {
				if !yield(st) {
					return
				}
			}
		}))
		m.mu.Unlock()
		cl.AllowRebalance()
	}
}

// add adds one record to its partition's aggregate; must be called with
// m.mu held.
func (m *Member) add(st *state, r *kgo.Record) {
	if r.Offset < st.p.Next {
		return // covered already: a partial's records are never added twice
	}
	st.p.Next = r.Offset + 1
	st.p.Records++
	st.since++
	st.dirty = true
	m.records.Add(1)
	var ev rollout.Event
	err := json.Unmarshal(r.Value, &ev)
	if err != nil {
		st.p.Skipped++
	} else if err = st.p.Agg.Add(ev); err == nil {
		return
	}
	if st.malformed++; st.malformed <= logMalformed {
		m.o.Logf("mapguard rollout: %s partition %d offset %d: malformed event: %v", r.Topic, r.Partition, r.Offset, err)
	}
}

// publish produces the partials of sts that are due (all that changed,
// with force) and waits for the brokers to acknowledge them; must be
// called with m.mu held. A failed publication is logged and left due:
// the next tries again, and until then a new owner resumes from the
// last partial published, which is always safe.
func (m *Member) publish(ctx context.Context, cl *kgo.Client, force bool, sts []*state) {
	now := time.Now()
	var due []*state
	var recs []*kgo.Record
	for _, st := range sts {
		if !st.dirty || !force && st.since < m.o.Every && now.Sub(st.last) < m.o.Interval {
			continue
		}
		st.p.Writer = m.o.Name
		b, err := st.p.MarshalBinary()
		if err != nil {
			m.o.Logf("mapguard rollout: partial of %s partition %d: %v", st.p.Topic, st.p.Partition, err)
			continue
		}
		due = append(due, st)
		recs = append(recs, &kgo.Record{Topic: m.o.Partials, Key: []byte(Key(m.o.Experiment.Key, st.p.Topic, st.p.Partition)), Value: b})
	}
	if len(recs) == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.Timeout)
	defer cancel()
	res := cl.ProduceSync(pctx, recs...)
	commit := map[int32]kgo.EpochOffset{}
	for i, r := range res {
		if r.Err != nil {
			m.o.Logf("mapguard rollout: publishing the partial of %s partition %d: %v", due[i].p.Topic, due[i].p.Partition, r.Err)
			continue
		}
		st := due[i]
		st.since, st.dirty, st.last = 0, false, now
		m.published.Add(1)
		commit[st.p.Partition] = kgo.EpochOffset{Epoch: -1, Offset: st.p.Next}
	}
	// The group's offsets only show progress to lag monitors: members
	// resume from the partials, never from them.
	if len(commit) > 0 {
		cl.CommitOffsetsSync(pctx, map[string]map[int32]kgo.EpochOffset{m.o.Topic: commit}, nil)
	}
}

// adjust is the group's AdjustFetchOffsetsFn: for every partition
// assigned, it reads the latest partial back from the partials topic
// and starts consuming at the partial's Next, ignoring the committed
// offset; a partition without a partial starts empty at the topic's
// start.
func (m *Member) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	parts := offsets[m.o.Topic]
	if len(parts) == 0 {
		return offsets, nil
	}
	want := func(exp, topic string, p int32) bool {
		_, ok := parts[p]
		return ok && exp == m.o.Experiment.Key && topic == m.o.Topic
	}
	var latest map[topicPartition]rawPartial
	var err error
	for {
		latest, _, err = readLatest(ctx, m.admin, append(slices.Clone(m.base), m.secure...), m.o.Partials, want)
		if err == nil {
			break
		}
		m.o.Logf("mapguard rollout: reading the partials of %s: %v; retrying", m.o.Topic, err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for p := range parts {
		st := &state{p: Partial{Topic: m.o.Topic, Partition: p, Agg: rollout.NewAggregator(m.o.Experiment)}, dirty: true, last: now}
		if raw, ok := latest[topicPartition{m.o.Topic, p}]; ok {
			var q Partial
			if err := q.UnmarshalBinary(raw.value); err != nil {
				return nil, m.fail(err)
			}
			// Merging an empty aggregate of this member's experiment
			// checks that the partial is of the same definition.
			if err := q.Agg.Merge(st.p.Agg); err != nil {
				return nil, m.fail(fmt.Errorf("partial: %s partition %d: the partial in %s is of another definition of experiment %q (use a new partials topic for a changed experiment): %w",
					m.o.Topic, p, m.o.Partials, m.o.Experiment.Key, err))
			}
			st.p = q
		}
		parts[p] = kgo.NewOffset().At(st.p.Next)
		if st.p.Next == 0 {
			parts[p] = kgo.NewOffset().AtStart()
		}
		m.parts[p] = st
	}
	m.owned.Store(int32(len(m.parts)))
	return offsets, nil
}

// fail records err as the error Run returns and stops it.
func (m *Member) fail(err error) error {
	m.fatal.CompareAndSwap(nil, &err)
	m.stop()
	return err
}

// revoked is the group's OnPartitionsRevoked: it publishes the revoked
// partitions' partials before the group hands them to another member,
// and forgets them.
func (m *Member) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sts []*state
	for _, p := range revoked[m.o.Topic] {
		if st := m.parts[p]; st != nil {
			sts = append(sts, st)
			delete(m.parts, p)
		}
	}
	if !m.abandon.Load() {
		m.publish(ctx, cl, true, sts)
	}
	m.owned.Store(int32(len(m.parts)))
}

// lost is the group's OnPartitionsLost: another member may own them
// already, so they are forgotten without publishing; their new owner
// resumes from their last partial.
func (m *Member) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range lost[m.o.Topic] {
		delete(m.parts, p)
	}
	m.owned.Store(int32(len(m.parts)))
}

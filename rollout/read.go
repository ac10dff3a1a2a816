package rollout

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadEvents decodes JSON-lines events from r. A malformed line is an
// error naming its line number.
func ReadEvents(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("rollout: events line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rollout: reading events: %w", err)
	}
	return out, nil
}

// ReadEventsFile reads a JSON-lines events file.
func ReadEventsFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	defer f.Close()
	return ReadEvents(f)
}

// KafkaReadOptions say where ReadEventsKafka reads.
type KafkaReadOptions struct {
	Brokers []string
	Topic   string
	// Group is the consumer group; its committed offsets are where a
	// later read resumes. Empty reads the whole topic without a group.
	Group string
	// Idle is how long a poll may return nothing before the topic counts
	// as caught up (default 2 s).
	Idle time.Duration
	// Timeout bounds the wait for a broker to answer before reading
	// starts (default 10 s); no answer in time is an error naming the
	// brokers, not an empty topic.
	Timeout time.Duration
	// Auth secures the connections: TLS and SASL (default plaintext).
	Auth KafkaAuth
}

// fetchMaxBytes bounds one fetch of events (franz-go's default is 50 MB):
// a fetch is held decoded until its events are added, several times its
// size; 4 MiB holds about 25,000 events, several polls' worth, and keeps
// a reader's memory to its aggregate (rollout/partial measures the same
// bound for its members).
const fetchMaxBytes = 4 << 20

// ReadEventsKafka consumes events from a topic until it is caught up (no
// record for o.Idle) or ctx is done, calling each(e) for every event.
// Records that are not events are counted and skipped. No broker
// answering within o.Timeout is an error that names the brokers; a broker
// refusing the credentials is an *AuthError.
func ReadEventsKafka(ctx context.Context, o KafkaReadOptions, each func(Event)) (skipped int, err error) {
	if len(o.Brokers) == 0 || o.Topic == "" {
		return 0, errors.New("rollout: kafka: brokers and topic are required")
	}
	if o.Idle <= 0 {
		o.Idle = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(o.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(fetchMaxBytes)}
	if o.Group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.Group))
	}
	cl, err := o.Auth.Connect(ctx, o.Brokers, o.Timeout, opts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, o.Idle)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var e Event
			if json.Unmarshal(r.Value, &e) != nil {
				skipped++
				return
			}
			each(e)
		})
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				return skipped, fmt.Errorf("rollout: kafka: topic %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		if n == 0 && ctx.Err() == nil {
			break // caught up
		}
		if o.Group != "" {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				return skipped, fmt.Errorf("rollout: kafka: committing offsets: %w", err)
			}
		}
	}
	return skipped, nil
}

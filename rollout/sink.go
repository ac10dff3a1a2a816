package rollout

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Event is one exposure: a unit saw an arm of an experiment, with
// optional measurements taken while it did (latency, GC pause, ...). An
// event without an arm is an outcome: measurements of the unit that the
// analysis attributes to the arm of the unit's first exposure, if the
// outcome is not before it (see Aggregator).
type Event struct {
	Experiment string             `json:"experiment"`
	Arm        string             `json:"arm"`
	Unit       string             `json:"unit"`
	Time       time.Time          `json:"time"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
}

// Sink records exposure events.
type Sink interface {
	// Emit records e, or returns why it could not.
	Emit(ctx context.Context, e Event) error
	// Flush waits until every event emitted so far is recorded.
	Flush(ctx context.Context) error
	// Close flushes and releases the sink.
	Close() error
}

// MemorySink keeps events in memory, for tests and small programs.
type MemorySink struct {
	mu     sync.Mutex
	events []Event
}

// Emit appends e.
func (s *MemorySink) Emit(_ context.Context, e Event) error {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	return nil
}

// Flush does nothing: events are recorded as they are emitted.
func (s *MemorySink) Flush(context.Context) error { return nil }

// Close does nothing.
func (s *MemorySink) Close() error { return nil }

// Events returns a copy of the events recorded.
func (s *MemorySink) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// FileSink writes events as JSON lines to a file.
//
// Durability: Emit encodes an event into a buffer of fileSinkBuffer
// bytes, which goes to the file (the kernel) when it fills; Flush and
// Close write what is buffered and fsync the file. So a process that is
// killed loses the events still in its buffer (at most fileSinkBuffer
// bytes, about 30 events) and may leave the file's last line torn, cut
// where the buffer was written; a machine that crashes loses what was
// written since the last Flush. Call Flush where losing events costs
// more than the fsync (BENCHMARKS.md measures both).
//
// A torn last line is the only damage a kill leaves: ScanEvents counts
// it in ScanStats.Torn and skips it, and NewFileSink, finding the file
// ending without a newline, ends the torn line before appending, so that
// it stays one malformed line and the first new event is whole.
type FileSink struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error // the first write error; sticky
	// torn says the file ended with a torn line when it was opened.
	torn bool
}

// fileSinkBuffer is the size of a FileSink's buffer: 4 KiB, one page,
// holds about 30 events of 130 bytes, and is what a killed process can
// lose.
const fileSinkBuffer = 4096

// NewFileSink appends to the file at path, creating it if needed. If the
// file ends with a torn line (its writer was killed mid-write), it ends
// that line first: see FileSink.
func NewFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rollout: file sink: %w", err)
	}
	torn, err := endTornLine(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rollout: file sink: %s: %w", path, err)
	}
	return &FileSink{f: f, w: bufio.NewWriterSize(f, fileSinkBuffer), torn: torn}, nil
}

// endTornLine writes a newline to f if f is not empty and does not end
// with one, and says whether it did.
func endTornLine(f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 || !fi.Mode().IsRegular() {
		return false, err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return false, err
	}
	if last[0] == '\n' {
		return false, nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return false, err
	}
	return true, f.Sync()
}

// Repaired says whether the file ended without a newline when the sink
// opened it (a previous writer was killed mid-write), and the sink ended
// that last line: a torn one stays one malformed line.
func (s *FileSink) Repaired() bool { return s.torn }

// Emit buffers e as one JSON line. After a write error (a full disk)
// every call returns it: events are never silently dropped.
func (s *FileSink) Emit(_ context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("rollout: file sink: encoding event: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		s.err = fmt.Errorf("rollout: file sink: %w", err)
	}
	return s.err
}

// Flush writes buffered events to the file and syncs it.
func (s *FileSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("rollout: file sink: %w", err)
		return s.err
	}
	if err := s.f.Sync(); err != nil {
		s.err = fmt.Errorf("rollout: file sink: %w", err)
	}
	return s.err
}

// Close flushes and closes the file.
func (s *FileSink) Close() error {
	ferr := s.Flush(context.Background())
	cerr := s.f.Close()
	return errors.Join(ferr, cerr)
}

// FullPolicy says what a KafkaSink does when its buffer is full, which
// happens when the brokers cannot keep up or are down.
type FullPolicy int

const (
	// Block waits for room, until the Emit context is done.
	Block FullPolicy = iota
	// Drop drops the event at once and counts it.
	Drop
)

// KafkaSink produces events to a Kafka topic through franz-go, batching
// them, with a bounded buffer: memory never grows without bound, and a
// broker outage never crashes the program. With Block, Emit waits for
// room until its context's deadline; with Drop, an event that does not
// fit is dropped and counted.
type KafkaSink struct {
	cl     *kgo.Client
	policy FullPolicy
	// room holds one token per event that may be in flight: Emit takes
	// one (waiting or not, by policy), delivery or failure gives it back.
	room chan struct{}
	// Counters, for metrics: events delivered, dropped because the
	// buffer was full, and failed (not delivered before the delivery
	// timeout).
	delivered, dropped, failed atomic.Int64
	auth                       KafkaAuth
	watch                      *connWatch
	brokers                    string                // comma-separated, for Err
	lastErr                    atomic.Pointer[error] // the last delivery failure
}

// KafkaOptions configure a KafkaSink.
type KafkaOptions struct {
	Brokers []string
	Topic   string
	// MaxBuffered bounds the events held in memory (default 10,000).
	MaxBuffered int
	Policy      FullPolicy
	// DeliveryTimeout bounds how long an event is retried while the
	// brokers are down (default 30 s); then it counts as failed.
	DeliveryTimeout time.Duration
	// Linger batches events for up to this long (default 5 ms).
	Linger time.Duration
	// Auth secures the connections: TLS and SASL (default plaintext).
	// Events that fail for want of authentication count as failed, and
	// Err says why.
	Auth KafkaAuth
}

// NewKafkaSink returns a sink producing to o.Topic. It does not wait for
// the brokers to be reachable.
func NewKafkaSink(o KafkaOptions) (*KafkaSink, error) {
	if len(o.Brokers) == 0 || o.Topic == "" {
		return nil, errors.New("rollout: kafka sink: brokers and topic are required")
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 10_000
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 30 * time.Second
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
	}
	secure, err := o.Auth.Opts()
	if err != nil {
		return nil, err
	}
	w := &connWatch{}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.WithHooks(w),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.MaxBufferedRecords(o.MaxBuffered + 1), // room already bounds it
		kgo.RecordDeliveryTimeout(o.DeliveryTimeout),
		kgo.ProducerLinger(o.Linger),
	}, secure...)...)
	if err != nil {
		return nil, o.Auth.redact(fmt.Errorf("rollout: kafka sink: %w", err))
	}
	return &KafkaSink{cl: cl, policy: o.Policy, room: make(chan struct{}, o.MaxBuffered), auth: o.Auth, watch: w, brokers: strings.Join(o.Brokers, ",")}, nil
}

// Emit queues e for production, keyed by unit so a unit's events stay in
// order on one partition. With the buffer full, Block waits for room until
// ctx is done and Drop drops e at once; both return an error saying so.
// ctx bounds only that wait: once queued, the event is retried until the
// delivery timeout.
func (s *KafkaSink) Emit(ctx context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("rollout: kafka sink: encoding event: %w", err)
	}
	select {
	case s.room <- struct{}{}:
	default:
		if s.policy == Drop {
			s.dropped.Add(1)
			return errors.New("rollout: kafka sink: buffer full, event dropped")
		}
		select {
		case s.room <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("rollout: kafka sink: buffer full: %w", ctx.Err())
		}
	}
	r := &kgo.Record{Key: []byte(e.Unit), Value: b}
	s.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		<-s.room
		if err != nil {
			s.failed.Add(1)
			s.fail(err)
		} else {
			s.delivered.Add(1)
		}
	})
	return nil
}

// Flush waits until every queued event is delivered or has failed, or
// ctx is done.
func (s *KafkaSink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("rollout: kafka sink: flush: %w", err)
	}
	return nil
}

// Close flushes for up to 10 s and closes the client.
func (s *KafkaSink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Flush(ctx)
	s.cl.Close()
	return err
}

// fail records why an event failed, as Err reports it.
func (s *KafkaSink) fail(err error) {
	err = s.auth.describe(s.watch, "event not delivered to "+s.brokers, err)
	s.lastErr.Store(&err)
}

// Err returns why the last event that failed was not delivered (nil if
// none failed): an *AuthError when a broker refused the credentials,
// otherwise the brokers tried and franz-go's error. It never holds the
// password.
func (s *KafkaSink) Err() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// KafkaStats counts what happened to the events emitted.
type KafkaStats struct {
	Delivered, Dropped, Failed int64
}

// Stats returns the sink's counters.
func (s *KafkaSink) Stats() KafkaStats {
	return KafkaStats{Delivered: s.delivered.Load(), Dropped: s.dropped.Load(), Failed: s.failed.Load()}
}

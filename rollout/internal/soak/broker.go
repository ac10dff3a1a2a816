package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerEnv, when set, makes this binary a kfake broker instead of the
// soak: its value is "port,data dir,partitions,topic" (brokerSpec).
const brokerEnv = "MAPGUARD_SOAK_BROKER"

// brokerStartTimeout bounds a broker's start, reloading its data
// directory included: a few seconds for a 10-minute soak's log.
const brokerStartTimeout = 30 * time.Second

// brokerStopTimeout bounds a broker's graceful stop before it is killed.
const brokerStopTimeout = 15 * time.Second

// brokerSpec is what a broker child is told: where to listen, where its
// log lives across restarts, and the topic to seed.
type brokerSpec struct {
	port       int
	dir        string
	partitions int
	topic      string
}

func (s brokerSpec) String() string {
	return fmt.Sprintf("%d,%s,%d,%s", s.port, s.dir, s.partitions, s.topic)
}

func parseBrokerSpec(v string) (brokerSpec, error) {
	f := strings.Split(v, ",")
	if len(f) != 4 {
		return brokerSpec{}, fmt.Errorf("soak: broker spec %q: want port,dir,partitions,topic", v)
	}
	port, err1 := strconv.Atoi(f[0])
	parts, err2 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return brokerSpec{}, fmt.Errorf("soak: broker spec %q: %w", v, err)
	}
	return brokerSpec{port: port, dir: f[1], partitions: parts, topic: f[3]}, nil
}

// brokerMain runs a kfake broker as spec says, writes "ready" on stdout
// once it listens, and stops it gracefully (its log written to the data
// directory) when stdin closes, which is how the soak stops it and what
// happens when the soak dies, or on SIGTERM. It ignores SIGINT: a Ctrl-C
// in the terminal reaches the whole process group, and the soak, which
// stops it after flushing, decides when.
func brokerMain(spec string, stdin io.Reader, stdout, stderr io.Writer) int {
	signal.Ignore(os.Interrupt)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	s, err := parseBrokerSpec(spec)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	c, err := kfake.NewCluster(kfake.Ports(s.port), kfake.SeedTopics(int32(s.partitions), s.topic), kfake.DataDir(s.dir))
	if err != nil {
		fmt.Fprintf(stderr, "soak: broker on port %d: %v\n", s.port, err)
		return 1
	}
	fmt.Fprintln(stdout, "ready")
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, stdin); close(eof) }()
	select {
	case <-eof:
	case <-term:
	}
	c.Close()
	return 0
}

// broker is the soak's handle on its broker child: started and stopped
// on one port and one data directory, as a restarted broker would be.
type broker struct {
	exe    string // this binary
	spec   brokerSpec
	stderr io.Writer
	// cmd and stdin are the running child's (nil while it is down).
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan error // the child's Wait result
	starts int
	stops  int
}

// addr is the broker's listen address.
func (b *broker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.spec.port) }

// up reports whether the child is running.
func (b *broker) up() bool { return b.cmd != nil }

// start starts the child and waits until it listens, ctx is done, or
// brokerStartTimeout passes.
func (b *broker) start(ctx context.Context) error {
	cmd := exec.Command(b.exe)
	cmd.Env = append(os.Environ(), brokerEnv+"="+b.spec.String())
	cmd.Stderr = b.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("soak: broker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("soak: broker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("soak: starting the broker: %w", err)
	}
	exited := make(chan error, 1)
	b.cmd, b.stdin, b.exited = cmd, stdin, exited
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ready <- sc.Scan() && sc.Text() == "ready"
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t := time.NewTimer(brokerStartTimeout)
	defer t.Stop()
	select {
	case ok := <-ready:
		if ok {
			b.starts++
			return nil
		}
		err = fmt.Errorf("soak: the broker on port %d exited before it listened", b.spec.port)
	case <-t.C:
		err = fmt.Errorf("soak: the broker on port %d did not listen within %v", b.spec.port, brokerStartTimeout)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	b.kill()
	return err
}

// stop stops the child gracefully (closing its stdin), killing it after
// brokerStopTimeout. It does nothing while the broker is down.
func (b *broker) stop() error {
	if b.cmd == nil {
		return nil
	}
	b.stdin.Close()
	t := time.NewTimer(brokerStopTimeout)
	defer t.Stop()
	select {
	case err := <-b.exited:
		b.cmd, b.stdin = nil, nil
		b.stops++
		if err != nil {
			return fmt.Errorf("soak: the broker exited: %w", err)
		}
		return nil
	case <-t.C:
		b.kill()
		return fmt.Errorf("soak: the broker did not stop within %v; killed it", brokerStopTimeout)
	}
}

// kill kills the child and waits for it.
func (b *broker) kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.exited
	b.cmd, b.stdin = nil, nil
}

// records returns how many records the broker's topic holds: the sum of
// its partitions' high watermarks (ListOffsets, latest).
func (b *broker) records(ctx context.Context) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()))
	if err != nil {
		return 0, fmt.Errorf("soak: counting records: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = b.spec.topic
	for p := range b.spec.partitions {
		pt := kmsg.NewListOffsetsRequestTopicPartition()
		pt.Partition = int32(p)
		pt.Timestamp = -1 // the latest offset: the high watermark
		t.Partitions = append(t.Partitions, pt)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("soak: counting records: %w", err)
	}
	var n int64
	seen := 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, fmt.Errorf("soak: counting records of partition %d: %w", rp.Partition, err)
			}
			n += rp.Offset
			seen++
		}
	}
	if seen != b.spec.partitions {
		return 0, fmt.Errorf("soak: counting records: %d partitions answered; want %d", seen, b.spec.partitions)
	}
	return n, nil
}

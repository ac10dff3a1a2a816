package rollout_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mapguard/mapguard/rollout"
)

// TestReadEventsKafkaUnreachable pins the bug where an unreachable broker
// read as an empty topic: ReadEventsKafka returned no events and no
// error. A closed port (connection refused) and a listener that never
// answers (a hung broker) are both errors naming the broker, within the
// Timeout.
func TestReadEventsKafkaUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil { // closed by the test
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()

	const timeout = 500 * time.Millisecond
	for name, addr := range map[string]string{"closed port": closed, "silent listener": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			n := 0
			_, err := rollout.ReadEventsKafka(context.Background(),
				rollout.KafkaReadOptions{Brokers: []string{addr}, Topic: "exposures", Timeout: timeout},
				func(rollout.Event) { n++ })
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), addr) || !strings.HasPrefix(err.Error(), "rollout: ") {
				t.Fatalf("ReadEventsKafka(%s) = %v, %d events; want a rollout error naming the broker", addr, err, n)
			}
			if took > timeout+2*time.Second {
				t.Fatalf("the error came after %v; want it within the %v timeout (plus slack)", took, timeout)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

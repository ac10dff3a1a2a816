package lockset

import "testing"

// TestStartRace runs Start on its own goroutine as nats-server's
// client_test.go and routes_test.go do; that says nothing about the
// program, whose Start still owns s until its first goroutine.
func TestStartRace(t *testing.T) {
	s := &natsServer{users: map[string]*natsUser{}, quit: make(chan struct{})}
	go s.Start()
	close(s.quit)
}

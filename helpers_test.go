package wsserver

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// startServer starts s on 127.0.0.1 with a free port and stops it when the
// test ends. It returns the ws:// URL.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	if err := s.SetLocalHost("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLocalPort(0); err != nil {
		t.Fatal(err)
	}
	if err := s.StartListening(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("connections still running 10s after Shutdown")
		}
	})
	return "ws://127.0.0.1:" + strconv.Itoa(s.LocalPort())
}

// echoServer returns a server that echoes every message.
func echoServer(t *testing.T) (*Server, string) {
	t.Helper()
	s := New()
	if _, err := s.Config("BufferMessage=true"); err != nil {
		t.Fatal(err)
	}
	s.Events.OnDataIn = func(e *DataInEvent) {
		if err := s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB); err != nil {
			t.Errorf("echo: %v", err)
		}
	}
	return s, startServer(t, s)
}

// recorder collects events for assertions.
type recorder struct {
	mu     sync.Mutex
	events []string
	cond   *sync.Cond
}

func newRecorder() *recorder {
	r := &recorder{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.cond.Broadcast()
}

// wait waits until pred holds for the events, up to 10 seconds.
func (r *recorder) wait(t *testing.T, what string, pred func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(10*time.Second, r.cond.Broadcast)
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !pred(r.events) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; events: %q", what, r.events)
		}
		r.cond.Wait()
	}
	return append([]string(nil), r.events...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

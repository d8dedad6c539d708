package wsserver

import (
	"strconv"
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

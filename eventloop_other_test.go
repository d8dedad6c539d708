//go:build !linux

package wsserver

import (
	"errors"
	"testing"
)

// TestEventLoop_NotSupported checks issue 9's portable build: without
// Linux's epoll, EventLoop=True fails with 302 and connections are served
// by goroutines.
func TestEventLoop_NotSupported(t *testing.T) {
	s := New()
	if _, err := s.Config("EventLoop=True"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("EventLoop=True: %v, want ErrNotSupported (302)", err)
	}
	if _, err := s.Config("EventLoop=False"); err != nil {
		t.Fatalf("EventLoop=False: %v", err)
	}
	if _, err := s.Config("BindExclusively=False"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartListening(); !errors.Is(err, ErrNotSupported) {
		s.Shutdown()
		t.Fatalf("StartListening with BindExclusively=False: %v, want ErrNotSupported (302)", err)
	}
}

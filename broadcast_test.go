package wsserver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBroadcast_FramedOnceForAll checks Broadcast against clients with and
// without permessage-deflate: every one receives the same whole message.
func TestBroadcast_FramedOnceForAll(t *testing.T) {
	s := New()
	url := startServer(t, s)
	var conns []*websocket.Conn
	for i, compress := range []bool{false, true, true} {
		d := websocket.Dialer{EnableCompression: compress}
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	waitFor(t, "3 connections", func() bool { return s.ConnectionCount() == 3 })
	msg := strings.Repeat("broadcast to everyone ", 100)
	n, err := s.Broadcast(FormatText, []byte(msg))
	if n != 3 || err != nil {
		t.Fatalf("Broadcast = %d, %v; want 3, nil", n, err)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		typ, got, err := c.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(got) != msg {
			t.Fatalf("client %d: type %d, %d bytes, %v", i, typ, len(got), err)
		}
	}
}

// TestBroadcast_BadInput checks Broadcast's errors: invalid UTF-8 text, an
// unknown ConnectionId (126) and a control format.
func TestBroadcast_BadInput(t *testing.T) {
	s := New()
	startServer(t, s)
	if _, err := s.Broadcast(FormatText, []byte{0xff}); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := s.Broadcast(FormatBinary, []byte("x"), 12345); !errors.Is(err, ErrInvalidConnectionID) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := s.Broadcast(FormatPing, nil); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("ping format: %v", err)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

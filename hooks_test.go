package wsserver

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBroadcastTo checks Broadcast to a list of connections: every open one
// gets the message, a closed one is skipped with ErrNotConnected, and a
// connection of another Server is refused (126).
func TestBroadcastTo(t *testing.T) {
	s := New()
	url := startServer(t, s)
	var clients []*websocket.Conn
	for range 3 {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	waitFor(t, "3 connections", func() bool { return s.ConnectionCount() == 3 })
	conns := s.Connections()
	clients[2].Close()
	waitFor(t, "the third to close", func() bool { return s.ConnectionCount() == 2 })
	n, err := s.BroadcastTo(FormatText, []byte("to the list"), conns)
	if n != 2 || !errors.Is(err, ErrNotConnected) {
		t.Fatalf("BroadcastTo = %d, %v; want 2 and ErrNotConnected for the closed one", n, err)
	}
	for _, c := range clients[:2] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, b, err := c.ReadMessage(); err != nil || string(b) != "to the list" {
			t.Fatalf("got %q, %v", b, err)
		}
	}
	if _, err := New().BroadcastTo(FormatText, []byte("x"), conns[:1]); !errors.Is(err, ErrInvalidConnectionID) {
		t.Fatalf("another Server's connection: %v", err)
	}
	if _, err := s.BroadcastTo(FormatPing, nil, conns); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("ping format: %v", err)
	}
}

// TestAddCloseHook checks that a close hook sees each connection that
// leaves Connections, before Disconnected, and stops after its removal.
func TestAddCloseHook(t *testing.T) {
	s := New()
	var mu sync.Mutex
	var order []string
	s.Events.OnDisconnected = func(e *DisconnectedEvent) {
		mu.Lock()
		order = append(order, "disconnected")
		mu.Unlock()
	}
	remove := s.AddCloseHook(func(id int) {
		mu.Lock()
		order = append(order, "hook")
		mu.Unlock()
	})
	url := startServer(t, s)
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection", func() bool { return s.ConnectionCount() == 1 })
	c.Close()
	waitFor(t, "both calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 2 })
	if order[0] != "hook" || order[1] != "disconnected" {
		t.Fatalf("order = %v, want hook then disconnected", order)
	}
	remove()
	c, _, err = websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second connection", func() bool { return s.ConnectionCount() == 1 })
	c.Close()
	waitFor(t, "its Disconnected", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 3 })
	if order[2] != "disconnected" {
		t.Fatalf("a removed hook ran: %v", order)
	}
}

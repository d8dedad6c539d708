package wsserver

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestInterrupt_BlockingSend checks the reference's Interrupt ("interrupts a
// synchronous send"): a send blocked with Timeout > 0 on a client that reads
// nothing returns ErrInterrupted, the connection stays open, and the message
// still arrives whole once the client reads. On EventLoop the socket is raw:
// the send blocks in its twin's write.
func TestInterrupt_BlockingSend(t *testing.T) {
	for _, loop := range []string{"false", "true"} {
		t.Run("EventLoop="+loop, func(t *testing.T) { interruptBlockingSend(t, loop) })
	}
}

func interruptBlockingSend(t *testing.T, loop string) {
	s := New()
	s.Config("EventLoop=" + loop)
	ids := make(chan int, 1)
	s.Events.OnConnected = func(e *ConnectedEvent) { ids <- e.ConnectionID }
	url := startServer(t, s)
	client, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	id := <-ids
	c, err := s.Connection(id)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(60)
	msg := make([]byte, 64<<20) // far more than the socket buffers hold
	done := make(chan error, 1)
	go func() { done <- s.Send(id, msg) }()
	// Wait until the send is writing (and blocked: the client reads nothing).
	waitFor(t, "the send to block in its write", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendState != nil && c.q.inlineLocked()
	})
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Send returned before the client read anything: %v", err)
	default:
	}
	if err := s.Interrupt(id); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("Send = %v, want ErrInterrupted (10004)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send still blocked 20 s after Interrupt")
	}
	if !c.Connected() {
		t.Fatal("Interrupt disconnected the client")
	}
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, got, err := client.ReadMessage()
	if err != nil || len(got) != len(msg) {
		t.Fatalf("client got %d bytes, %v; want the whole %d-byte message", len(got), err, len(msg))
	}
}

package wsserver

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsserver/wsserver/internal/wiretest"
)

// Issue 12: BroadcastToFunc frames the message once like BroadcastTo and
// names each connection that did not take it, with its error, so that a
// caller can keep the message for that connection alone: here one in the
// middle of a streamed message (ErrWouldBlock, then ReadyToSend) and one
// closed (ErrNotConnected). The callback may send to the refused connection.
func TestBroadcastToFunc_NamesEachRefusal(t *testing.T) {
	for _, loop := range []string{"False", "True"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			ready := make(chan int, 10)
			h := newHarness(t, func(s *Server) {
				s.Config("EventLoop=" + loop)
				s.Events.OnReadyToSend = func(e *ReadyToSendEvent) {
					select {
					case ready <- e.ConnectionID:
					default:
					}
				}
			})
			var clients []*websocket.Conn
			var ids []int
			for range 3 {
				c, id := h.dial(t, "", nil)
				clients, ids = append(clients, c), append(ids, id)
			}
			drain := func() {
				for len(ready) > 0 {
					<-ready
				}
			}
			conns := []*Connection{h.conn(t, ids[0]), h.conn(t, ids[1]), h.conn(t, ids[2])}
			busy, err := h.s.MessageWriter(ids[1], FormatBinary) // a message in the middle of its frames
			if err != nil {
				t.Fatal(err)
			}
			// The writer's stream starts on a goroutine: once a write has
			// returned, the stream has read it, so the message is open.
			if _, err := busy.Write([]byte("streamed")); err != nil {
				t.Fatal(err)
			}
			clients[2].Close()
			wiretest.WaitUntil(t, "the third to close", func() bool { return h.s.ConnectionCount() == 2 })
			drain()

			refusals := map[int]error{}
			n, err := h.s.BroadcastToFunc(FormatText, []byte("to the list"), conns, func(c *Connection, err error) {
				refusals[c.ID()] = err
			})
			if n != 1 || err != nil {
				t.Fatalf("BroadcastToFunc = %d, %v (refusals %v); want 1, nil", n, err, refusals)
			}
			if len(refusals) != 2 || !errors.Is(refusals[ids[1]], ErrWouldBlock) || !errors.Is(refusals[ids[2]], ErrNotConnected) {
				t.Fatalf("refusals %v; want ErrWouldBlock for %d and ErrNotConnected for %d", refusals, ids[1], ids[2])
			}
			if _, msg := readMessage(t, clients[0]); string(msg) != "to the list" {
				t.Fatalf("client 0 got %q", msg)
			}
			// The refused connection gets ReadyToSend once its message is
			// whole, and the caller's copy then.
			busy.Close()
			select {
			case id := <-ready:
				if id != ids[1] {
					t.Fatalf("ReadyToSend for %d, want %d", id, ids[1])
				}
			case <-time.After(waitLimit):
				t.Fatal("no ReadyToSend for the refused connection")
			}
			if err := h.s.SendMessage(ids[1], FormatText, []byte("to the list")); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"streamed", "to the list"} {
				if _, msg := readMessage(t, clients[1]); string(msg) != want {
					t.Fatalf("client 1 got %q, want %q", msg, want)
				}
			}
			if _, err := h.s.BroadcastToFunc(FormatPing, nil, conns, func(*Connection, error) {}); !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("ping format: %v", err)
			}
			if _, err := New().BroadcastToFunc(FormatText, []byte("x"), conns[:1], func(*Connection, error) {}); !errors.Is(err, ErrInvalidConnectionID) {
				t.Fatalf("another Server's connection: %v", err)
			}
		})
	}
}

package wsserver

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of event handlers that panic: the panic is caught and reported
// through the Error event with code 1011, the connection it happened on is
// closed with 1011 (internal error), and other connections go on.

func TestPanic_DataInHandler_Error1011AndClose1011(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		// After failing a connection the server waits for the client to
		// close the socket, which gorilla leaves to the server.
		s.Config("CloseTimeout=0.3")
		s.Config("BufferMessage=true")
		s.Events.OnDataIn = func(e *DataInEvent) {
			if e.Text() == "boom" {
				panic("handler bug")
			}
			s.SendText(e.ConnectionID, "echo "+e.Text())
		}
		s.Events.OnError = func(e *ErrorEvent) {
			ev.Add("Error %d %d %v", e.ConnectionID, e.ErrorCode, strings.Contains(e.Description, "handler bug"))
		}
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	victim, vid := h.dial(t, "/", nil)
	other, _ := h.dial(t, "/", nil)

	victim.WriteMessage(websocket.TextMessage, []byte("boom"))
	if code, _ := readClose(t, victim); code != 1011 {
		t.Fatalf("the panicking connection closed with %d, want 1011", code)
	}
	ev.WaitFor(t, fmt.Sprintf("Error %d 1011 true", vid))
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 1011", vid))

	// Other connections are unaffected, and new ones are accepted.
	other.WriteMessage(websocket.TextMessage, []byte("still fine"))
	if _, p := readMessage(t, other); string(p) != "echo still fine" {
		t.Fatalf("other connection got %q", p)
	}
	late, _ := h.dial(t, "/", nil)
	late.WriteMessage(websocket.TextMessage, []byte("late"))
	if _, p := readMessage(t, late); string(p) != "echo late" {
		t.Fatalf("new connection got %q", p)
	}
}

func TestPanic_EveryConnectionEvent(t *testing.T) {
	for _, name := range []string{"Connected", "ReadyToSend", "Ping"} {
		t.Run(name, func(t *testing.T) {
			ev := wiretest.NewRecorder()
			h := newHarness(t, func(s *Server) {
				boom := func() { panic(name + " bug") }
				switch name {
				case "Connected":
					s.Events.OnConnected = func(*ConnectedEvent) { boom() }
				case "ReadyToSend":
					s.Events.OnReadyToSend = func(*ReadyToSendEvent) { boom() }
				case "Ping":
					s.Events.OnPing = func(*PingEvent) { boom() }
				}
				s.Events.OnError = func(e *ErrorEvent) { ev.Add("Error %d", e.ErrorCode) }
			})
			d := websocket.Dialer{HandshakeTimeout: waitLimit}
			conn, _, err := d.Dial(h.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if name == "Ping" {
				conn.WriteMessage(websocket.PingMessage, []byte("x"))
			}
			if code, _ := readClose(t, conn); code != 1011 {
				t.Fatalf("close code %d, want 1011", code)
			}
			ev.WaitFor(t, "Error 1011")
		})
	}
}

func TestPanic_HandshakeEvents(t *testing.T) {
	ev := wiretest.NewRecorder()
	var panicRequest atomic.Bool
	h := newHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) {
			if panicRequest.Load() {
				panic("ConnectionRequest bug")
			}
		}
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
			if e.RequestURI == "/panic" {
				panic("WebSocketOpenRequest bug")
			}
		}
		s.Events.OnError = func(e *ErrorEvent) { ev.Add("Error %d %s", e.ErrorCode, e.Description) }
	})
	// A panic in WebSocketOpenRequest answers 500.
	if rc := rawDial(t, h.addr, wiretest.Options{Path: "/panic"}); rc.Resp.StatusCode != 500 {
		t.Fatalf("a WebSocketOpenRequest panic answered %d, want 500", rc.Resp.StatusCode)
	}
	ev.WaitPrefix(t, "Error 1011 [1011] WebSocketOpenRequest event handler panicked")
	// A panic in ConnectionRequest refuses the connection.
	panicRequest.Store(true)
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	if conn, _, err := d.Dial(h.url, nil); err == nil {
		conn.Close()
		t.Fatal("a client was accepted although ConnectionRequest panicked")
	}
	ev.WaitPrefix(t, "Error 1011 [1011] ConnectionRequest event handler panicked")
	// The server goes on.
	panicRequest.Store(false)
	h.dial(t, "/", nil)
}

func TestPanic_DisconnectedAndErrorHandlers(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d", e.ConnectionID)
			panic("Disconnected bug")
		}
		s.Events.OnError = func(e *ErrorEvent) {
			ev.Add("Error %d", e.ErrorCode)
			panic("Error bug") // must not loop or bring the server down
		}
	})
	conn, id := h.dial(t, "/", nil)
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id))
	ev.WaitFor(t, "Error 1011")
	// The server still works.
	conn2, id2 := h.dial(t, "/", nil)
	h.s.SendText(id2, "ok")
	if _, p := readMessage(t, conn2); string(p) != "ok" {
		t.Fatalf("client got %q", p)
	}
	if n := ev.Count("Error 1011"); n != 1 {
		t.Fatalf("Error fired %d times; a panicking Error handler must not be called for its own panic", n)
	}
}

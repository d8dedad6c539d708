package wsserver

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of DoEvents and of where event handlers run (SetEventDispatch).

// goid returns the ID of the calling goroutine.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	id, _ := strconv.ParseUint(strings.Fields(string(buf[:n]))[1], 10, 64)
	return id
}

// doEventsLoop calls DoEvents in a loop on a goroutine of its own until the
// test ends, after the server's shutdown (cleanups run last-in first-out:
// call it before startServer). It returns the loop's goroutine ID.
func doEventsLoop(t *testing.T, s *Server) uint64 {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	id := make(chan uint64, 1)
	go func() {
		defer close(done)
		id <- goid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.DoEvents()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return <-id
}

func TestDoEvents_DispatchQueued_EventsRunInDoEvents(t *testing.T) {
	checkGoroutines(t)
	ev := wiretest.NewRecorder()
	s := New()
	if s.EventDispatch() != DispatchInline {
		t.Fatal("EventDispatch default is not DispatchInline")
	}
	s.SetEventDispatch(DispatchQueued)
	if s.EventDispatch() != DispatchQueued {
		t.Fatal("EventDispatch does not read back DispatchQueued")
	}
	var loop atomic.Uint64
	record := func(name string) {
		if g := goid(); g != loop.Load() {
			ev.Add("%s outside DoEvents (goroutine %d)", name, g)
			return
		}
		ev.Add("%s", name)
	}
	s.Events.OnConnectionRequest = func(*ConnectionRequestEvent) { record("ConnectionRequest") }
	s.Events.OnWebSocketOpenRequest = func(*WebSocketOpenRequestEvent) { record("WebSocketOpenRequest") }
	s.Events.OnConnected = func(*ConnectedEvent) { record("Connected") }
	s.Events.OnReadyToSend = func(*ReadyToSendEvent) { record("ReadyToSend") }
	s.Events.OnPing = func(*PingEvent) { record("Ping") }
	s.Events.OnDataIn = func(e *DataInEvent) {
		record("DataIn " + e.Text())
		s.SendText(e.ConnectionID, "echo "+e.Text())
	}
	s.Events.OnDisconnected = func(e *DisconnectedEvent) { record(fmt.Sprintf("Disconnected %d", e.StatusCode)) }
	loop.Store(doEventsLoop(t, s))
	url := startServer(t, s)

	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.PingMessage, []byte("p"))
	conn.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, p := readMessage(t, conn); string(p) != "echo hi" {
		t.Fatalf("client got %q", p)
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	got := ev.WaitFor(t, "Disconnected 1000")
	want := []string{"ConnectionRequest", "WebSocketOpenRequest", "Connected", "ReadyToSend", "Ping", "DataIn hi", "Disconnected 1000"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q, all on the DoEvents goroutine", got, want)
	}
}

func TestDoEvents_DispatchQueued_ConnectionWaitsForItsEvent(t *testing.T) {
	// The connection waits while its WebSocketOpenRequest is queued, so the
	// StatusCode the handler sets in DoEvents still decides the handshake.
	checkGoroutines(t)
	s := New()
	s.SetEventDispatch(DispatchQueued)
	var ran atomic.Bool
	s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
		ran.Store(true)
		e.StatusCode = 401
	}
	url := startServer(t, s)
	// No DoEvents yet: the handshake cannot finish.
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		d := websocket.Dialer{HandshakeTimeout: waitLimit}
		conn, resp, err := d.Dial(url, nil)
		if conn != nil {
			conn.Close()
		}
		r := result{err: err}
		if resp != nil {
			r.status = resp.StatusCode
		}
		done <- r
	}()
	select {
	case r := <-done:
		t.Fatalf("the handshake ended (%d, %v) before DoEvents ran its event", r.status, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if ran.Load() {
		t.Fatal("WebSocketOpenRequest ran without DoEvents")
	}
	deadline := time.Now().Add(waitLimit)
	for !ran.Load() && time.Now().Before(deadline) {
		s.DoEvents()
	}
	if r := wiretest.Receive(t, done, "the handshake"); r.status != 401 {
		t.Fatalf("handshake: %d %v, want the 401 set in DoEvents", r.status, r.err)
	}
}

func TestDoEvents_ReturnsWhenIdle(t *testing.T) {
	// Reference: "If no events are available, it waits for a preset period
	// of time, and then returns."
	for _, d := range []EventDispatch{DispatchInline, DispatchQueued} {
		s := New()
		s.SetEventDispatch(d)
		done := make(chan struct{})
		go func() {
			s.DoEvents()
			close(done)
		}()
		wiretest.Receive(t, done, "DoEvents to return")
	}
}

func TestEvents_DispatchInline_SerializedPerConnection(t *testing.T) {
	// By default a connection's handlers run one at a time, in order, on a
	// goroutine that is not the test's.
	var running, overlap atomic.Int32
	var order []string
	done := make(chan struct{})
	test := goid()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) {
			if running.Add(1) > 1 {
				overlap.Add(1)
			}
			if goid() == test {
				overlap.Add(100)
			}
			order = append(order, e.Text())
			time.Sleep(time.Millisecond)
			running.Add(-1)
			if e.Text() == "m19" {
				close(done)
			}
		}
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	for i := range 20 {
		rc.Write(t, true, opText, []byte("m"+strconv.Itoa(i)))
		if i%5 == 0 {
			h.s.Ping(id) // pongs and sends from this goroutine meanwhile
		}
	}
	wiretest.Receive(t, done, "the last DataIn")
	if overlap.Load() != 0 {
		t.Fatalf("handlers overlapped or ran on the caller's goroutine (%d)", overlap.Load())
	}
	for i, s := range order {
		if s != "m"+strconv.Itoa(i) {
			t.Fatalf("DataIn order %q", order)
		}
	}
}

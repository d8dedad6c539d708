package wsserver

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of sending to a client slower than the server: Timeout 0 (the
// reference's asynchronous mode, ErrWouldBlock and the ReadyToSend event)
// and Timeout > 0 (blocking sends and ErrTimedOut).

// slowHarness starts a server whose connections queue little (OutBufferSize
// 16 KiB, which is also the socket's send buffer) and opens a client with a
// small receive buffer that does not read until the test says so.
func slowHarness(t *testing.T, setup func(*Server)) (*harness, *websocket.Conn, int) {
	t.Helper()
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("OutBufferSize=16384"); err != nil {
			t.Fatal(err)
		}
		s.Config("CloseTimeout=0.5")
		if setup != nil {
			setup(s)
		}
	})
	conn, id := h.dialSmall(t)
	return h, conn, id
}

// fillQueue fills the connection's queue for good while the client does not
// read: the first send is taken whatever its size, and one of 4 MiB cannot
// fit in the socket buffers, so most of it stays queued. It returns the
// message sent.
func fillQueue(t *testing.T, h *harness, id int) []byte {
	t.Helper()
	c := h.conn(t, id)
	msg := make([]byte, 4<<20)
	if err := h.s.Send(id, msg); err != nil {
		t.Fatalf("first send: %v", err)
	}
	if got := c.BytesSent(); got != len(msg) {
		t.Fatalf("BytesSent after an accepted send of %d bytes = %d", len(msg), got)
	}
	return msg
}

func TestSend_TimeoutZero_WouldBlock10035(t *testing.T) {
	ev := wiretest.NewRecorder()
	h, conn, id := slowHarness(t, func(s *Server) {
		s.Events.OnReadyToSend = func(e *ReadyToSendEvent) { ev.Add("ReadyToSend %d", e.ConnectionID) }
	})
	ready := "ReadyToSend " + strconv.Itoa(id)
	ev.WaitFor(t, ready) // the one right after connecting
	c := h.conn(t, id)
	if c.Timeout() != 0 {
		t.Fatalf("Timeout %d, want 0 (asynchronous)", c.Timeout())
	}

	first := fillQueue(t, h, id)
	// Reference: "the operation raises the exception with errorcode 10035
	// ... The BytesSent property shows how many bytes were sent".
	wantCode(t, "Send to a full queue", h.s.Send(id, []byte("small")), ErrWouldBlock)
	if got := c.BytesSent(); got != 0 {
		t.Fatalf("BytesSent after ErrWouldBlock = %d, want 0", got)
	}
	// WSConnection.ReadyToSend: "This is True after a client connects but
	// will become False after a failed DataToSend."
	if c.ReadyToSend() {
		t.Fatal("ReadyToSend property is true after ErrWouldBlock")
	}
	// Every way of sending data fails alike while the queue is full.
	big := []byte("data")
	c.SetDataFormat(FormatBinary)
	for name, send := range map[string]func() error{
		"SendBytes":      func() error { return h.s.SendBytes(id, big) },
		"SendText":       func() error { return h.s.SendText(id, string(big)) },
		"SendMessage":    func() error { return h.s.SendMessage(id, FormatBinary, big) },
		"SetDataToSend":  func() error { return c.SetDataToSend(string(big)) },
		"SetDataToSendB": func() error { return c.SetDataToSendB(big) },
	} {
		wantCode(t, name+" to a full queue", send(), ErrWouldBlock)
	}
	if n := ev.Count(ready); n != 1 {
		t.Fatalf("ReadyToSend fired %d times before the queue drained", n)
	}

	// The client reads: everything accepted arrives, in order, and
	// ReadyToSend fires once the queue has drained.
	if _, p := readMessage(t, conn); !bytes.Equal(p, first) {
		t.Fatalf("client got %d bytes, want the %d accepted", len(p), len(first))
	}
	ev.WaitMatch(t, "the second ReadyToSend", func(string) bool { return ev.Count(ready) == 2 })
	if !c.ReadyToSend() {
		t.Fatal("ReadyToSend property is false after the ReadyToSend event")
	}
	if err := h.s.SendText(id, "after"); err != nil {
		t.Fatalf("send after ReadyToSend: %v", err)
	}
	if _, p := readMessage(t, conn); string(p) != "after" {
		t.Fatalf("client got %q", p)
	}
}

func TestReadyToSend_NotFiredWhenSendsSucceed(t *testing.T) {
	// Reference: ReadyToSend fires "after a failed DataToSend" (and on
	// connect), not after sends that succeed.
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnReadyToSend = func(e *ReadyToSendEvent) { ev.Add("ReadyToSend %d", e.ConnectionID) }
	})
	conn, id := h.dial(t, "/", nil)
	ready := "ReadyToSend " + strconv.Itoa(id)
	ev.WaitFor(t, ready) // the connect's, fired after Connected on the server's goroutine
	for i := range 50 {
		if err := h.s.SendText(id, "m"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		readMessage(t, conn)
	}
	// Every send succeeded, so none left the connection waiting for a
	// ReadyToSend: the only one is still the connect's.
	if n := ev.Count(ready); n != 1 {
		t.Fatalf("ReadyToSend fired %d times; want once, on connect", n)
	}
}

func TestSend_TimeoutPositive_BlocksUntilWritten(t *testing.T) {
	h, conn, id := slowHarness(t, nil)
	c := h.conn(t, id)
	if err := c.SetTimeout(10); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		_, p, err := conn.ReadMessage()
		if err != nil {
			p = []byte(err.Error())
		}
		got <- p
	}()
	// Far more than the queue holds: the send waits while the client reads.
	if err := h.s.Send(id, big); err != nil {
		t.Fatalf("blocking Send of 4 MiB: %v", err)
	}
	if n := c.BytesSent(); n != 0 {
		t.Fatalf("BytesSent in blocking mode = %d, want 0", n)
	}
	if p := wiretest.Receive(t, got, "the 4 MiB message"); !bytes.Equal(p, big) {
		t.Fatalf("client got %d bytes, want the 4 MiB sent", len(p))
	}
}

func TestSend_TimeoutPositive_TimesOut10060(t *testing.T) {
	h, _, id := slowHarness(t, func(s *Server) {
		if err := s.SetDefaultTimeout(1); err != nil {
			t.Fatal(err)
		}
	})
	if got := h.conn(t, id).Timeout(); got != 1 {
		t.Fatalf("Timeout %d, want DefaultTimeout 1", got)
	}
	// The client never reads.
	done := make(chan error, 1)
	go func() { done <- h.s.Send(id, make([]byte, 8<<20)) }()
	select {
	case err := <-done:
		wantCode(t, "blocking Send to a client that never reads", err, ErrTimedOut)
	case <-time.After(waitLimit):
		// Unblock the send so that the test can end.
		h.conn(t, id).abort()
		<-done
		t.Fatal("a blocking Send with Timeout 1 made no progress for 10 s and did not time out")
	}
}

func TestSend_TimeoutPositive_WaitingForRoomTimesOut10060(t *testing.T) {
	// Another send holds the queue: this one waits for room, and gives up
	// after Timeout seconds without progress.
	h, _, id := slowHarness(t, nil)
	c := h.conn(t, id)
	fillQueue(t, h, id) // asynchronously
	c.SetTimeout(1)
	done := make(chan error, 1)
	go func() { done <- h.s.Send(id, make([]byte, 16<<10)) }()
	select {
	case err := <-done:
		wantCode(t, "blocking Send to a full queue", err, ErrTimedOut)
	case <-time.After(waitLimit):
		c.abort()
		<-done
		t.Fatal("a blocking Send waiting for room did not time out")
	}
}

func TestSend_TimeoutPositive_IsAnInactivityTimeout(t *testing.T) {
	// Reference, Timeout: "all timeouts are inactivity timeouts, i.e. the
	// timeout period is extended by Timeout seconds when any amount of data
	// is successfully sent or received." A send that waits for room while
	// the queue drains slowly but steadily must not time out.
	h := newHarness(t, func(s *Server) {
		s.Config("OutBufferSize=16384")
		s.Config("CloseTimeout=0.5")
	})
	rc, id := h.rawOpen(t, wiretest.Options{Control: smallRcvBuf})
	c := h.conn(t, id)
	c.SetTimeout(2)
	first := make(chan error, 1)
	go func() { first <- h.s.Send(id, make([]byte, 2<<20)) }() // holds the queue
	wiretest.WaitUntil(t, "the first send to be queued", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendState != nil && c.q.queued > 0
	})
	second := make(chan error, 1)
	go func() { second <- h.s.Send(id, []byte("second")) }() // waits for room
	// The client reads steadily, 2 MiB in about 3 s: longer than Timeout,
	// with progress every 100 ms.
	buf := make([]byte, 64<<10)
	for total := 0; total < 2<<20; total += len(buf) {
		time.Sleep(100 * time.Millisecond)
		rc.NC.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := io.ReadFull(rc.BR, buf); err != nil {
			t.Fatalf("read after %d bytes: %v", total, err)
		}
	}
	if err := wiretest.Receive(t, first, "the first send"); err != nil {
		t.Fatalf("first send: %v", err)
	}
	if err := wiretest.Receive(t, second, "the second send"); err != nil {
		t.Fatalf("a send waiting for room while data flowed for longer than Timeout: %v", err)
	}
}

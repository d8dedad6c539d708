package wsserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/protocol"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of the reference's methods. ChangeLineMode is in linemode_test.go,
// SendFile and Interrupt in sendfile_test.go, DoEvents in dispatch_test.go,
// Config in config_test.go.

func TestStartListening_Twice104(t *testing.T) {
	h := newHarness(t, nil)
	wantCode(t, "second StartListening", h.s.StartListening(), ErrAlreadyListening)
	// The first listener is unharmed.
	h.dial(t, "/", nil)
}

func TestStopListening_KeepsConnections(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Config("BufferMessage=true")
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendText(e.ConnectionID, "echo "+e.Text()) }
	})
	conn, id := h.dial(t, "/", nil)
	if err := h.s.StopListening(); err != nil {
		t.Fatal(err)
	}
	if h.s.Listening() {
		t.Fatal("Listening after StopListening")
	}
	// Reference: "any new connection attempts will be rejected".
	if nc, err := net.DialTimeout("tcp", h.addr, waitLimit); err == nil {
		nc.Close()
		t.Fatal("a new client could connect after StopListening")
	}
	// Reference: "Calling this method does not disconnect existing connections."
	if !h.conn(t, id).Connected() {
		t.Fatal("connection closed by StopListening")
	}
	conn.WriteMessage(websocket.TextMessage, []byte("still here"))
	if _, p := readMessage(t, conn); string(p) != "echo still here" {
		t.Fatalf("client got %q", p)
	}
	if err := h.s.StopListening(); err != nil {
		t.Fatalf("StopListening when not listening: %v", err)
	}
}

func TestShutdown_ClosesAllConnections(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d", e.ConnectionID) }
	})
	var conns []*websocket.Conn
	var ids []int
	for range 3 {
		c, id := h.dial(t, "/", nil)
		conns, ids = append(conns, c), append(ids, id)
	}
	if err := h.s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if h.s.Listening() {
		t.Fatal("Listening after Shutdown")
	}
	for i, conn := range conns {
		// Reference: Shutdown is "StopListening and then ... Disconnect",
		// which sends DisconnectStatusCode, 1000 by default.
		code, reason := readClose(t, conn)
		if code != 1000 || reason != protocol.DefaultCloseReason(1000) {
			t.Fatalf("client %d got close %d %q, want 1000 %q", i, code, reason, protocol.DefaultCloseReason(1000))
		}
	}
	for _, id := range ids {
		ev.WaitFor(t, "Disconnected "+strconv.Itoa(id))
	}
	wiretest.WaitUntil(t, "Connections to empty", func() bool { return h.s.ConnectionCount() == 0 })
}

func TestShutdown_UsesDisconnectStatusCode(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("DisconnectStatusCode=1001"); err != nil {
			t.Fatal(err)
		}
	})
	conn, _ := h.dial(t, "/", nil)
	h.s.Shutdown()
	if code, reason := readClose(t, conn); code != 1001 || reason != "Going away" {
		t.Fatalf("client got close %d %q, want 1001 \"Going away\"", code, reason)
	}
}

func TestShutdownContext_WaitsForEveryConnection(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	var ids []int
	done := make(chan struct{})
	for range 3 {
		conn, id := h.dial(t, "/", nil)
		ids = append(ids, id)
		go func() { // gorilla answers the close frame while it reads
			defer func() { done <- struct{}{} }()
			conn.SetReadDeadline(time.Now().Add(waitLimit))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.s.ShutdownContext(ctx); err != nil {
		t.Fatalf("ShutdownContext: %v", err)
	}
	// When it returns, every connection has ended and fired Disconnected.
	if n := h.s.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections left after ShutdownContext", n)
	}
	for _, id := range ids {
		if ev.Count("Disconnected "+strconv.Itoa(id)+" 1000") != 1 {
			t.Fatalf("Disconnected for %d not fired before ShutdownContext returned: %q", id, ev.Snapshot())
		}
	}
	for range ids {
		wiretest.Receive(t, done, "the client to see the close")
	}
}

func TestShutdownContext_DeadlineCutsConnections(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("CloseTimeout=60") // the close handshake alone would take a minute
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d", e.ConnectionID) }
	})
	_, id := h.rawOpen(t, wiretest.Options{}) // never answers the close frame
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := h.s.ShutdownContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ShutdownContext = %v, want context.DeadlineExceeded", err)
	}
	if n := h.s.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections left after ShutdownContext", n)
	}
	if ev.Count("Disconnected "+strconv.Itoa(id)) != 1 {
		t.Fatalf("Disconnected not fired before ShutdownContext returned: %q", ev.Snapshot())
	}
}

func TestInvalidConnectionID126_EveryMethod(t *testing.T) {
	h := newHarness(t, nil)
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("x"), 0o600)
	conn, closed := h.dial(t, "/", nil)
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	wiretest.WaitUntil(t, "the closed connection to leave", func() bool { return h.s.ConnectionCount() == 0 })

	for _, id := range []int{0, -1, 999999, closed} {
		calls := map[string]func() error{
			"Connection":         func() error { _, err := h.s.Connection(id); return err },
			"ChangeLineMode":     func() error { return h.s.ChangeLineMode(id, true) },
			"Disconnect":         func() error { return h.s.Disconnect(id) },
			"DisconnectWithCode": func() error { return h.s.DisconnectWithCode(id, 1000, "") },
			"Interrupt":          func() error { return h.s.Interrupt(id) },
			"Ping":               func() error { return h.s.Ping(id) },
			"Send":               func() error { return h.s.Send(id, []byte("x")) },
			"SendBytes":          func() error { return h.s.SendBytes(id, []byte("x")) },
			"SendText":           func() error { return h.s.SendText(id, "x") },
			"SendMessage":        func() error { return h.s.SendMessage(id, FormatText, []byte("x")) },
			"SendFile":           func() error { return h.s.SendFile(id, file) },
			"SendStream":         func() error { return h.s.SendStream(id, strings.NewReader("x"), FormatBinary) },
			"Config MaxLineLength[id]": func() error {
				_, err := h.s.Config("MaxLineLength[" + strconv.Itoa(id) + "]")
				return err
			},
			"Config MaxLineLength[id]=": func() error {
				_, err := h.s.Config("MaxLineLength[" + strconv.Itoa(id) + "]=10")
				return err
			},
			"Config MessageLength[id]=": func() error {
				_, err := h.s.Config("MessageLength[" + strconv.Itoa(id) + "]=10")
				return err
			},
			"Config SSLNegotiatedVersion[id]": func() error {
				_, err := h.s.Config("SSLNegotiatedVersion[" + strconv.Itoa(id) + "]")
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if !errors.Is(err, ErrInvalidConnectionID) || wsErrCode(err) != 126 {
				t.Errorf("%s(%d) = %v, want 126", name, id, err)
			}
		}
	}
}

func TestDisconnect_DefaultStatusCode1000(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	conn, id := h.dial(t, "/", nil)
	if err := h.s.Disconnect(id); err != nil {
		t.Fatal(err)
	}
	if code, reason := readClose(t, conn); code != 1000 || reason != "Normal closure" {
		t.Fatalf("client got close %d %q, want 1000 \"Normal closure\"", code, reason)
	}
	// gorilla echoes the code: the connection ends with 1000.
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id)+" 1000")
}

func TestDisconnect_DisconnectStatusCodeAndDescription(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		for _, c := range []string{"DisconnectStatusCode=4001", "DisconnectStatusDescription=custom reason"} {
			if _, err := s.Config(c); err != nil {
				t.Fatal(err)
			}
		}
	})
	conn, id := h.dial(t, "/", nil)
	h.s.Disconnect(id)
	if code, reason := readClose(t, conn); code != 4001 || reason != "custom reason" {
		t.Fatalf("client got close %d %q, want 4001 \"custom reason\"", code, reason)
	}
}

func TestDisconnect_DefaultDescriptionForStandardCodes(t *testing.T) {
	// Reference: "For any of the standard codes listed in DisconnectStatusCode
	// the component will use a default description that may be overridden
	// with this setting. For any non-standard codes that are not listed, this
	// setting should be set or no description will be sent."
	h := newHarness(t, nil)
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 4000} {
		if _, err := h.s.Config("DisconnectStatusCode=" + strconv.Itoa(code)); err != nil {
			t.Fatal(err)
		}
		want, _ := h.s.Config("DisconnectStatusDescription")
		if (want == "") != (code == 4000) {
			t.Fatalf("DisconnectStatusDescription for %d reads %q", code, want)
		}
		conn, id := h.dial(t, "/", nil)
		h.s.Disconnect(id)
		if got, reason := readClose(t, conn); got != code || reason != want {
			t.Fatalf("client got close %d %q, want %d %q", got, reason, code, want)
		}
	}
	// A description set overrides the default of a standard code.
	h.s.Config("DisconnectStatusCode=1001")
	h.s.Config("DisconnectStatusDescription=moving")
	conn, id := h.dial(t, "/", nil)
	h.s.Disconnect(id)
	if code, reason := readClose(t, conn); code != 1001 || reason != "moving" {
		t.Fatalf("client got close %d %q, want 1001 \"moving\"", code, reason)
	}
}

func TestDisconnectWithCode(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	for _, bad := range []int{999, 1005, 1006, 1015, 2999, 5000} {
		wantCode(t, "DisconnectWithCode("+strconv.Itoa(bad)+")", h.s.DisconnectWithCode(id, bad, ""), ErrInvalidValue)
	}
	if err := h.s.DisconnectWithCode(id, 4321, "explicit"); err != nil {
		t.Fatal(err)
	}
	if code, reason := readClose(t, conn); code != 4321 || reason != "explicit" {
		t.Fatalf("client got close %d %q", code, reason)
	}
}

func TestWaitForCloseResponse_TrueWaitsForTheClientsClose(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("CloseTimeout=60")
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d %d %s", e.ConnectionID, e.StatusCode, e.Description)
		}
	})
	if v, _ := h.s.Config("WaitForCloseResponse"); v != "True" {
		t.Fatalf("WaitForCloseResponse default = %q, want True", v)
	}
	rc, id := h.rawOpen(t, wiretest.Options{})
	h.s.Disconnect(id)
	if code, _ := rc.CloseFrame(t); code != 1000 {
		t.Fatalf("close code %d", code)
	}
	// The server is still reading: it gets the client's close, whose code
	// the connection ends with.
	rc.Write(t, true, opClose, wiretest.ClosePayload(4002, "reply"))
	rc.ReadEOF(t)
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id)+" 4002 reply")
}

func TestWaitForCloseResponse_TrueClosesAfterCloseTimeout(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("CloseTimeout=0.3")
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d %d %s", e.ConnectionID, e.StatusCode, e.Description)
		}
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	h.s.DisconnectWithCode(id, 4003, "no reply")
	rc.CloseFrame(t)
	rc.ReadEOF(t) // the client never answers; the server gives up
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id)+" 4003 no reply")
}

func TestWaitForCloseResponse_FalseClosesAtOnce(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("CloseTimeout=60") // waiting for a reply would outlast readEOF
		if _, err := s.Config("WaitForCloseResponse=false"); err != nil {
			t.Fatal(err)
		}
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	h.s.Disconnect(id)
	if code, _ := rc.CloseFrame(t); code != 1000 {
		t.Fatalf("close code %d", code)
	}
	// Reference: "the component will forcibly close the connection without
	// waiting for a response from the client".
	rc.ReadEOF(t)
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id)+" 1000")
}

func TestPing_TimeoutPositiveWaitsForPong(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnPing = func(e *PingEvent) { ev.Add("Ping response=%v", e.Response) }
	})
	conn, id := h.dial(t, "/", nil)
	readerDone := make(chan struct{})
	go func() { // gorilla answers pings while it reads
		defer close(readerDone)
		conn.SetReadDeadline(time.Now().Add(waitLimit))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	h.conn(t, id).SetTimeout(5)
	if err := h.s.Ping(id); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ev.WaitFor(t, "Ping response=true")
	conn.Close()
	<-readerDone
}

func TestPing_TimeoutPositiveNoPong10060(t *testing.T) {
	h := newHarness(t, nil)
	_, id := h.rawOpen(t, wiretest.Options{}) // never answers
	h.conn(t, id).SetTimeout(1)
	err := h.s.Ping(id)
	wantCode(t, "Ping without a pong", err, ErrTimedOut)
}

func TestPing_TimeoutZeroReturnsAtOnce(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnPing = func(e *PingEvent) { ev.Add("Ping %s response=%v", e.Payload(), e.Response) }
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	// Nobody answers yet, and Timeout 0 does not wait.
	if err := h.s.Ping(id); err != nil {
		t.Fatal(err)
	}
	f := rc.Frame(t)
	if f.Op != opPing || !f.Fin || f.Masked() {
		t.Fatalf("got frame op %d fin %v masked %v, want an unmasked ping", f.Op, f.Fin, f.Masked())
	}
	rc.Write(t, true, opPong, f.Payload)
	ev.WaitFor(t, "Ping "+string(f.Payload)+" response=true")
}

func TestSend_BinaryMessage(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	data := []byte{0, 1, 2, 0xFF, 0xFE}
	if err := h.s.Send(id, data); err != nil {
		t.Fatal(err)
	}
	if typ, p := readMessage(t, conn); typ != websocket.BinaryMessage || !bytes.Equal(p, data) {
		t.Fatalf("client got type %d %x", typ, p)
	}
}

func TestSendBytes_BinaryMessage(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	data := []byte("bytes, not text")
	if err := h.s.SendBytes(id, data); err != nil {
		t.Fatal(err)
	}
	// The caller's slice may change once SendBytes returned.
	copy(data, "XXXXX")
	if typ, p := readMessage(t, conn); typ != websocket.BinaryMessage || string(p) != "bytes, not text" {
		t.Fatalf("client got type %d %q", typ, p)
	}
}

func TestSendText_TextMessage(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	if err := h.s.SendText(id, "héllo wörld ✓"); err != nil {
		t.Fatal(err)
	}
	if typ, p := readMessage(t, conn); typ != websocket.TextMessage || string(p) != "héllo wörld ✓" {
		t.Fatalf("client got type %d %q", typ, p)
	}
	// Text that is not UTF-8 is refused and nothing is sent.
	wantCode(t, "SendText of invalid UTF-8", h.s.SendText(id, "bad \xff"), ErrInvalidValue)
	h.s.SendText(id, "next")
	if _, p := readMessage(t, conn); string(p) != "next" {
		t.Fatalf("client got %q after the refused text", p)
	}
}

func TestSendMessage_Formats(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(p string) error { pongs <- p; return nil })
	wantCode(t, "SendMessage format 3", h.s.SendMessage(id, 3, nil), ErrInvalidValue)
	wantCode(t, "SendMessage ping of 126 bytes", h.s.SendMessage(id, FormatPing, make([]byte, 126)), ErrInvalidValue)
	h.s.SendMessage(id, FormatAutomatic, []byte("auto"))
	h.s.SendMessage(id, FormatText, []byte("text"))
	h.s.SendMessage(id, FormatPong, []byte("pong!"))
	h.s.SendMessage(id, FormatBinary, []byte("bin"))
	for _, want := range []struct {
		typ  int
		data string
	}{{websocket.BinaryMessage, "auto"}, {websocket.TextMessage, "text"}, {websocket.BinaryMessage, "bin"}} {
		if typ, p := readMessage(t, conn); typ != want.typ || string(p) != want.data {
			t.Fatalf("client got type %d %q, want %d %q", typ, p, want.typ, want.data)
		}
	}
	if p := wiretest.Receive(t, pongs, "the pong"); p != "pong!" {
		t.Fatalf("pong payload %q", p)
	}
}

func TestSend_ClosingConnectionFails(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.Config("CloseTimeout=60") })
	_, id := h.rawOpen(t, wiretest.Options{}) // does not answer: the connection stays closing
	h.s.Disconnect(id)
	err := h.s.SendText(id, "too late")
	if err == nil {
		t.Fatal("SendText on a closing connection succeeded")
	}
	if c := wsErrCode(err); c != ErrNotConnected.Code && c != ErrInvalidConnectionID.Code {
		t.Fatalf("SendText on a closing connection: %v", err)
	}
}

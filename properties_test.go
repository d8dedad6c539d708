package wsserver

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of the reference's properties and of the fields of the WSConnection
// type (the Connections collection).

func TestLocalPort_ZeroThenReadBackRealPort(t *testing.T) {
	checkGoroutines(t)
	s := New()
	if got := s.LocalPort(); got != 0 {
		t.Fatalf("LocalPort default = %d, want 0", got)
	}
	url := startServer(t, s)
	port := s.LocalPort()
	if port == 0 {
		t.Fatal("LocalPort reads 0 while listening; want the port the system picked")
	}
	if !strings.HasSuffix(url, ":"+strconv.Itoa(port)) {
		t.Fatalf("url %s does not end in the port %d", url, port)
	}
	// The port read back is the one that accepts clients.
	conn, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port), nil)
	if err != nil {
		t.Fatalf("dial the port LocalPort reports: %v", err)
	}
	conn.Close()
}

func TestLocalPort_InvalidValue(t *testing.T) {
	s := New()
	for _, p := range []int{-1, 65536} {
		wantCode(t, "SetLocalPort("+strconv.Itoa(p)+")", s.SetLocalPort(p), ErrInvalidValue)
	}
}

func TestLocalPort_LockedWhileListening106(t *testing.T) {
	h := newHarness(t, nil)
	wantCode(t, "SetLocalPort while listening", h.s.SetLocalPort(12345), ErrLocalPortLocked)
	if err := h.s.StopListening(); err != nil {
		t.Fatal(err)
	}
	if err := h.s.SetLocalPort(0); err != nil {
		t.Fatalf("SetLocalPort after StopListening: %v", err)
	}
}

func TestLocalHost_LockedWhileListening107(t *testing.T) {
	h := newHarness(t, nil)
	wantCode(t, "SetLocalHost while listening", h.s.SetLocalHost("127.0.0.2"), ErrLocalHostLocked)
	if err := h.s.StopListening(); err != nil {
		t.Fatal(err)
	}
	if err := h.s.SetLocalHost("127.0.0.1"); err != nil {
		t.Fatalf("SetLocalHost after StopListening: %v", err)
	}
}

func TestLocalHost_ReadBack(t *testing.T) {
	s := New()
	// Reference: "the name of the local host as obtained by the gethostname()
	// system call, or if the user has assigned an IP address, the value of
	// that address".
	if hn, err := os.Hostname(); err == nil {
		if got := s.LocalHost(); got != hn {
			t.Fatalf("LocalHost default = %q, want the host name %q", got, hn)
		}
	}
	h := newHarness(t, nil) // listens on 127.0.0.1
	if got := h.s.LocalHost(); got != "127.0.0.1" {
		t.Fatalf("LocalHost while listening = %q, want 127.0.0.1", got)
	}
}

func TestListening_FollowsStartAndStopListening(t *testing.T) {
	checkGoroutines(t)
	s := New()
	if s.Listening() {
		t.Fatal("Listening is true before StartListening")
	}
	startServer(t, s)
	if !s.Listening() {
		t.Fatal("Listening is false after StartListening")
	}
	if err := s.StopListening(); err != nil {
		t.Fatal(err)
	}
	if s.Listening() {
		t.Fatal("Listening is true after StopListening")
	}
	if err := s.StartListening(); err != nil {
		t.Fatal(err)
	}
	if !s.Listening() {
		t.Fatal("Listening is false after a second StartListening")
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if s.Listening() {
		t.Fatal("Listening is true after Shutdown")
	}
}

// listenerConn returns the RawConn of the server's listening socket.
func listenerConn(t *testing.T, s *Server) syscall.RawConn {
	t.Helper()
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	rc, err := ln.(syscall.Conn).SyscallConn() // a *net.TCPListener, or transport.RawAccept's

	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestConnectionBacklog_DefaultFiveAndApplied(t *testing.T) {
	checkGoroutines(t)
	s := New()
	if got := s.ConnectionBacklog(); got != 5 {
		t.Fatalf("ConnectionBacklog default = %d, want 5", got)
	}
	wantCode(t, "SetConnectionBacklog(0)", s.SetConnectionBacklog(0), ErrInvalidValue)
	startServer(t, s)
	if got := listenBacklog(t, s); got != 5 {
		t.Fatalf("listening socket backlog = %d, want the default 5", got)
	}
	if err := s.StopListening(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConnectionBacklog(17); err != nil {
		t.Fatal(err)
	}
	if got := s.ConnectionBacklog(); got != 17 {
		t.Fatalf("ConnectionBacklog = %d after setting 17", got)
	}
	if err := s.StartListening(); err != nil {
		t.Fatal(err)
	}
	if got := listenBacklog(t, s); got != 17 {
		t.Fatalf("listening socket backlog = %d, want 17", got)
	}
}

func TestDefaultTimeout_AppliesToNewConnections(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.s.DefaultTimeout(); got != 0 {
		t.Fatalf("DefaultTimeout default = %d, want 0", got)
	}
	wantCode(t, "SetDefaultTimeout(-1)", h.s.SetDefaultTimeout(-1), ErrInvalidValue)
	_, id0 := h.dial(t, "/", nil)
	if err := h.s.SetDefaultTimeout(3); err != nil {
		t.Fatal(err)
	}
	_, id3 := h.dial(t, "/", nil)
	if err := h.s.SetDefaultTimeout(0); err != nil {
		t.Fatal(err)
	}
	if got := h.conn(t, id0).Timeout(); got != 0 {
		t.Fatalf("connection opened with DefaultTimeout 0 has Timeout %d", got)
	}
	if got := h.conn(t, id3).Timeout(); got != 3 {
		t.Fatalf("connection opened with DefaultTimeout 3 has Timeout %d (later changes must not reach it)", got)
	}
}

func TestConnections_CollectionOfConnectedClients(t *testing.T) {
	h := newHarness(t, nil)
	if n := len(h.s.Connections()); n != 0 {
		t.Fatalf("Connections has %d entries before any client", n)
	}
	var conns []*websocket.Conn
	var ids []int
	for range 3 {
		c, id := h.dial(t, "/", nil)
		conns, ids = append(conns, c), append(ids, id)
	}
	list := h.s.Connections()
	if len(list) != 3 || h.s.ConnectionCount() != 3 {
		t.Fatalf("Connections has %d entries, ConnectionCount %d; want 3", len(list), h.s.ConnectionCount())
	}
	for i, c := range list {
		if i > 0 && list[i-1].ID() >= c.ID() {
			t.Fatalf("Connections not ordered by ConnectionId: %d before %d", list[i-1].ID(), c.ID())
		}
		if got, err := h.s.Connection(c.ID()); err != nil || got != c {
			t.Fatalf("Connection(%d) = %v, %v", c.ID(), got, err)
		}
	}
	// A client that leaves is removed from the collection.
	conns[1].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	wiretest.WaitUntil(t, "the closed connection to leave Connections", func() bool { return h.s.ConnectionCount() == 2 })
	if _, err := h.s.Connection(ids[1]); !errorsIsCode(err, 126) {
		t.Fatalf("Connection of a closed client: %v, want 126", err)
	}
}

func errorsIsCode(err error, code int) bool { return wsErrCode(err) == code }

func TestWSConnection_AcceptData_PauseAndResume(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("DataIn %s", e.Text()) }
	})
	conn, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if !c.AcceptData() {
		t.Fatal("AcceptData default is false, want true")
	}
	conn.WriteMessage(websocket.TextMessage, []byte("first"))
	ev.WaitFor(t, "DataIn first")

	c.SetAcceptData(false)
	if c.AcceptData() {
		t.Fatal("AcceptData reads true after SetAcceptData(false)")
	}
	conn.WriteMessage(websocket.TextMessage, []byte("while paused"))
	// Reference: "Setting this property to false temporarily disables data
	// reception (and the DataIn event)". Give a wrong implementation time to
	// deliver; a right one never does.
	time.Sleep(300 * time.Millisecond)
	if n := ev.Count("DataIn while paused"); n != 0 {
		t.Fatal("DataIn fired while AcceptData was false")
	}
	c.SetAcceptData(true)
	ev.WaitFor(t, "DataIn while paused")

	// PauseData and ProcessData are the methods the reference recommends.
	c.PauseData()
	if c.AcceptData() {
		t.Fatal("AcceptData reads true after PauseData")
	}
	conn.WriteMessage(websocket.TextMessage, []byte("after PauseData"))
	time.Sleep(300 * time.Millisecond)
	if n := ev.Count("DataIn after PauseData"); n != 0 {
		t.Fatal("DataIn fired after PauseData")
	}
	c.ProcessData()
	ev.WaitFor(t, "DataIn after PauseData")
}

func TestWSConnection_AcceptData_PauseFromDataIn(t *testing.T) {
	// A handler that pauses on a message gets no further DataIn, even for
	// messages that arrived in the same read, until data is accepted again.
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) {
			ev.Add("DataIn %s", e.Text())
			if e.Text() == "pause" {
				c, _ := s.Connection(e.ConnectionID)
				c.SetAcceptData(false)
			}
		}
	})
	rc, id := h.rawOpen(t, wiretest.Options{})
	// Both messages in one write: the server reads them together.
	rc.WriteBytes(t, append(wiretest.Client(true, opText, []byte("pause")).Bytes(), wiretest.Client(true, opText, []byte("next")).Bytes()...))
	ev.WaitFor(t, "DataIn pause")
	time.Sleep(300 * time.Millisecond)
	if n := ev.Count("DataIn next"); n != 0 {
		t.Fatal("DataIn fired for a message after the handler set AcceptData false")
	}
	h.conn(t, id).SetAcceptData(true)
	ev.WaitFor(t, "DataIn next")
}

func TestWSConnection_AcceptData_DisconnectWhilePaused(t *testing.T) {
	// A paused connection still closes: Disconnect and Shutdown must not wait
	// for data reception to resume.
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	conn, id := h.dial(t, "/", nil)
	h.conn(t, id).SetAcceptData(false)
	// Data arrives while paused: the server holds it and waits.
	conn.WriteMessage(websocket.TextMessage, []byte("held"))
	time.Sleep(200 * time.Millisecond)
	if err := h.s.Disconnect(id); err != nil {
		t.Fatal(err)
	}
	if code, _ := readClose(t, conn); code != 1000 {
		t.Fatalf("client got close code %d, want 1000", code)
	}
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id)+" 1000")

	// And Shutdown closes a paused connection too.
	conn2, id2 := h.dial(t, "/", nil)
	h.conn(t, id2).PauseData()
	conn2.WriteMessage(websocket.TextMessage, []byte("held"))
	time.Sleep(200 * time.Millisecond)
	h.s.Shutdown()
	readClose(t, conn2)
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id2)+" 1000")
}

func TestWSConnection_BytesSent(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if got := c.BytesSent(); got != 0 {
		t.Fatalf("BytesSent before any send = %d", got)
	}
	if err := h.s.SendText(id, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := c.BytesSent(); got != 5 {
		t.Fatalf("BytesSent after SendText of 5 bytes = %d", got)
	}
	if err := c.SetDataToSendB([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if got := c.BytesSent(); got != 3 {
		t.Fatalf("BytesSent after DataToSendB of 3 bytes = %d", got)
	}
	// Reference: "This property will always return 0 when the component is
	// operating in the synchronous mode (i.e., the Timeout property is set to
	// a positive value)."
	if err := c.SetTimeout(5); err != nil {
		t.Fatal(err)
	}
	if err := h.s.SendText(id, "synchronous"); err != nil {
		t.Fatal(err)
	}
	if got := c.BytesSent(); got != 0 {
		t.Fatalf("BytesSent in synchronous mode = %d, want 0", got)
	}
	for _, want := range []string{"hello", "\x01\x02\x03", "synchronous"} {
		if _, p := readMessage(t, conn); string(p) != want {
			t.Fatalf("client got %q, want %q", p, want)
		}
	}
}

func TestWSConnection_Connected_SetConnectedFalseDisconnects(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d", e.ConnectionID) }
	})
	conn, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if !c.Connected() {
		t.Fatal("Connected is false on an open connection")
	}
	if err := c.SetConnected(true); err != nil {
		t.Fatalf("SetConnected(true) on an open connection: %v", err)
	}
	if err := c.SetConnected(false); err != nil {
		t.Fatal(err)
	}
	if c.Connected() {
		t.Fatal("Connected is true after SetConnected(false)")
	}
	if code, _ := readClose(t, conn); code != 1000 {
		t.Fatalf("client got close code %d, want 1000", code)
	}
	ev.WaitFor(t, "Disconnected "+strconv.Itoa(id))
	wantCode(t, "SetConnected(true) on a closed connection", c.SetConnected(true), ErrNotConnected)
}

func TestWSConnection_ConnectionID_UniquePerConnection(t *testing.T) {
	var opened []int
	h := newHarness(t, nil)
	seen := map[int]bool{}
	for range 4 {
		_, id := h.dial(t, "/", nil)
		if seen[id] {
			t.Fatalf("ConnectionId %d given twice", id)
		}
		seen[id] = true
		opened = append(opened, id)
		if got := h.conn(t, id).ID(); got != id {
			t.Fatalf("Connection(%d).ID() = %d", id, got)
		}
	}
	// IDs stay unique after connections close.
	h.s.Shutdown()
	if err := h.s.StartListening(); err != nil {
		t.Fatal(err)
	}
	h.url = "ws://127.0.0.1:" + strconv.Itoa(h.s.LocalPort())
	_, id := h.dial(t, "/", nil)
	if seen[id] {
		t.Fatalf("ConnectionId %d reused after %v closed", id, opened)
	}
}

func TestWSConnection_DataFormat_SetDataToSend(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnPing = func(e *PingEvent) { ev.Add("Ping %q response=%v", e.Payload(), e.Response) }
	})
	conn, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if got := c.DataFormat(); got != FormatAutomatic {
		t.Fatalf("DataFormat default = %d, want 0", got)
	}
	wantCode(t, "SetDataFormat(3)", c.SetDataFormat(3), ErrInvalidValue)

	pings := make(chan string, 10)
	pongs := make(chan string, 10)
	conn.SetPingHandler(func(p string) error {
		pings <- p
		return conn.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(waitLimit))
	})
	conn.SetPongHandler(func(p string) error { pongs <- p; return nil })

	steps := []struct {
		format DataFormat
		bytes  bool // DataToSendB instead of DataToSend
		data   string
		want   int // gorilla message type; 0 for a control frame
	}{
		{FormatAutomatic, false, "auto string", websocket.TextMessage},
		{FormatAutomatic, true, "auto bytes", websocket.BinaryMessage},
		{FormatText, true, "text bytes", websocket.TextMessage},
		{FormatBinary, false, "binary string", websocket.BinaryMessage},
		{FormatPing, false, "ping data", 0},
		{FormatPong, true, "pong data", 0},
	}
	for _, st := range steps {
		if err := c.SetDataFormat(st.format); err != nil {
			t.Fatal(err)
		}
		if got := c.DataFormat(); got != st.format {
			t.Fatalf("DataFormat = %d after setting %d", got, st.format)
		}
		var err error
		if st.bytes {
			err = c.SetDataToSendB([]byte(st.data))
		} else {
			err = c.SetDataToSend(st.data)
		}
		if err != nil {
			t.Fatalf("DataFormat %d: %v", st.format, err)
		}
		if st.want == 0 {
			continue
		}
		typ, p := readMessage(t, conn)
		if typ != st.want || string(p) != st.data {
			t.Fatalf("DataFormat %d: client got type %d %q, want type %d %q", st.format, typ, p, st.want, st.data)
		}
	}
	// The control frames come before this message.
	c.SetDataFormat(FormatText)
	c.SetDataToSend("end")
	if _, p := readMessage(t, conn); string(p) != "end" {
		t.Fatalf("client got %q, want end", p)
	}
	if p := wiretest.Receive(t, pings, "the ping"); p != "ping data" {
		t.Fatalf("client got ping %q", p)
	}
	if p := wiretest.Receive(t, pongs, "the pong"); p != "pong data" {
		t.Fatalf("client got pong %q", p)
	}
	// The client's answer to DataFormat 9 is a pong the server reports.
	ev.WaitFor(t, `Ping "ping data" response=true`)
}

// openCustom opens a raw client with every request detail the WSConnection
// fields report.
func openCustom(t *testing.T, h *harness) (*rawConn, *Connection) {
	t.Helper()
	rc, id := h.rawOpen(t, wiretest.Options{
		Path: "/chat/room?id=7&x=%20y",
		Host: "example.test:8080",
		Headers: []string{
			"Origin: http://example.test:8080",
			"Sec-WebSocket-Protocol: chat, superchat",
			"X-Custom: forty-two",
		},
	})
	return rc, h.conn(t, id)
}

func TestWSConnection_Host(t *testing.T) {
	h := newHarness(t, nil)
	_, c := openCustom(t, h)
	if got := c.Host(); got != "example.test:8080" {
		t.Fatalf("Host = %q, want the client's Host header", got)
	}
	_, id := h.dial(t, "/", nil)
	if got := h.conn(t, id).Host(); got != h.addr {
		t.Fatalf("Host = %q, want %q", got, h.addr)
	}
}

func TestWSConnection_Origin(t *testing.T) {
	h := newHarness(t, nil)
	_, c := openCustom(t, h)
	if got := c.Origin(); got != "http://example.test:8080" {
		t.Fatalf("Origin = %q", got)
	}
	_, id := h.dial(t, "/", nil)
	if got := h.conn(t, id).Origin(); got != "" {
		t.Fatalf("Origin without the header = %q, want empty", got)
	}
}

func TestWSConnection_RequestURI(t *testing.T) {
	h := newHarness(t, nil)
	_, c := openCustom(t, h)
	if got := c.RequestURI(); got != "/chat/room?id=7&x=%20y" {
		t.Fatalf("RequestURI = %q", got)
	}
}

func TestWSConnection_RequestHeaders(t *testing.T) {
	h := newHarness(t, nil)
	_, c := openCustom(t, h)
	hdrs := c.RequestHeaders()
	for _, want := range []string{"Host: example.test:8080", "X-Custom: forty-two", "Origin: http://example.test:8080", "Sec-WebSocket-Version: 13", "Upgrade: websocket"} {
		if !strings.Contains(hdrs, want) {
			t.Fatalf("RequestHeaders lacks %q:\n%s", want, hdrs)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(hdrs, "\r\n"), "\r\n") {
		if !strings.Contains(line, ": ") {
			t.Fatalf("RequestHeaders line %q is not \"Name: Value\"", line)
		}
	}
}

func TestWSConnection_SubProtocols(t *testing.T) {
	h := newHarness(t, nil)
	_, c := openCustom(t, h)
	if got := c.SubProtocols(); got != "chat, superchat" {
		t.Fatalf("SubProtocols = %q, want the client's list", got)
	}
}

func TestWSConnection_LocalAddress_RemoteHost_RemotePort(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if got := c.LocalAddress(); got != "127.0.0.1" {
		t.Fatalf("LocalAddress = %q, want 127.0.0.1", got)
	}
	if got := c.RemoteHost(); got != "127.0.0.1" {
		t.Fatalf("RemoteHost = %q, want 127.0.0.1", got)
	}
	if got, want := c.RemotePort(), portOf(t, conn.LocalAddr().String()); got != want {
		t.Fatalf("RemotePort = %d, want the client's port %d", got, want)
	}
}

func TestWSConnection_LineMode_SetByChangeLineMode(t *testing.T) {
	h := newHarness(t, nil)
	_, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if c.LineMode() {
		t.Fatal("LineMode default is true")
	}
	if err := h.s.ChangeLineMode(id, true); err != nil {
		t.Fatal(err)
	}
	if !c.LineMode() {
		t.Fatal("LineMode false after ChangeLineMode(true)")
	}
	if err := h.s.ChangeLineMode(id, false); err != nil {
		t.Fatal(err)
	}
	if c.LineMode() {
		t.Fatal("LineMode true after ChangeLineMode(false)")
	}
}

func TestWSConnection_ReadyToSend_TrueAfterConnect(t *testing.T) {
	// The false half (after ErrWouldBlock) is in backpressure_test.go.
	h := newHarness(t, nil)
	_, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if !c.ReadyToSend() {
		t.Fatal("ReadyToSend is false on a new connection")
	}
	h.s.Disconnect(id)
	if c.ReadyToSend() {
		t.Fatal("ReadyToSend is true on a closing connection")
	}
}

func TestWSConnection_Timeout(t *testing.T) {
	h := newHarness(t, nil)
	_, id := h.dial(t, "/", nil)
	c := h.conn(t, id)
	if got := c.Timeout(); got != 0 {
		t.Fatalf("Timeout default = %d, want DefaultTimeout 0", got)
	}
	if err := c.SetTimeout(7); err != nil {
		t.Fatal(err)
	}
	if got := c.Timeout(); got != 7 {
		t.Fatalf("Timeout = %d after setting 7", got)
	}
	wantCode(t, "SetTimeout(-1)", c.SetTimeout(-1), ErrInvalidValue)
	// The blocking and non-blocking behaviours are in backpressure_test.go.
}

func TestWSConnection_AcceptData_EventLoop(t *testing.T) {
	// With EventLoop a paused connection is simply not read; a pause must
	// never hold the loop, which serves other connections too.
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("EventLoop=true"); err != nil {
			t.Skipf("EventLoop: %v", err)
		}
		s.Config("CloseTimeout=60") // Disconnected comes only from the client's reply
		s.Events.OnDataIn = func(e *DataInEvent) {
			ev.Add("DataIn %d %s", e.ConnectionID, e.Text())
			if e.Text() == "pause" {
				c, _ := s.Connection(e.ConnectionID)
				c.PauseData()
			}
		}
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	var conns []*rawConn
	var ids []int
	for range 4 { // more connections than loops: some share one
		rc, id := h.rawOpen(t, wiretest.Options{})
		conns, ids = append(conns, rc), append(ids, id)
	}
	conns[0].WriteBytes(t, append(wiretest.Client(true, opText, []byte("pause")).Bytes(), wiretest.Client(true, opText, []byte("later")).Bytes()...))
	ev.WaitFor(t, fmt.Sprintf("DataIn %d pause", ids[0]))
	for i, rc := range conns[1:] {
		rc.Write(t, true, opText, []byte("other"))
		ev.WaitFor(t, fmt.Sprintf("DataIn %d other", ids[i+1]))
	}
	h.conn(t, ids[0]).ProcessData()
	conn3 := conns[3]
	conn3.Write(t, true, opText, []byte("more"))
	ev.WaitFor(t, fmt.Sprintf("DataIn %d more", ids[3]))
	// A paused connection still closes.
	h.conn(t, ids[1]).PauseData()
	h.s.Disconnect(ids[1])
	conns[1].CloseFrame(t)
	conns[1].Write(t, true, opClose, wiretest.ClosePayload(4000, ""))
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 4000", ids[1]))
}

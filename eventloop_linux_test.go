package wsserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsserver/wsserver/internal/transport"
)

// TestEventLoop_HandshakeByteByByte checks that an event loop reading the
// opening handshake (RFC 6455 section 4.1) puts together a request that
// arrives one byte per write, and then serves the connection.
func TestEventLoop_HandshakeByteByByte(t *testing.T) {
	s := New()
	s.Config("EventLoop=true")
	s.Config("TcpNoDelay=true")
	s.Config("BufferMessage=true")
	s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
	url := startServer(t, s)
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetNoDelay(true)
	req := "GET /slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for i := 0; i < len(req); i++ {
		if _, err := nc.Write([]byte{req[i]}); err != nil {
			t.Fatal(err)
		}
		if i%16 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake response: %v, %v", resp, err)
	}
	if _, err := nc.Write(maskedFrame(0x1, []byte("after a slow handshake"))); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2+len("after a slow handshake"))
	if _, err := io.ReadFull(br, got); err != nil || string(got[2:]) != "after a slow handshake" {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// TestEventLoop_HandshakeTimeout checks HandshakeTimeout on an event loop: a
// client that connects and sends nothing is cut off, and its MaxConnections
// slot is given back.
func TestEventLoop_HandshakeTimeout(t *testing.T) {
	s := New()
	s.Config("EventLoop=true")
	s.Config("HandshakeTimeout=0.5")
	s.Config("MaxConnections=1")
	url := startServer(t, s)
	addr := strings.TrimPrefix(url, "ws://")
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Fatal("the silent client got data instead of being cut off")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the silent client was not cut off within 20 s")
	}
	// The slot is free again: a real client gets in.
	waitFor(t, "the slot to be released", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.active == 0
	})
	nc, _ := benchDial(t, url, "")
	nc.Close()
}

// TestEventLoopSpin_Setting checks the EventLoopSpin setting: 0 (off) by
// default, within 0..10000, and carried to the connections opened after it
// is set.
func TestEventLoopSpin_Setting(t *testing.T) {
	s := New()
	if v, err := s.Config("EventLoopSpin"); err != nil || v != "0" {
		t.Fatalf("EventLoopSpin = %q, %v; want the default 0", v, err)
	}
	for _, spin := range []string{"10000", "0"} {
		if _, err := s.Config("EventLoopSpin=" + spin); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.Config("EventLoopSpin"); v != spin {
			t.Fatalf("EventLoopSpin = %q after setting %s", v, spin)
		}
	}
	h := newHarness(t, func(s *Server) {
		s.Config("EventLoop=true")
		s.Config("EventLoopSpin=7")
	})
	_, id := h.dial(t, "/", nil)
	if got := transport.LoopSpin(h.conn(t, id).sock); got != 7*time.Microsecond {
		t.Fatalf("the spin of the loop reading the connection = %v, want 7µs", got)
	}
}

// TestEventLoopSpin_Echo checks that a loop serves a conversation whatever
// its EventLoopSpin: sleeping at once, polling briefly, polling long.
func TestEventLoopSpin_Echo(t *testing.T) {
	for _, spin := range []string{"0", "50", "10000"} {
		t.Run(spin, func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("EventLoop=true")
				s.Config("BufferMessage=true")
				s.Config("EventLoopSpin=" + spin)
				s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
			})
			conn, _ := h.dial(t, "/", nil)
			for i := range 200 {
				msg := []byte("message " + strconv.Itoa(i))
				if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					t.Fatal(err)
				}
				if _, p := readMessage(t, conn); string(p) != string(msg) {
					t.Fatalf("echo %q, want %q", p, msg)
				}
			}
		})
	}
}

// TestEventLoop_ClosingInConnectedKeepsItsDeadline checks that CloseTimeout
// ends a connection that a Connected handler disconnects when the client
// never answers the close frame, with EventLoop and a handshake a
// goroutine read (a ConnectionRequest handler makes admission wait). Such
// a connection stays with that goroutine (issue 10: the Engine moves a
// connection to a loop only once Handler.Opened, which a closing one is
// not), whose read deadline a loop would not keep; whether the deadline
// would come before the move otherwise is a matter of timing, so this
// checks the outcome, not the race.
func TestEventLoop_ClosingInConnectedKeepsItsDeadline(t *testing.T) {
	disconnected := make(chan int, 1)
	h := newHarness(t, func(s *Server) {
		s.Config("EventLoop=true")
		s.Config("WaitForCloseResponse=true")
		s.Config("CloseTimeout=1")
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) {}
		s.Events.OnConnected = func(e *ConnectedEvent) { s.Disconnect(e.ConnectionID) }
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { disconnected <- e.StatusCode }
	})
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A client that completes the handshake, then never reads or answers.
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", h.addr)
	select {
	case code := <-disconnected:
		if code != 1000 {
			t.Errorf("Disconnected with %d, want 1000 (the server's close, unanswered)", code)
		}
	case <-time.After(waitLimit):
		t.Fatal("a connection closed in Connected outlived CloseTimeout waiting for the client's close frame")
	}
}

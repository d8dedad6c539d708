package wsserver

import (
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// The helpers of the reference tests (properties_test.go, methods_test.go,
// events_test.go and the others): a started server that reports the IDs of
// its connections, gorilla and raw-socket clients, and a goroutine leak check.

// waitLimit bounds every wait of the reference tests: generous, so that a
// busy machine only makes a test slower, never wrong.
const waitLimit = wiretest.Timeout

// checkGoroutines fails the test if it leaves more goroutines running than it
// found. Call it first, so that its cleanup runs after every other cleanup
// (servers shut down, clients closed).
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutine leak: %d goroutines before the test, %d after:\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// harness is a started Server with the IDs of its connections as they open.
type harness struct {
	s    *Server
	url  string   // ws://127.0.0.1:port
	addr string   // 127.0.0.1:port
	ids  chan int // ConnectionIDs, in the order Connected fired
}

// newHarness creates a Server, lets setup set its events and settings, and
// starts it on 127.0.0.1 with a free port. It checks for goroutine leaks.
func newHarness(t *testing.T, setup func(s *Server)) *harness {
	t.Helper()
	checkGoroutines(t)
	s := New()
	h := &harness{s: s, ids: make(chan int, 1000)}
	if setup != nil {
		setup(s)
	}
	user := s.Events.OnConnected
	s.Events.OnConnected = func(e *ConnectedEvent) {
		if user != nil {
			user(e)
		}
		select {
		case h.ids <- e.ConnectionID:
		default:
		}
	}
	h.url = startServer(t, s)
	h.addr = strings.TrimPrefix(h.url, "ws://")
	return h
}

// nextID waits for the next connection to open and returns its ID.
func (h *harness) nextID(t *testing.T) int {
	t.Helper()
	select {
	case id := <-h.ids:
		return id
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for the Connected event")
		return 0
	}
}

// conn returns the open connection with the given ID.
func (h *harness) conn(t *testing.T, id int) *Connection {
	t.Helper()
	c, err := h.s.Connection(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dial opens a gorilla client on path and returns it with its ConnectionID.
// The client is closed when the test ends.
func (h *harness) dial(t *testing.T, path string, hdr http.Header) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, _, err := d.Dial(h.url+path, hdr)
	if err != nil {
		t.Fatalf("dial %s%s: %v", h.url, path, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, h.nextID(t)
}

// dialSmall is dial with a client socket whose receive buffer is small, so
// that a client that does not read soon holds the server back.
func (h *harness) dialSmall(t *testing.T) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitLimit, NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Timeout: waitLimit, Control: smallRcvBuf}
		return nd.Dial(network, addr)
	}}
	conn, _, err := d.Dial(h.url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", h.url, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, h.nextID(t)
}

// readMessage reads a message from a gorilla client, failing the test after
// waitLimit.
func readMessage(t *testing.T, conn *websocket.Conn) (int, []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	typ, p, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, p
}

// readClose reads from a gorilla client until the server's close frame and
// returns its code and reason.
func readClose(t *testing.T, conn *websocket.Conn) (int, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	for range 1000 {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("read: %v; want the server's close frame", err)
	}
	t.Fatal("no close frame within 1000 messages")
	return 0, ""
}

// wsErrCode returns the reference error code of err, or 0.
func wsErrCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// wantCode fails the test unless err is an *Error with the code of want and
// matches want with errors.Is.
func wantCode(t *testing.T, what string, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) || wsErrCode(err) != want.Code {
		t.Fatalf("%s: got %v, want error %d (%s)", what, err, want.Code, want.Message)
	}
}

// rawConn is the raw client of the shared test package: any frame, masked
// or not, out; every frame the server sends, as it is on the wire, in.
type rawConn = wiretest.Conn

// rawDial connects to addr, sends an opening handshake and reads the
// response, whatever its status. The socket is closed when the test ends.
func rawDial(t *testing.T, addr string, o wiretest.Options) *rawConn {
	t.Helper()
	return wiretest.Dial(t, addr, o)
}

// rawOpen opens a raw client that must be accepted (101) and returns it with
// its ConnectionID.
func (h *harness) rawOpen(t *testing.T, o wiretest.Options) (*rawConn, int) {
	t.Helper()
	rc := rawDial(t, h.addr, o)
	if rc.Resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answered %s", rc.Resp.Status)
	}
	return rc, h.nextID(t)
}

// The opcodes of RFC 6455 section 5.2.
const (
	opCont   = wiretest.OpCont
	opText   = wiretest.OpText
	opBinary = wiretest.OpBinary
	opClose  = wiretest.OpClose
	opPing   = wiretest.OpPing
	opPong   = wiretest.OpPong
)

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

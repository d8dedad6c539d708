package wsserver

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The helpers of the reference tests (properties_test.go, methods_test.go,
// events_test.go and the others): a started server that reports the IDs of
// its connections, gorilla and raw-socket clients, and a goroutine leak check.

// waitLimit bounds every wait of the reference tests: generous, so that a
// busy machine only makes a test slower, never wrong.
const waitLimit = 10 * time.Second

// checkGoroutines fails the test if it leaves more goroutines running than it
// found. Call it first, so that its cleanup runs after every other cleanup
// (servers shut down, clients closed).
func checkGoroutines(t *testing.T) {
	t.Helper()
	startPollers() // the event loops live as long as the process: not a leak
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

// waitUntil polls cond until it holds, failing the test after waitLimit.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receive waits for a value on ch, failing the test after waitLimit.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
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

// rawConn is a WebSocket client on a bare TCP socket: it sends any frame,
// masked or not, and sees every frame the server sends as it is on the wire.
type rawConn struct {
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// rawOpts shape the opening handshake of a raw client.
type rawOpts struct {
	path    string   // request target; "/" when empty
	host    string   // Host header; the address when empty
	headers []string // extra "Name: Value" lines
	small   bool     // a 4 KiB receive buffer (see smallRcvBuf)
	extra   []byte   // bytes sent right after the request head, in the same write
}

// rawDial connects to addr, sends an opening handshake and reads the
// response, whatever its status. The socket is closed when the test ends.
func rawDial(t *testing.T, addr string, o rawOpts) *rawConn {
	t.Helper()
	nd := net.Dialer{Timeout: waitLimit}
	if o.small {
		nd.Control = smallRcvBuf
	}
	nc, err := nd.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if o.path == "" {
		o.path = "/"
	}
	if o.host == "" {
		o.host = addr
	}
	var key [16]byte
	rand.Read(key[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", o.path, o.host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", base64.StdEncoding.EncodeToString(key[:]))
	for _, hl := range o.headers {
		b.WriteString(hl + "\r\n")
	}
	b.WriteString("\r\n")
	nc.SetDeadline(time.Now().Add(waitLimit))
	if _, err := nc.Write(append([]byte(b.String()), o.extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	nc.SetDeadline(time.Time{})
	return &rawConn{nc: nc, br: br, resp: resp}
}

// rawOpen opens a raw client that must be accepted (101) and returns it with
// its ConnectionID.
func (h *harness) rawOpen(t *testing.T, o rawOpts) (*rawConn, int) {
	t.Helper()
	rc := rawDial(t, h.addr, o)
	if rc.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answered %s", rc.resp.Status)
	}
	return rc, h.nextID(t)
}

// The opcodes of RFC 6455 section 5.2.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// clientFrame returns a masked frame as a client sends it.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	return appendFrame(nil, fin, op, payload, true)
}

// appendFrame appends a frame, masked with a random key when mask is set.
func appendFrame(dst []byte, fin bool, op byte, payload []byte, mask bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var m byte
	if mask {
		m = 0x80
	}
	dst = append(dst, b0)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, m|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, m|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !mask {
		return append(dst, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	dst = append(dst, key[:]...)
	for i, c := range payload {
		dst = append(dst, c^key[i%4])
	}
	return dst
}

// closePayload returns the payload of a close frame.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// write sends a masked frame.
func (r *rawConn) write(t *testing.T, fin bool, op byte, payload []byte) {
	t.Helper()
	r.writeBytes(t, clientFrame(fin, op, payload))
}

// writeBytes sends bytes as they are.
func (r *rawConn) writeBytes(t *testing.T, b []byte) {
	t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := r.nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// wireFrame is a frame as the server sent it.
type wireFrame struct {
	fin, rsv1 bool
	op        byte
	masked    bool
	payload   []byte
}

// readFrame reads the next frame the server sent, failing after waitLimit.
func (r *rawConn) readFrame() (wireFrame, error) {
	r.nc.SetReadDeadline(time.Now().Add(waitLimit))
	var f wireFrame
	var hdr [2]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return f, err
	}
	f.fin, f.rsv1, f.op = hdr[0]&0x80 != 0, hdr[0]&0x40 != 0, hdr[0]&0x0F
	f.masked = hdr[1]&0x80 != 0
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r.br, ext[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r.br, ext[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 1<<30 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(r.br, f.payload)
	return f, err
}

// frame reads the next frame, failing the test on error.
func (r *rawConn) frame(t *testing.T) wireFrame {
	t.Helper()
	f, err := r.readFrame()
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// closeFrame reads frames until the server's close frame and returns its
// code (1005 for an empty payload) and reason.
func (r *rawConn) closeFrame(t *testing.T) (int, string) {
	t.Helper()
	for range 100000 {
		f := r.frame(t)
		if f.op != opClose {
			continue
		}
		if len(f.payload) < 2 {
			return 1005, ""
		}
		return int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:])
	}
	t.Fatal("no close frame")
	return 0, ""
}

// readEOF waits until the server closes the socket; it fails the test when
// the socket stays open for waitLimit.
func (r *rawConn) readEOF(t *testing.T) {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(waitLimit))
	_, err := io.Copy(io.Discard, r.br)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("waiting for the server to close the socket: %v", err)
	}
}

// events records the events of a test as strings, safe for concurrent use.
type events struct {
	mu   sync.Mutex
	list []string
	ch   chan struct{} // signalled on each add
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

func (e *events) snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// waitFor waits until ev has been recorded and returns every event so far.
func (e *events) waitFor(t *testing.T, ev string) []string {
	t.Helper()
	return e.waitMatch(t, ev, func(s string) bool { return s == ev })
}

// waitPrefix waits for an event starting with prefix and returns it.
func (e *events) waitPrefix(t *testing.T, prefix string) string {
	t.Helper()
	var found string
	e.waitMatch(t, prefix+"...", func(s string) bool {
		if strings.HasPrefix(s, prefix) {
			found = s
			return true
		}
		return false
	})
	return found
}

// waitMatch waits until an event satisfies match.
func (e *events) waitMatch(t *testing.T, what string, match func(string) bool) []string {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		list := e.snapshot()
		for _, s := range list {
			if match(s) {
				return list
			}
		}
		select {
		case <-e.ch:
		case <-timer.C:
			t.Fatalf("timed out waiting for event %q; got %q", what, list)
		}
	}
}

// count returns how many recorded events equal ev.
func (e *events) count(ev string) int {
	n := 0
	for _, s := range e.snapshot() {
		if s == ev {
			n++
		}
	}
	return n
}

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

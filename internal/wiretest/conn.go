package wiretest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds every wait of this package: a read, a write, a dial.
const Timeout = 10 * time.Second

// MaxFrame is the largest frame a Conn reads.
const MaxFrame = 1 << 30

// Conn is a WebSocket client on a bare TCP socket: it sends any bytes and
// sees every frame the server sends as it is on the wire.
type Conn struct {
	NC   net.Conn
	BR   *bufio.Reader
	Resp *http.Response // the answer to the opening handshake
	Key  string         // the Sec-WebSocket-Key it sent
}

// Options shape the opening handshake of Dial.
type Options struct {
	Path    string   // request target; "/" when empty
	Host    string   // Host header; the address when empty
	Headers []string // extra "Name: Value" lines
	Extra   []byte   // bytes sent right after the request head, in the same write
	// Control, when set, is the dialer's socket hook (buffer sizes).
	Control func(network, address string, c syscall.RawConn) error
	// ReadBuffer is the bufio.Reader's size; 4096 when 0.
	ReadBuffer int
}

// NewKey returns a Sec-WebSocket-Key: 16 random bytes in base64.
func NewKey() string {
	var k [16]byte
	for i := range k {
		k[i] = byte(rand.Uint32())
	}
	return base64.StdEncoding.EncodeToString(k[:])
}

// Accept returns the Sec-WebSocket-Accept a server must answer key with
// (RFC 6455 section 4.2.2).
func Accept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Request returns an opening handshake (RFC 6455 section 4.1) for path on
// host with key, and extra header lines.
func Request(path, host, key string, extra ...string) []byte {
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n")
	for _, l := range extra {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Dial connects to addr, sends an opening handshake and reads the response,
// whatever its status. The socket is closed when the test ends.
func Dial(t testing.TB, addr string, o Options) *Conn {
	t.Helper()
	nd := net.Dialer{Timeout: Timeout, Control: o.Control}
	nc, err := nd.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := Wrap(nc, o.ReadBuffer)
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Host == "" {
		o.Host = addr
	}
	c.Key = NewKey()
	c.WriteBytes(t, append(Request(o.Path, o.Host, c.Key, o.Headers...), o.Extra...))
	nc.SetReadDeadline(time.Now().Add(Timeout))
	c.Resp, err = http.ReadResponse(c.BR, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	nc.SetReadDeadline(time.Time{})
	return c
}

// Wrap makes a Conn of a socket that is already open (after a handshake the
// caller made, or none), reading through a buffer of size bytes (4096 when 0).
func Wrap(nc net.Conn, size int) *Conn {
	if size <= 0 {
		size = 4096
	}
	return &Conn{NC: nc, BR: bufio.NewReaderSize(nc, size)}
}

// Upgraded reports whether the handshake was answered with 101 and the
// Sec-WebSocket-Accept key requires.
func (c *Conn) Upgraded() bool {
	return c.Resp != nil && c.Resp.StatusCode == http.StatusSwitchingProtocols &&
		c.Resp.Header.Get("Sec-WebSocket-Accept") == Accept(c.Key)
}

// Write sends one client frame of op, masked with a random key.
func (c *Conn) Write(t testing.TB, fin bool, op byte, payload []byte) {
	t.Helper()
	c.WriteBytes(t, Client(fin, op, payload).Bytes())
}

// WriteFrame sends f as it is.
func (c *Conn) WriteFrame(t testing.TB, f Frame) {
	t.Helper()
	c.WriteBytes(t, f.Bytes())
}

// WriteBytes sends b as it is, failing the test when the write fails.
func (c *Conn) WriteBytes(t testing.TB, b []byte) {
	t.Helper()
	c.NC.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := c.NC.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// ReadFrame reads the next frame the server sent, failing after Timeout.
func (c *Conn) ReadFrame() (Frame, error) {
	c.NC.SetReadDeadline(time.Now().Add(Timeout))
	return ReadFrame(c.BR, MaxFrame)
}

// Frame reads the next frame, failing the test on error.
func (c *Conn) Frame(t testing.TB) Frame {
	t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// CloseFrame reads frames until the server's close frame and returns its
// code (1005 for an empty payload) and reason.
func (c *Conn) CloseFrame(t testing.TB) (int, string) {
	t.Helper()
	for range 100000 {
		if f := c.Frame(t); f.Op == OpClose {
			return CloseCode(f.Payload)
		}
	}
	t.Fatal("no close frame in 100000 frames")
	return 0, ""
}

// ReadEOF waits until the server closes the socket, reading and dropping what
// comes before; it fails the test when the socket stays open for Timeout.
func (c *Conn) ReadEOF(t testing.TB) {
	t.Helper()
	c.NC.SetReadDeadline(time.Now().Add(Timeout))
	_, err := io.Copy(io.Discard, c.BR)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("waiting for the server to close the socket: %v", err)
	}
}

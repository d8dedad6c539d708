package wsserver

// An Autobahn-style conformance suite over real TCP: a small raw client
// writes masked frames by hand, reads the server's frames, and checks the
// exact close code the server sends and that it then closes the TCP
// connection. Tests are named after the Autobahn TestSuite case groups and
// the RFC sections they check, and run over each transport (a goroutine per
// connection, and the epoll event loop).

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	kflate "github.com/klauspost/compress/flate"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// abTimeout bounds every wait for the server: generous, so that a busy
// machine only makes the suite slower, never wrong.
const abTimeout = 20 * time.Second

// Opcodes as the client writes them.
const (
	abCont   = 0x0
	abText   = 0x1
	abBinary = 0x2
	abClose  = 0x8
	abPing   = 0x9
	abPong   = 0xA
)

// abTransport is a way the server serves open connections.
type abTransport struct {
	name    string
	config  []string
	viaHTTP bool // ServeHTTP behind a net/http server instead of StartListening
}

var abTransports = []abTransport{
	{name: "goroutine"},
	{name: "eventloop", config: []string{"EventLoop=true"}},
	// DataIn per piece of a message: the echo joins the pieces.
	{name: "goroutine-unbuffered", config: []string{"BufferMessage=false"}},
	{name: "net/http", viaHTTP: true},
}

// abServer is an echo server under test.
type abServer struct {
	s            *Server
	addr         string
	disconnected chan DisconnectedEvent
}

// abStart starts an echo server with BufferMessage on, the transport's
// settings and config, which is closed when the test ends.
func abStart(t *testing.T, tr abTransport, config ...string) *abServer {
	t.Helper()
	s := New()
	for _, c := range append(append([]string{"BufferMessage=true"}, tr.config...), config...) {
		if _, err := s.Config(c); err != nil {
			t.Fatalf("Config(%q): %v", c, err)
		}
	}
	srv := &abServer{s: s, disconnected: make(chan DisconnectedEvent, 1000)}
	echo := func(id int, format DataFormat, msg []byte) {
		err := s.SendMessage(id, format, msg)
		if err != nil && !errors.Is(err, ErrNotConnected) {
			t.Errorf("echo of %d bytes: %v", len(msg), err)
		}
	}
	var mu sync.Mutex
	partial := map[int]*DataInEvent{} // unbuffered: the message so far, by connection
	s.Events.OnDataIn = func(e *DataInEvent) {
		if e.EOM && e.DataFormat != FormatAutomatic {
			echo(e.ConnectionID, e.DataFormat, e.TextB) // a whole message
			return
		}
		mu.Lock()
		p := partial[e.ConnectionID]
		if p == nil {
			p = &DataInEvent{DataFormat: e.DataFormat}
			partial[e.ConnectionID] = p
		}
		mu.Unlock()
		// DataIn promises text pieces made of whole UTF-8 sequences.
		if p.DataFormat == FormatText && !utf8.Valid(e.TextB) {
			t.Errorf("DataIn piece %q of a text message is not whole UTF-8", e.TextB)
		}
		p.TextB = append(p.TextB, e.TextB...)
		if e.EOM {
			mu.Lock()
			delete(partial, e.ConnectionID)
			mu.Unlock()
			echo(e.ConnectionID, p.DataFormat, p.TextB)
		}
	}
	s.Events.OnDisconnected = func(e *DisconnectedEvent) {
		select {
		case srv.disconnected <- *e:
		default:
		}
	}
	if !tr.viaHTTP {
		srv.addr = strings.TrimPrefix(startServer(t, s), "ws://")
		return srv
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), abTimeout)
		defer cancel()
		s.ShutdownContext(ctx)
		if ctx.Err() != nil {
			t.Errorf("connections still running %v after Shutdown", abTimeout)
		}
		hs.Close()
	})
	srv.addr = ln.Addr().String()
	return srv
}

// abEach runs f for every transport, each with its own server.
func abEach(t *testing.T, f func(t *testing.T, srv *abServer), config ...string) {
	abEachTransport(t, func(t *testing.T, _ abTransport, srv *abServer) { f(t, srv) }, config...)
}

// abEachTransport is abEach for tests that depend on the transport.
func abEachTransport(t *testing.T, f func(t *testing.T, tr abTransport, srv *abServer), config ...string) {
	for _, tr := range abTransports {
		t.Run(tr.name, func(t *testing.T) { f(t, tr, abStart(t, tr, config...)) })
	}
}

// abCase is one case of a group: what the client does and expects.
type abCase struct {
	name string
	run  func(t *testing.T, c *abClient)
}

// abRun dials a connection for each case, on every transport.
func abRun(t *testing.T, cases []abCase, config ...string) {
	abEach(t, func(t *testing.T, srv *abServer) {
		for _, cs := range cases {
			t.Run(cs.name, func(t *testing.T) { cs.run(t, abDial(t, srv.addr, "")) })
		}
	}, config...)
}

// abClient is a raw WebSocket client.
type abClient struct {
	t         *testing.T
	nc        net.Conn
	br        *bufio.Reader
	pmd       *abDeflate // nil unless permessage-deflate was negotiated
	closeSent bool
	// A fragmented message from the server in progress.
	msgOp  byte
	msgZ   bool
	msgBuf []byte
	inMsg  bool
}

// abDial opens a WebSocket connection, offering extensions when not empty.
func abDial(t *testing.T, addr, extensions string) *abClient {
	t.Helper()
	c := abConnect(t, addr)
	c.handshake(addr, extensions, nil, 0)
	return c
}

// abConnect opens a TCP connection, closed when the test ends.
func abConnect(t *testing.T, addr string) *abClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, abTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &abClient{t: t, nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
}

// handshake sends the opening handshake, offering extensions when not empty
// and followed in the same write by early, in writes of chop bytes (0: one
// write), and checks the 101 response (RFC 6455 section 4.2.2).
func (c *abClient) handshake(addr, extensions string, early []byte, chop int) {
	t := c.t
	t.Helper()
	key := wiretest.NewKey()
	var extra []string
	if extensions != "" {
		extra = append(extra, "Sec-WebSocket-Extensions: "+extensions)
	}
	req := append(wiretest.Request("/autobahn", addr, key, extra...), early...)
	if chop > 0 {
		c.writeChopped(req, chop)
	} else {
		c.writeRaw(req)
	}
	c.nc.SetReadDeadline(time.Now().Add(abTimeout))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	accept := wiretest.Accept(key)
	if resp.StatusCode != 101 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(resp.Header.Get("Connection"), "Upgrade") || resp.Header.Get("Sec-WebSocket-Accept") != accept {
		t.Fatalf("handshake response %d %v", resp.StatusCode, resp.Header)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		if extensions == "" {
			t.Fatalf("extension %q answered without an offer", ext)
		}
		c.pmd = abParseDeflate(t, ext)
	}
}

// writeRaw writes b; the server may already have closed, which the caller
// finds out by reading.
func (c *abClient) writeRaw(b []byte) {
	c.nc.SetWriteDeadline(time.Now().Add(abTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Logf("write: %v", err)
	}
}

// writeChopped writes b in pieces of n bytes, one write each.
func (c *abClient) writeChopped(b []byte, n int) {
	for len(b) > 0 {
		k := min(n, len(b))
		c.writeRaw(b[:k])
		b = b[k:]
	}
}

// encode returns a client frame masked with a random key; rsv holds the
// RSV bits as in the first byte (0x40, 0x20, 0x10).
func (c *abClient) encode(fin bool, rsv, op byte, payload []byte) []byte {
	return wiretest.Frame{Fin: fin, RSV: rsv, Op: op, Payload: payload, Key: wiretest.RandomKey()}.Bytes()
}

// send writes one frame.
func (c *abClient) send(fin bool, op byte, payload []byte) {
	c.writeRaw(c.encode(fin, 0, op, payload))
}

func (c *abClient) sendText(s string)        { c.send(true, abText, []byte(s)) }
func (c *abClient) sendBinary(b []byte)      { c.send(true, abBinary, b) }
func (c *abClient) sendPing(p []byte)        { c.send(true, abPing, p) }
func (c *abClient) sendClose(payload []byte) { c.send(true, abClose, payload); c.closeSent = true }

// readFrame reads one server frame. Server frames are never masked (RFC 6455
// section 5.1), never carry RSV2 or RSV3, and give their length in the
// shortest form (section 5.2).
func (c *abClient) readFrame() (wiretest.Frame, error) {
	c.nc.SetReadDeadline(time.Now().Add(abTimeout))
	f, err := wiretest.ReadFrame(c.br, 1<<40)
	if err != nil {
		return f, err
	}
	switch n := len(f.Payload); {
	case !f.Unmasked:
		c.t.Fatalf("the server sent a masked frame (op %#x)", f.Op)
	case f.RSV&(wiretest.RSV2|wiretest.RSV3) != 0:
		c.t.Fatalf("the server set RSV2/RSV3 (op %#x)", f.Op)
	case f.LenForm == 2 && n < 126:
		c.t.Fatalf("the server sent length %d in 16 bits", n)
	case f.LenForm == 8 && n <= 0xFFFF:
		c.t.Fatalf("the server sent length %d in 64 bits", n)
	}
	return f, nil
}

// abEvent is what the server sent next: a whole data message or a control frame.
type abEvent struct {
	op      byte
	payload []byte
}

func (e abEvent) String() string {
	name := map[byte]string{abText: "text", abBinary: "binary", abClose: "close", abPing: "ping", abPong: "pong"}[e.op]
	if len(e.payload) > 40 {
		return fmt.Sprintf("%s (%d bytes) %q...", name, len(e.payload), e.payload[:40])
	}
	return fmt.Sprintf("%s %q", name, e.payload)
}

// next returns the next message or control frame from the server, joining
// fragments and inflating compressed messages, and checking the server keeps
// the framing rules it enforces on clients.
func (c *abClient) next() abEvent {
	c.t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("reading from the server: %v", err)
		}
		if f.Op >= 0x8 {
			if !f.Fin || len(f.Payload) > 125 || f.RSV != 0 {
				c.t.Fatalf("the server sent a bad control frame: fin %v rsv %#x len %d", f.Fin, f.RSV, len(f.Payload))
			}
			return abEvent{f.Op, f.Payload}
		}
		switch {
		case f.Op == abCont && !c.inMsg:
			c.t.Fatal("the server sent a continuation frame outside a message")
		case f.Op != abCont && c.inMsg:
			c.t.Fatal("the server began a message inside another")
		case f.Op != abCont && f.Op != abText && f.Op != abBinary:
			c.t.Fatalf("the server sent opcode %#x", f.Op)
		case f.Op == abCont && f.RSV != 0:
			c.t.Fatal("the server set RSV1 on a continuation frame")
		case f.RSV != 0 && c.pmd == nil:
			c.t.Fatal("the server set RSV1 without permessage-deflate")
		}
		if f.Op != abCont {
			c.inMsg, c.msgOp, c.msgZ, c.msgBuf = true, f.Op, f.RSV != 0, c.msgBuf[:0]
		}
		c.msgBuf = append(c.msgBuf, f.Payload...)
		if !f.Fin {
			continue
		}
		c.inMsg = false
		msg := bytes.Clone(c.msgBuf)
		if c.msgZ {
			msg = c.pmd.inflate(c.t, msg)
		}
		if c.msgOp == abText && !utf8.Valid(msg) {
			c.t.Fatalf("the server sent a text message that is not UTF-8: %q", msg)
		}
		return abEvent{c.msgOp, msg}
	}
}

// expect checks that the next thing the server sends is a message or control
// frame of type op with payload.
func (c *abClient) expect(op byte, payload []byte) {
	c.t.Helper()
	got := c.next()
	if want := (abEvent{op, payload}); got.op != op || !bytes.Equal(got.payload, payload) {
		c.t.Fatalf("got %v, want %v", got, want)
	}
}

func (c *abClient) expectText(s string)   { c.t.Helper(); c.expect(abText, []byte(s)) }
func (c *abClient) expectBinary(b []byte) { c.t.Helper(); c.expect(abBinary, b) }
func (c *abClient) expectPong(p []byte)   { c.t.Helper(); c.expect(abPong, p) }

// expectClose checks that the server sends a close frame with code next
// (1005: a close frame without a code), answers it as a client does unless
// the client closed first, and checks that the server then closes the TCP
// connection without sending anything more (RFC 6455 sections 5.5.1, 7.1.1).
func (c *abClient) expectClose(code int) {
	c.t.Helper()
	ev := c.next()
	if ev.op != abClose {
		c.t.Fatalf("got %v, want a close frame with code %d", ev, code)
	}
	got := 1005
	switch len(ev.payload) {
	case 0:
	case 1:
		c.t.Fatal("the server sent a close frame with a 1-byte payload")
	default:
		got = int(binary.BigEndian.Uint16(ev.payload))
		if !utf8.Valid(ev.payload[2:]) {
			c.t.Fatalf("the server's close reason is not UTF-8: %q", ev.payload[2:])
		}
	}
	if got != code {
		c.t.Fatalf("close code %d (%q), want %d", got, ev.payload[min(2, len(ev.payload)):], code)
	}
	if !c.closeSent {
		c.sendClose(ev.payload[:min(2, len(ev.payload))])
	}
	c.expectEOF()
}

// expectEOF checks that the server closes the connection and sends nothing
// more (a reset after its close frame counts as closing too).
func (c *abClient) expectEOF() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(abTimeout))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("the server sent % x after its close frame", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("the server did not close the TCP connection within %v", abTimeout)
	}
}

// fill returns n bytes of a repeating pattern.
func fill(n int, pattern string) []byte {
	return bytes.Repeat([]byte(pattern), n/len(pattern)+1)[:n]
}

// TestAutobahn1_Framing_RFC6455_5_2 sends text and binary messages of the
// sizes where the length encoding changes, whole and in chopped writes.
func TestAutobahn1_Framing_RFC6455_5_2(t *testing.T) {
	var cases []abCase
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		cases = append(cases,
			abCase{fmt.Sprintf("1.1 text %d bytes", n), func(t *testing.T, c *abClient) {
				msg := string(fill(n, "*"))
				c.sendText(msg)
				c.expectText(msg)
				c.sendClose(wiretest.ClosePayload(1000, ""))
				c.expectClose(1000)
			}},
			abCase{fmt.Sprintf("1.2 binary %d bytes", n), func(t *testing.T, c *abClient) {
				msg := fill(n, "\xfe")
				c.sendBinary(msg)
				c.expectBinary(msg)
				c.sendClose(wiretest.ClosePayload(1000, ""))
				c.expectClose(1000)
			}},
		)
	}
	cases = append(cases,
		abCase{"1.1.8 text 65536 bytes in 997-byte writes", func(t *testing.T, c *abClient) {
			msg := fill(65536, "*")
			c.writeChopped(c.encode(true, 0, abText, msg), 997)
			c.expectText(string(msg))
		}},
		abCase{"1.2.8 binary 65536 bytes in 997-byte writes", func(t *testing.T, c *abClient) {
			msg := fill(65536, "\xfe")
			c.writeChopped(c.encode(true, 0, abBinary, msg), 997)
			c.expectBinary(msg)
		}},
	)
	abRun(t, cases)
}

// TestAutobahn2_PingPong_RFC6455_5_5_2 checks that pings get pongs with the
// same payload, and that unsolicited pongs are ignored (section 5.5.3).
func TestAutobahn2_PingPong_RFC6455_5_5_2(t *testing.T) {
	bin := make([]byte, 16)
	for i := range bin {
		bin[i] = byte(0xf0 + i)
	}
	p125 := fill(125, "\xfe")
	abRun(t, []abCase{
		{"2.1 ping without payload", func(t *testing.T, c *abClient) { c.sendPing(nil); c.expectPong(nil) }},
		{"2.2 ping with text payload", func(t *testing.T, c *abClient) {
			c.sendPing([]byte("Hello, world!"))
			c.expectPong([]byte("Hello, world!"))
		}},
		{"2.3 ping with binary payload", func(t *testing.T, c *abClient) { c.sendPing(bin); c.expectPong(bin) }},
		{"2.4 ping with 125-byte payload", func(t *testing.T, c *abClient) { c.sendPing(p125); c.expectPong(p125) }},
		{"2.5 ping with 126-byte payload", func(t *testing.T, c *abClient) {
			c.sendPing(fill(126, "\xfe"))
			c.expectClose(1002)
		}},
		{"2.6 ping with 125-byte payload in 1-byte writes", func(t *testing.T, c *abClient) {
			c.writeChopped(c.encode(true, 0, abPing, p125), 1)
			c.expectPong(p125)
		}},
		{"2.7 unsolicited pong without payload", func(t *testing.T, c *abClient) {
			c.send(true, abPong, nil)
			c.sendPing([]byte("after"))
			c.expectPong([]byte("after"))
		}},
		{"2.8 unsolicited pong with payload", func(t *testing.T, c *abClient) {
			c.send(true, abPong, []byte("unsolicited pong payload"))
			c.sendText("after")
			c.expectText("after")
		}},
		{"2.9 unsolicited pong, then ping", func(t *testing.T, c *abClient) {
			c.send(true, abPong, []byte("unsolicited"))
			c.sendPing([]byte("solicited"))
			c.expectPong([]byte("solicited"))
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.expectClose(1000)
		}},
		{"2.10 ten pings", func(t *testing.T, c *abClient) {
			for i := range 10 {
				c.sendPing([]byte(fmt.Sprintf("payload-%d", i)))
			}
			for i := range 10 {
				c.expectPong([]byte(fmt.Sprintf("payload-%d", i)))
			}
		}},
		{"2.11 ten pings in 1-byte writes", func(t *testing.T, c *abClient) {
			var all []byte
			for i := range 10 {
				all = append(all, c.encode(true, 0, abPing, []byte(fmt.Sprintf("payload-%d", i)))...)
			}
			c.writeChopped(all, 1)
			for i := range 10 {
				c.expectPong([]byte(fmt.Sprintf("payload-%d", i)))
			}
		}},
	})
}

// TestAutobahn3_ReservedBits_RFC6455_5_2 sets RSV bits no extension defined:
// the server fails the connection with 1002, after echoing what came before.
func TestAutobahn3_ReservedBits_RFC6455_5_2(t *testing.T) {
	var cases []abCase
	for rsv := 1; rsv <= 7; rsv++ {
		bits := byte(rsv << 4)
		cases = append(cases,
			abCase{fmt.Sprintf("3.%d text with RSV=%d", rsv, rsv), func(t *testing.T, c *abClient) {
				c.writeRaw(c.encode(true, bits, abText, []byte("Hello, world!")))
				c.expectClose(1002)
			}},
			abCase{fmt.Sprintf("3.%d RSV=%d after a message, ping after", rsv, rsv), func(t *testing.T, c *abClient) {
				c.sendText("Hello, world!")
				c.writeRaw(c.encode(true, bits, abBinary, []byte{0, 1, 2}))
				c.sendPing([]byte("never answered"))
				c.expectText("Hello, world!")
				c.expectClose(1002)
			}},
			abCase{fmt.Sprintf("3.%d ping with RSV=%d", rsv, rsv), func(t *testing.T, c *abClient) {
				c.writeRaw(c.encode(true, bits, abPing, []byte("ping")))
				c.expectClose(1002)
			}},
			abCase{fmt.Sprintf("3.%d close with RSV=%d", rsv, rsv), func(t *testing.T, c *abClient) {
				c.writeRaw(c.encode(true, bits, abClose, wiretest.ClosePayload(1000, "")))
				c.expectClose(1002)
			}},
		)
	}
	abRun(t, cases)
}

// TestAutobahn4_ReservedOpcodes_RFC6455_5_2 sends the reserved data opcodes
// 3-7 and control opcodes 0xB-0xF: 1002.
func TestAutobahn4_ReservedOpcodes_RFC6455_5_2(t *testing.T) {
	var cases []abCase
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cases = append(cases,
			abCase{fmt.Sprintf("4 opcode %#x", op), func(t *testing.T, c *abClient) {
				c.send(true, op, nil)
				c.expectClose(1002)
			}},
			abCase{fmt.Sprintf("4 opcode %#x with payload after a message, ping after", op), func(t *testing.T, c *abClient) {
				c.sendText("Hello, world!")
				c.send(true, op, []byte("reserved opcode payload"))
				c.sendPing(nil)
				c.expectText("Hello, world!")
				c.expectClose(1002)
			}},
		)
	}
	abRun(t, cases)
}

// TestAutobahn5_Fragmentation_RFC6455_5_4 checks fragmented messages, control
// frames between fragments, and the fragmentation errors (1002).
func TestAutobahn5_Fragmentation_RFC6455_5_4(t *testing.T) {
	abRun(t, []abCase{
		{"5.1 ping in two fragments", func(t *testing.T, c *abClient) {
			c.send(false, abPing, []byte("frag1"))
			c.send(true, abCont, []byte("frag2"))
			c.expectClose(1002)
		}},
		{"5.2 pong in two fragments", func(t *testing.T, c *abClient) {
			c.send(false, abPong, []byte("frag1"))
			c.send(true, abCont, []byte("frag2"))
			c.expectClose(1002)
		}},
		{"5.2 close without FIN", func(t *testing.T, c *abClient) {
			c.send(false, abClose, wiretest.ClosePayload(1000, ""))
			c.expectClose(1002)
		}},
		{"5.3 text in two fragments", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("frag1"))
			c.send(true, abCont, []byte("frag2"))
			c.expectText("frag1frag2")
		}},
		{"5.4 text in two fragments, 1-byte writes", func(t *testing.T, c *abClient) {
			c.writeChopped(append(c.encode(false, 0, abText, []byte("frag1")), c.encode(true, 0, abCont, []byte("frag2"))...), 1)
			c.expectText("frag1frag2")
		}},
		{"5.5 binary in many fragments", func(t *testing.T, c *abClient) {
			c.send(false, abBinary, []byte{0})
			for i := 1; i < 100; i++ {
				c.send(false, abCont, []byte{byte(i)})
			}
			c.send(true, abCont, nil)
			want := make([]byte, 100)
			for i := range want {
				want[i] = byte(i)
			}
			c.expectBinary(want)
		}},
		{"5.6 ping between fragments", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("frag1"))
			c.sendPing([]byte("ping payload"))
			c.send(true, abCont, []byte("frag2"))
			c.expectPong([]byte("ping payload"))
			c.expectText("frag1frag2")
		}},
		{"5.7 ping between fragments, 1-byte writes", func(t *testing.T, c *abClient) {
			var all []byte
			all = append(all, c.encode(false, 0, abText, []byte("frag1"))...)
			all = append(all, c.encode(true, 0, abPing, []byte("ping payload"))...)
			all = append(all, c.encode(true, 0, abCont, []byte("frag2"))...)
			c.writeChopped(all, 1)
			c.expectPong([]byte("ping payload"))
			c.expectText("frag1frag2")
		}},
		{"5.8 pong between fragments", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("frag1"))
			c.send(true, abPong, []byte("unsolicited"))
			c.send(true, abCont, []byte("frag2"))
			c.expectText("frag1frag2")
		}},
		{"5.9 continuation with FIN, no message", func(t *testing.T, c *abClient) {
			c.send(true, abCont, []byte("non-continuation payload"))
			c.sendText("Hello, world!")
			c.expectClose(1002)
		}},
		{"5.10 continuation with FIN, no message, 1-byte writes", func(t *testing.T, c *abClient) {
			c.writeChopped(append(c.encode(true, 0, abCont, []byte("non-continuation payload")), c.encode(true, 0, abText, []byte("Hello, world!"))...), 1)
			c.expectClose(1002)
		}},
		{"5.12 continuation without FIN, no message", func(t *testing.T, c *abClient) {
			c.send(false, abCont, []byte("non-continuation payload"))
			c.sendText("Hello, world!")
			c.expectClose(1002)
		}},
		{"5.15 continuation after a complete fragmented message", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("fragment1"))
			c.send(true, abCont, []byte("fragment2"))
			c.send(false, abCont, []byte("fragment3"))
			c.send(true, abText, []byte("fragment4"))
			c.expectText("fragment1fragment2")
			c.expectClose(1002)
		}},
		{"5.17 two continuation frames with FIN, no message", func(t *testing.T, c *abClient) {
			c.send(true, abCont, []byte("fragment1"))
			c.send(true, abText, []byte("fragment2"))
			c.expectClose(1002)
		}},
		{"5.18 text during a fragmented text message", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("fragment1"))
			c.send(true, abText, []byte("fragment2"))
			c.expectClose(1002)
		}},
		{"5.18 binary during a fragmented text message", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("fragment1"))
			c.send(false, abBinary, []byte("fragment2"))
			c.expectClose(1002)
		}},
		{"5.19 pings between many fragments", func(t *testing.T, c *abClient) {
			for i := 1; i <= 5; i++ {
				op := byte(abCont)
				if i == 1 {
					op = abText
				}
				c.send(i == 5, op, []byte(fmt.Sprintf("fragment%d", i)))
				if i == 2 || i == 4 {
					c.sendPing([]byte(fmt.Sprintf("pongme %d!", i)))
				}
			}
			c.expectPong([]byte("pongme 2!"))
			c.expectPong([]byte("pongme 4!"))
			c.expectText("fragment1fragment2fragment3fragment4fragment5")
		}},
		{"5.x fragmented close frame during a message", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("fragment1"))
			c.send(false, abClose, wiretest.ClosePayload(1000, ""))
			c.expectClose(1002)
		}},
	})
}

// abValidUTF8 and abInvalidUTF8 are texts after the Autobahn case 6 groups.
var abValidUTF8 = []string{
	"",
	"Hello-µ@ßöäüàá-UTF-8!!",
	"κόσμε",
	"\x00", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xef\xbf\xbe",
}

var abInvalidUTF8 = []string{
	"κόσμε\xed\xa0\x80edited",  // 6.3 surrogate
	"\xce\xba\xe1\xbd",         // 6.4 truncated at the end
	"\x80", "\xbf", "\x80\xbf", // 6.8 continuation bytes
	"\xc0 \xc1 ",     // 6.10 lead bytes that never appear
	"\xe0 ", "\xf0 ", // 6.12 lead bytes followed by space
	"\xf8\x88\x80\x80\x80", // 6.8 five bytes
	"\xfc\x84\x80\x80\x80\x80",
	"\xfe", "\xff", "\xfe\xfe\xff\xff",
	"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", // 6.13 overlong
	"\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", // 6.18 surrogates
	"\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf", // 6.17 beyond U+10FFFF
}

// TestAutobahn6_UTF8_RFC6455_8_1 sends valid and invalid text, whole, in
// 1-byte fragments and in 1-byte writes: valid text is echoed, invalid text
// fails the connection with 1007.
func TestAutobahn6_UTF8_RFC6455_8_1(t *testing.T) {
	var cases []abCase
	type mode struct {
		name string
		send func(c *abClient, msg []byte)
	}
	modes := []mode{
		{"one frame", func(c *abClient, msg []byte) { c.send(true, abText, msg) }},
		{"1-byte fragments", func(c *abClient, msg []byte) {
			if len(msg) == 0 {
				c.send(true, abText, nil)
				return
			}
			for i := range msg {
				op := byte(abCont)
				if i == 0 {
					op = abText
				}
				c.send(i == len(msg)-1, op, msg[i:i+1])
			}
		}},
		{"1-byte writes", func(c *abClient, msg []byte) { c.writeChopped(c.encode(true, 0, abText, msg), 1) }},
	}
	for _, m := range modes {
		for _, s := range abValidUTF8 {
			cases = append(cases, abCase{fmt.Sprintf("6 valid %q %s", s, m.name), func(t *testing.T, c *abClient) {
				m.send(c, []byte(s))
				c.expectText(s)
			}})
		}
		for _, s := range abInvalidUTF8 {
			cases = append(cases, abCase{fmt.Sprintf("6 invalid %q %s", s, m.name), func(t *testing.T, c *abClient) {
				m.send(c, []byte(s))
				c.expectClose(1007)
			}})
		}
	}
	cases = append(cases, abCase{"6 invalid text after valid text", func(t *testing.T, c *abClient) {
		c.sendText("κόσμε")
		c.sendText("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80")
		c.sendText("never echoed")
		c.expectText("κόσμε")
		c.expectClose(1007)
	}}, abCase{"6 binary is not checked", func(t *testing.T, c *abClient) {
		c.sendBinary([]byte("\xff\xfe\xed\xa0\x80"))
		c.expectBinary([]byte("\xff\xfe\xed\xa0\x80"))
	}})
	abRun(t, cases)
}

// TestAutobahn6_4_UTF8FailFast_RFC6455_8_1 sends a text message whose invalid
// byte comes before its end, and waits for the server's 1007 before sending
// the rest: the server must judge the text as it arrives, not at the end of
// the message or frame.
func TestAutobahn6_4_UTF8FailFast_RFC6455_8_1(t *testing.T) {
	head, bad, tail := []byte("κόσμε"), []byte("\xf4\x90\x80\x80"), []byte("edited")
	abRun(t, []abCase{
		{"6.4.1 invalid fragment, rest of the message withheld", func(t *testing.T, c *abClient) {
			c.send(false, abText, head)
			c.send(false, abCont, bad)
			c.expectClose(1007)
		}},
		{"6.4.2 invalid byte starts a fragment", func(t *testing.T, c *abClient) {
			c.send(false, abText, append(bytes.Clone(head), 0xf4))
			c.send(false, abCont, []byte{0x90})
			c.expectClose(1007)
		}},
		{"6.4.3 invalid bytes in a frame, rest of the frame withheld", func(t *testing.T, c *abClient) {
			msg := append(append(bytes.Clone(head), bad...), tail...)
			frame := c.encode(true, 0, abText, msg)
			hdr := len(frame) - len(msg)
			c.writeRaw(frame[:hdr+len(head)])
			c.writeRaw(frame[hdr+len(head) : hdr+len(head)+len(bad)])
			c.expectClose(1007)
		}},
		{"6.4.4 invalid byte alone, rest of the frame withheld", func(t *testing.T, c *abClient) {
			msg := append(append(bytes.Clone(head), bad...), tail...)
			frame := c.encode(true, 0, abText, msg)
			hdr := len(frame) - len(msg)
			c.writeRaw(frame[:hdr+len(head)])
			c.writeRaw(frame[hdr+len(head) : hdr+len(head)+1]) // 0xF4: still a valid prefix
			c.writeRaw(frame[hdr+len(head)+1 : hdr+len(head)+2])
			c.expectClose(1007)
		}},
		{"6.4 invalid byte in the first fragment of a large message", func(t *testing.T, c *abClient) {
			// The frame announces 1 MiB; only 100 bytes are ever sent.
			msg := append(fill(90, "a"), 0xff)
			frame := c.encode(false, 0, abText, append(msg, fill(1<<20-len(msg), "a")...))
			c.writeRaw(frame[:14+len(msg)])
			c.expectClose(1007)
		}},
	})
}

// TestAutobahn7_Close_RFC6455_7 checks the closing handshake: the server
// echoes the client's code, refuses invalid codes (1002) and reasons (1007),
// and ignores everything after a close frame.
func TestAutobahn7_Close_RFC6455_7(t *testing.T) {
	cases := []abCase{
		{"7.1.1 text, then close", func(t *testing.T, c *abClient) {
			c.sendText("Hello World!")
			c.expectText("Hello World!")
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.expectClose(1000)
		}},
		{"7.1.2 close twice", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.expectClose(1000)
		}},
		{"7.1.3 ping after close", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.sendPing([]byte("Hello World!"))
			c.expectClose(1000)
		}},
		{"7.1.4 text after close", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.sendText("Hello World!")
			c.expectClose(1000)
		}},
		{"7.1.5 close inside a fragmented message", func(t *testing.T, c *abClient) {
			c.send(false, abText, []byte("fragment1"))
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.send(true, abCont, []byte("fragment2"))
			c.expectClose(1000)
		}},
		{"7.1.6 large message, then close", func(t *testing.T, c *abClient) {
			msg := fill(256<<10, "BAsd7&jh23")
			c.sendText(string(msg))
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.expectText(string(msg))
			c.expectClose(1000)
		}},
		{"7.1 garbage after close", func(t *testing.T, c *abClient) {
			c.writeRaw(append(c.encode(true, 0, abClose, wiretest.ClosePayload(1000, "")), 0xff, 0xff, 0xff, 0xff))
			c.closeSent = true
			c.expectClose(1000)
		}},
		{"7.3.1 close without payload", func(t *testing.T, c *abClient) {
			c.sendClose(nil)
			c.expectClose(1005)
		}},
		{"7.3.2 close with 1-byte payload", func(t *testing.T, c *abClient) {
			c.sendClose([]byte{0x03})
			c.expectClose(1002)
		}},
		{"7.3.3 close with code only", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, ""))
			c.expectClose(1000)
		}},
		{"7.3.4 close with code and reason", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, "Hello World!"))
			c.expectClose(1000)
		}},
		{"7.3.5 close with 123-byte reason", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, string(fill(123, "*"))))
			c.expectClose(1000)
		}},
		{"7.3.6 close with 124-byte reason", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, string(fill(124, "*"))))
			c.expectClose(1002)
		}},
		{"7.5.1 close reason not UTF-8", func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))
			c.expectClose(1007)
		}},
	}
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, abCase{fmt.Sprintf("7.7 valid code %d", code), func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(code, ""))
			c.expectClose(code)
		}})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, abCase{fmt.Sprintf("7.9 invalid code %d", code), func(t *testing.T, c *abClient) {
			c.sendClose(wiretest.ClosePayload(code, ""))
			c.expectClose(1002)
		}})
	}
	abRun(t, cases)
}

// TestAutobahn9_LargeMessages_RFC6455_5_4 echoes messages of 1 to 16 MiB,
// whole, in many fragments and in small writes, and many small messages.
func TestAutobahn9_LargeMessages_RFC6455_5_4(t *testing.T) {
	sizes := []int{1 << 20, 16 << 20}
	if testing.Short() {
		sizes = sizes[:1]
	}
	var cases []abCase
	for _, n := range sizes {
		cases = append(cases,
			abCase{fmt.Sprintf("9.1 text %d MiB", n>>20), func(t *testing.T, c *abClient) {
				msg := fill(n, "BAsd7&jh23Ü")
				msg = msg[:lastRuneStart(msg)]
				c.sendText(string(msg))
				c.expectText(string(msg))
			}},
			abCase{fmt.Sprintf("9.2 binary %d MiB", n>>20), func(t *testing.T, c *abClient) {
				msg := fill(n, "\xfe\x00\x01")
				c.sendBinary(msg)
				c.expectBinary(msg)
			}},
		)
	}
	for _, frame := range []int{64, 1 << 10, 64 << 10, 1 << 20} {
		cases = append(cases, abCase{fmt.Sprintf("9.3 text 1 MiB in %d-byte fragments", frame), func(t *testing.T, c *abClient) {
			msg := fill(1<<20, "*")
			var all []byte
			for i := 0; i < len(msg); i += frame {
				op := byte(abCont)
				if i == 0 {
					op = abText
				}
				end := min(i+frame, len(msg))
				all = append(all, c.encode(end == len(msg), 0, op, msg[i:end])...)
			}
			c.writeRaw(all)
			c.expectText(string(msg))
		}})
	}
	for _, chop := range []int{64, 4 << 10, 128 << 10} {
		cases = append(cases, abCase{fmt.Sprintf("9.6 binary 1 MiB in %d-byte writes", chop), func(t *testing.T, c *abClient) {
			msg := fill(1<<20, "\xfe")
			c.writeChopped(c.encode(true, 0, abBinary, msg), chop)
			c.expectBinary(msg)
		}})
	}
	cases = append(cases, abCase{"9.7 1000 text messages", func(t *testing.T, c *abClient) {
		for i := range 1000 {
			msg := fmt.Sprintf("message %d", i)
			c.sendText(msg)
			c.expectText(msg)
		}
	}}, abCase{"9.8 1000 binary messages", func(t *testing.T, c *abClient) {
		for i := range 1000 {
			msg := fill(i%200, "\x00\xff")
			c.sendBinary(msg)
			c.expectBinary(msg)
		}
	}})
	abRun(t, cases)
}

// lastRuneStart returns the length of b without a trailing incomplete rune.
func lastRuneStart(b []byte) int {
	for i := len(b); i > 0 && len(b)-i < utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i-1]) {
			if utf8.FullRune(b[i-1:]) {
				return len(b)
			}
			return i - 1
		}
	}
	return len(b)
}

// abDeflate is the client's side of permessage-deflate (RFC 7692), as the
// server's response set it.
type abDeflate struct {
	serverNoContext, clientNoContext bool
	serverBits, clientBits           int

	w    io.WriteCloser // the compressor, kept between messages with context takeover
	wbuf bytes.Buffer
	hist []byte // the server's recent output, for its back-references
	// flush is the compressor's Flush.
	flush func() error
}

// abParseDeflate reads a Sec-WebSocket-Extensions response for
// permessage-deflate (RFC 7692 section 7), failing on anything the client
// did not allow.
func abParseDeflate(t *testing.T, ext string) *abDeflate {
	t.Helper()
	if strings.Contains(ext, ",") {
		t.Fatalf("response with several extensions: %q", ext)
	}
	parts := strings.Split(ext, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		t.Fatalf("response extension %q", ext)
	}
	d := &abDeflate{serverBits: 15, clientBits: 15}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		if seen[name] {
			t.Fatalf("parameter %s twice in %q", name, ext)
		}
		seen[name] = true
		bits := 0
		if hasValue {
			if _, err := fmt.Sscanf(value, "%d", &bits); err != nil || bits < 8 || bits > 15 {
				t.Fatalf("bad window bits in %q", ext)
			}
		}
		switch name {
		case "server_no_context_takeover":
			d.serverNoContext = true
		case "client_no_context_takeover":
			d.clientNoContext = true
		case "server_max_window_bits":
			d.serverBits = bits
		case "client_max_window_bits":
			d.clientBits = bits
		default:
			t.Fatalf("unknown parameter %q in %q", name, ext)
		}
	}
	return d
}

// compress deflates msg as one message: a sync flush without its
// 0x00 0x00 0xff 0xff tail (RFC 7692 section 7.2.1), with the negotiated
// window and context takeover.
func (d *abDeflate) compress(t *testing.T, msg []byte) []byte {
	t.Helper()
	if d.w == nil || d.clientNoContext {
		if d.clientBits < 15 {
			w, err := kflate.NewWriterWindow(&d.wbuf, 1<<d.clientBits)
			if err != nil {
				t.Fatal(err)
			}
			d.w, d.flush = w, w.Flush
		} else {
			w, err := stdflate.NewWriter(&d.wbuf, stdflate.BestSpeed)
			if err != nil {
				t.Fatal(err)
			}
			d.w, d.flush = w, w.Flush
		}
	}
	d.wbuf.Reset()
	d.w.Write(msg)
	d.flush()
	out := bytes.Clone(d.wbuf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("sync flush without its marker: % x", out)
	}
	return out[:len(out)-4]
}

// inflate decompresses a message from the server, with the server's earlier
// output as the dictionary unless it resets its context.
func (d *abDeflate) inflate(t *testing.T, p []byte) []byte {
	t.Helper()
	in := io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))
	var r io.ReadCloser
	if d.serverNoContext {
		r = stdflate.NewReader(in)
	} else {
		r = stdflate.NewReaderDict(in, d.hist)
	}
	out, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflating a %d-byte message from the server: %v", len(p), err)
	}
	if !d.serverNoContext {
		d.hist = append(d.hist, out...)
		if len(d.hist) > 1<<d.serverBits {
			d.hist = d.hist[len(d.hist)-1<<d.serverBits:]
		}
	}
	return out
}

// sendCompressed sends msg compressed, in frames of at most frame bytes
// (0: one frame), RSV1 on the first (RFC 7692 section 6).
func (c *abClient) sendCompressed(op byte, msg []byte, frame int) {
	z := c.pmd.compress(c.t, msg)
	if frame <= 0 {
		frame = len(z) + 1
	}
	var all []byte
	for i := 0; i == 0 || i < len(z); i += frame {
		end := min(i+frame, len(z))
		fop, rsv := byte(abCont), byte(0)
		if i == 0 {
			fop, rsv = op, 0x40
		}
		all = append(all, c.encode(end == len(z), rsv, fop, z[i:end])...)
	}
	c.writeRaw(all)
}

// TestAutobahn12_13_PermessageDeflate_RFC7692 negotiates permessage-deflate
// with the offers the Autobahn TestSuite makes and echoes compressed
// messages of 16 bytes to 128 KiB both ways.
func TestAutobahn12_13_PermessageDeflate_RFC7692(t *testing.T) {
	offers := []struct {
		offer string
		want  []string // parameters the response must carry
	}{
		{"permessage-deflate", nil},
		{"permessage-deflate; client_no_context_takeover", []string{"client_no_context_takeover"}},
		{"permessage-deflate; client_max_window_bits", nil},
		{"permessage-deflate; server_no_context_takeover", []string{"server_no_context_takeover"}},
		{"permessage-deflate; server_max_window_bits=9", []string{"server_max_window_bits=9"}},
		{"permessage-deflate; client_max_window_bits=9", nil},
		{"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9",
			[]string{"client_no_context_takeover", "server_no_context_takeover", "server_max_window_bits=9"}},
		{"permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover, permessage-deflate",
			[]string{"client_no_context_takeover"}},
		{"x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate",
			[]string{"server_max_window_bits=10"}},
	}
	rng := rand.New(rand.NewPCG(12, 13))
	words := strings.Fields("the quick brown fox jumps over lazy dog κόσμε Grüße 𝄞 websocket deflate frame message")
	textOf := func(n int) []byte {
		var b []byte
		for len(b) < n {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		return b[:lastRuneStart(b[:n])]
	}
	random := func(n int) []byte {
		b := make([]byte, n+8)
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
		}
		return b[:n]
	}
	// Every Autobahn 12.x size for the first offer, a few for the others.
	allSizes := []int{16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072}
	someSizes := []int{16, 1024, 131072}
	for _, cfg := range []string{"ServerNoContextTakeover=true", "ServerNoContextTakeover=false"} {
		t.Run(cfg, func(t *testing.T) {
			abEach(t, func(t *testing.T, srv *abServer) {
				for k, o := range offers {
					sizes := someSizes
					if k == 0 {
						sizes = allSizes
					}
					t.Run(o.offer, func(t *testing.T) {
						c := abDial(t, srv.addr, o.offer)
						if c.pmd == nil {
							t.Fatal("permessage-deflate was not accepted")
						}
						resp := fmt.Sprintf("%+v", *c.pmd)
						if cfg == "ServerNoContextTakeover=true" && !c.pmd.serverNoContext {
							t.Errorf("ServerNoContextTakeover=true but the response lacks server_no_context_takeover: %s", resp)
						}
						for _, w := range o.want {
							name, bits, _ := strings.Cut(w, "=")
							ok := map[string]bool{
								"client_no_context_takeover": c.pmd.clientNoContext,
								"server_no_context_takeover": c.pmd.serverNoContext,
								"server_max_window_bits":     fmt.Sprint(c.pmd.serverBits) == bits,
							}[name]
							if !ok {
								t.Errorf("response lacks %s: %s", w, resp)
							}
						}
						for _, n := range sizes {
							for i := range 3 {
								op, msg := byte(abText), textOf(n)
								if i == 1 {
									op, msg = abBinary, random(n)
								}
								frame := 0
								if i == 2 {
									frame = 1 + n/7 // compressed, fragmented
								}
								c.sendCompressed(op, msg, frame)
								c.expect(op, msg)
							}
							// Uncompressed messages mix with compressed ones.
							c.sendText(string(textOf(n)[:0]) + "plain")
							c.expectText("plain")
						}
						c.sendClose(wiretest.ClosePayload(1000, ""))
						c.expectClose(1000)
					})
				}
			}, cfg)
		})
	}
}

// TestAutobahn12_13_PermessageDeflateErrors_RFC7692 checks that compression
// faults fail the connection: RSV1 without the extension or on a
// continuation (1002), data that does not inflate and compressed text that is
// not UTF-8 (1007).
func TestAutobahn12_13_PermessageDeflateErrors_RFC7692(t *testing.T) {
	abEach(t, func(t *testing.T, srv *abServer) {
		dial := func(t *testing.T, offer string) *abClient {
			c := abDial(t, srv.addr, offer)
			if c.pmd == nil {
				t.Fatalf("offer %q declined", offer)
			}
			return c
		}
		t.Run("declined offers, then RSV1", func(t *testing.T) {
			c := abDial(t, srv.addr, "permessage-deflate; server_max_window_bits=7, permessage-deflate; foo=bar, permessage-deflate; server_no_context_takeover=1")
			if c.pmd != nil {
				t.Fatalf("an invalid offer was accepted: %+v", *c.pmd)
			}
			c.writeRaw(c.encode(true, 0x40, abText, []byte{0x4a, 0x04, 0x00}))
			c.expectClose(1002)
		})
		t.Run("RSV1 on a continuation frame", func(t *testing.T) {
			c := dial(t, "permessage-deflate")
			z := c.pmd.compress(t, []byte("Hello, Hello, Hello, Hello"))
			c.writeRaw(c.encode(false, 0x40, abText, z[:2]))
			c.writeRaw(c.encode(true, 0x40, abCont, z[2:]))
			c.expectClose(1002)
		})
		t.Run("data that does not inflate", func(t *testing.T) {
			c := dial(t, "permessage-deflate")
			c.writeRaw(c.encode(true, 0x40, abBinary, []byte{0xff, 0xff, 0xff, 0xff, 0xff}))
			c.expectClose(1007)
		})
		t.Run("compressed text that is not UTF-8", func(t *testing.T) {
			c := dial(t, "permessage-deflate")
			c.sendCompressed(abText, []byte("κόσμε\xed\xa0\x80edited"), 0)
			c.expectClose(1007)
		})
	})
}

// TestAutobahn10_MaxMessageSize_RFC6455_10_4 checks that a message over
// MaxMessageSize fails with 1009, compressed or not, before it is all sent.
func TestAutobahn10_MaxMessageSize_RFC6455_10_4(t *testing.T) {
	abEach(t, func(t *testing.T, srv *abServer) {
		t.Run("one frame over the limit, payload withheld", func(t *testing.T) {
			c := abDial(t, srv.addr, "")
			frame := c.encode(true, 0, abBinary, make([]byte, 70000))
			c.writeRaw(frame[:14])
			c.expectClose(1009)
		})
		t.Run("fragments over the limit", func(t *testing.T) {
			c := abDial(t, srv.addr, "")
			c.send(false, abText, fill(40000, "a"))
			c.send(false, abCont, fill(40000, "a"))
			c.expectClose(1009)
		})
		t.Run("at the limit", func(t *testing.T) {
			c := abDial(t, srv.addr, "")
			c.sendBinary(fill(65536, "b"))
			c.expectBinary(fill(65536, "b"))
		})
		t.Run("compressed, over the limit once inflated", func(t *testing.T) {
			c := abDial(t, srv.addr, "permessage-deflate")
			if c.pmd == nil {
				t.Fatal("permessage-deflate declined")
			}
			c.sendCompressed(abBinary, make([]byte, 1<<20), 0)
			c.expectClose(1009)
		})
	}, "MaxMessageSize=65536")
}

// TestConformance_ClientVanishes_RFC6455_7_1_5 drops the TCP connection in
// the middle of a frame: the server ends the connection, and Disconnected
// reports 1006, the code for a connection closed without a close frame.
func TestConformance_ClientVanishes_RFC6455_7_1_5(t *testing.T) {
	abEach(t, func(t *testing.T, srv *abServer) {
		for _, cs := range []struct {
			name string
			send func(c *abClient)
		}{
			{"before any frame", func(c *abClient) {}},
			{"mid-header", func(c *abClient) { c.writeRaw(c.encode(true, 0, abText, fill(300, "x"))[:3]) }},
			{"mid-payload", func(c *abClient) { c.writeRaw(c.encode(true, 0, abBinary, fill(100, "x"))[:16]) }},
			{"mid-message", func(c *abClient) {
				c.send(false, abText, []byte("frag1"))
				c.sendPing([]byte("p"))
				c.expectPong([]byte("p")) // the server has read the fragment
			}},
		} {
			t.Run(cs.name, func(t *testing.T) {
				c := abDial(t, srv.addr, "")
				cs.send(c)
				c.nc.Close()
				select {
				case e := <-srv.disconnected:
					if e.StatusCode != 1006 {
						t.Fatalf("Disconnected with %d %q, want 1006", e.StatusCode, e.Description)
					}
				case <-time.After(abTimeout):
					t.Fatal("no Disconnected event")
				}
			})
		}
		t.Run("after a close frame, Disconnected has the client's code", func(t *testing.T) {
			c := abDial(t, srv.addr, "")
			c.sendClose(wiretest.ClosePayload(4001, "bye"))
			c.expectClose(4001)
			select {
			case e := <-srv.disconnected:
				if e.StatusCode != 4001 {
					t.Fatalf("Disconnected with %d %q, want 4001", e.StatusCode, e.Description)
				}
			case <-time.After(abTimeout):
				t.Fatal("no Disconnected event")
			}
		})
	})
}

// TestConformance_FramesWithHandshake_RFC6455_4_2 sends frames in the same
// write as the opening handshake, and the handshake in 1-byte writes: the
// server reads the frames that follow the request head as the WebSocket
// stream, whatever the TCP segments.
func TestConformance_FramesWithHandshake_RFC6455_4_2(t *testing.T) {
	abEach(t, func(t *testing.T, srv *abServer) {
		t.Run("message and ping with the request", func(t *testing.T) {
			c := abConnect(t, srv.addr)
			early := append(c.encode(true, 0, abText, []byte("early")), c.encode(true, 0, abPing, []byte("p"))...)
			c.handshake(srv.addr, "", early, 0)
			c.expectText("early")
			c.expectPong([]byte("p"))
		})
		t.Run("close with the request", func(t *testing.T) {
			c := abConnect(t, srv.addr)
			c.handshake(srv.addr, "", c.encode(true, 0, abClose, wiretest.ClosePayload(1001, "")), 0)
			c.closeSent = true
			c.expectClose(1001)
		})
		t.Run("protocol error with the request", func(t *testing.T) {
			c := abConnect(t, srv.addr)
			c.handshake(srv.addr, "", c.encode(true, 0x20, abText, []byte("x")), 0)
			c.expectClose(1002)
		})
		t.Run("request and message in 1-byte writes", func(t *testing.T) {
			c := abConnect(t, srv.addr)
			c.handshake(srv.addr, "", c.encode(true, 0, abText, []byte("dribbled")), 1)
			c.expectText("dribbled")
		})
		t.Run("compressed message with the request", func(t *testing.T) {
			c := abConnect(t, srv.addr)
			z := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00} // "Hello", RFC 7692 section 7.2.3.1
			c.handshake(srv.addr, "permessage-deflate", c.encode(true, 0x40, abText, z), 0)
			if c.pmd == nil {
				t.Fatal("permessage-deflate declined")
			}
			c.expectText("Hello")
		})
	})
}

// TestConformance_BadHandshakes_RFC6455_4_2_1 sends opening handshakes the
// server must refuse, and checks the status line, the headers section 4.2.2
// requires and that the server closes the connection.
func TestConformance_BadHandshakes_RFC6455_4_2_1(t *testing.T) {
	abEachTransport(t, func(t *testing.T, tr abTransport, srv *abServer) {
		key := "dGhlIHNhbXBsZSBub25jZQ=="
		good := string(wiretest.Request("/autobahn", srv.addr, key))
		for _, cs := range []struct {
			name    string
			request string
			status  int
			header  string // "Name: value" the response must carry
			rawOnly bool   // net/http applies its own limits and parsing
		}{
			{"no Sec-WebSocket-Key", strings.Replace(good, "Sec-WebSocket-Key: "+key+"\r\n", "", 1), 400, "", false},
			{"short key", strings.Replace(good, key, "c2hvcnQ=", 1), 400, "", false},
			{"no Upgrade", strings.Replace(good, "Upgrade: websocket\r\n", "", 1), 400, "", false},
			{"Connection: keep-alive", strings.Replace(good, "Connection: Upgrade", "Connection: keep-alive", 1), 400, "", false},
			{"no Host", strings.Replace(good, "Host: "+srv.addr+"\r\n", "", 1), 400, "", false},
			{"HTTP/1.0", strings.Replace(good, "HTTP/1.1", "HTTP/1.0", 1), 400, "", false},
			{"obs-fold", strings.Replace(good, "Upgrade: websocket\r\n", "Upgrade: websocket\r\n x\r\n", 1), 400, "", true},
			{"bad header name", strings.Replace(good, "Upgrade:", "Up grade:", 1), 400, "", false},
			{"version 8", strings.Replace(good, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1), 426, "Sec-WebSocket-Version: 13", false},
			{"POST", strings.Replace(good, "GET", "POST", 1), 405, "Allow: GET", false},
			{"head over 16 KiB", strings.Replace(good, "\r\n\r\n", "\r\nX-Big: "+strings.Repeat("a", 17<<10)+"\r\n\r\n", 1), 431, "", true},
			{"head over 16 KiB, unterminated", strings.TrimSuffix(good, "\r\n") + "X-Big: " + strings.Repeat("a", 20<<10), 431, "", true},
		} {
			if cs.rawOnly && tr.viaHTTP {
				continue
			}
			t.Run(cs.name, func(t *testing.T) {
				nc, err := net.DialTimeout("tcp", srv.addr, abTimeout)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(abTimeout))
				go func() { nc.Write([]byte(cs.request)) }() // the server may answer before reading it all
				br := bufio.NewReader(nc)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("reading the response: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != cs.status {
					t.Fatalf("status %d %q, want %d", resp.StatusCode, body, cs.status)
				}
				if k, v, ok := strings.Cut(cs.header, ": "); ok && resp.Header.Get(k) != v {
					t.Fatalf("header %s: %q, want %q", k, resp.Header.Get(k), v)
				}
				if resp.Header.Get("Sec-WebSocket-Accept") != "" {
					t.Fatal("a refusal carries Sec-WebSocket-Accept")
				}
				if tr.viaHTTP {
					return // net/http may keep the connection for more requests
				}
				// The server closes the connection after its refusal.
				if _, err := br.ReadByte(); err == nil {
					t.Fatal("the server sent more after its refusal")
				} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the server kept the connection open after its refusal")
				}
			})
		}
	})
}

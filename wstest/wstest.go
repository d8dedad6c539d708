// Package wstest is a WebSocket client for testing servers and handlers: it
// dials a ws:// URL over TCP (a wsserver.Server that is listening, or an
// httptest.Server), or runs an http.Handler (a wsserver.Server is one) over
// an in-memory pipe, with no socket at all. It sends and receives whole
// messages, answers pings, and closes with a code.
//
//	s := wsserver.New()
//	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
//		s.SendMessage(e.ConnectionID, e.DataFormat, e.Data)
//	}
//	c, err := wstest.DialHandler(ctx, s, "/echo", nil)
//	...
//	c.WriteText("hello")
//	m, err := c.ReadMessage(ctx) // m.Text() == "hello"
//	c.Close(1000, "bye")
//
// Every blocking call waits at most as long as its context allows, and at
// most Options.Timeout (default 10 seconds) when the context has no
// deadline, so that a test that goes wrong fails instead of hanging.
//
// The client is strict: a frame from the server that breaks RFC 6455 (masked,
// reserved bits without an extension, a fragmented or long control frame,
// text that is not UTF-8, an invalid close code) fails the connection with
// 1002 or 1007 and ReadMessage returns an error that says what was wrong.
// It does not offer permessage-deflate.
package wstest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsserver/wsserver/internal/protocol"
)

// MessageType is the type of a message: Text or Binary. Its values are
// those of wsserver.FormatText and wsserver.FormatBinary, so
// wsserver.DataFormat(t) converts it.
type MessageType int

// The message types.
const (
	Text   MessageType = 1
	Binary MessageType = 2
)

// Message is a whole message received from the server.
type Message struct {
	Type MessageType
	Data []byte
}

// Text returns the message's data as a string.
func (m Message) Text() string { return string(m.Data) }

// CloseError is the error reads return once the server has closed the
// connection: the code and reason of its close frame (1005 for a close frame
// without a code, 1006 when the connection ended without one).
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wstest: the server closed the connection: %d %s", e.Code, e.Reason)
}

// HandshakeError is the error of a Dial whose opening handshake the server
// refused or answered wrongly.
type HandshakeError struct {
	StatusCode int    // the response's status; 0 when none was read
	Body       string // the start of the response body
	Reason     string // what was wrong
}

func (e *HandshakeError) Error() string {
	if e.StatusCode != 0 && e.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Sprintf("wstest: the server refused the WebSocket handshake: %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), strings.TrimSpace(e.Body))
	}
	return "wstest: WebSocket handshake failed: " + e.Reason
}

// Options shape the opening handshake and the client's waits. A nil
// *Options means the defaults.
type Options struct {
	// Header holds extra request headers: Origin, Cookie, Authorization...
	// A Host header replaces the URL's host (DialHandler's is
	// "wstest.invalid").
	Header http.Header
	// Subprotocols are offered in Sec-WebSocket-Protocol, in order.
	Subprotocols []string
	// Timeout bounds each blocking call whose context has no deadline
	// (default 10 seconds).
	Timeout time.Duration
	// MaxMessageSize bounds a received message (default 64 MiB); a larger
	// one fails the connection with 1009.
	MaxMessageSize int64
}

const (
	defaultTimeout        = 10 * time.Second
	defaultMaxMessageSize = 64 << 20
)

// Conn is the client side of a WebSocket connection. Its methods are safe for
// concurrent use; messages are received in order by whoever calls
// ReadMessage.
type Conn struct {
	nc       net.Conn
	resp     *http.Response
	protocol string
	timeout  time.Duration

	wmu sync.Mutex // serializes writes of frames

	msgs chan Message  // received messages, filled by the reader goroutine
	done chan struct{} // closed when the reader goroutine ends
	// Set by the reader before done closes:
	closeErr *CloseError // the server's close frame, or 1006
	readErr  error       // why the reader stopped, other than a close frame

	mu         sync.Mutex
	closeSent  bool
	pongs      int // pongs received
	pongNotify chan struct{}
}

// Dial opens a WebSocket connection to rawURL (ws:// or http://) over TCP.
func Dial(ctx context.Context, rawURL string, o *Options) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("wstest: %w", err)
	}
	switch u.Scheme {
	case "ws", "http":
	default:
		return nil, fmt.Errorf("wstest: Dial takes a ws:// or http:// URL, not %q (wss is not supported: test TLS with a real client)", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	ctx, cancel := bound(ctx, o)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("wstest: %w", err)
	}
	c, err := handshake(ctx, nc, u.Host, u.RequestURI(), o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// DialHandler runs h (a wsserver.Server, or a mux that mounts one) on an
// in-memory connection (net.Pipe) inside a net/http server of its own, and
// opens a WebSocket connection to target (a path such as "/ws?room=1") on
// it. No socket is used. The http.Server stops when the connection ends.
func DialHandler(ctx context.Context, h http.Handler, target string, o *Options) (*Conn, error) {
	if !strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("wstest: DialHandler takes a path starting with /, not %q", target)
	}
	client, server := net.Pipe()
	srv := &http.Server{Handler: h}
	l := &oneConnListener{conn: &pipeConn{Conn: server}, done: make(chan struct{})}
	go srv.Serve(l)
	ctx, cancel := bound(ctx, o)
	defer cancel()
	c, err := handshake(ctx, &pipeConn{Conn: client, onClose: func() { l.Close() }}, "wstest.invalid", target, o)
	if err != nil {
		client.Close()
		l.Close()
		return nil, err
	}
	return c, nil
}

// bound gives ctx the default timeout when it has no deadline.
func bound(ctx context.Context, o *Options) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeoutOf(o))
}

func timeoutOf(o *Options) time.Duration {
	if o != nil && o.Timeout > 0 {
		return o.Timeout
	}
	return defaultTimeout
}

// pipeConn is a net.Pipe end with TCP-like addresses, so that servers that
// parse the client's address see one.
type pipeConn struct {
	net.Conn
	onClose func()
	once    sync.Once
}

func (p *pipeConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (p *pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (p *pipeConn) Close() error {
	err := p.Conn.Close()
	if p.onClose != nil {
		p.once.Do(p.onClose)
	}
	return err
}

// oneConnListener hands out one connection, then waits until closed.
type oneConnListener struct {
	mu     sync.Mutex
	conn   net.Conn
	done   chan struct{}
	closed bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshake sends the opening handshake on nc and reads the response.
func handshake(ctx context.Context, nc net.Conn, host, target string, o *Options) (*Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var keyBytes [16]byte
	rand.Read(keyBytes[:])
	key := base64.StdEncoding.EncodeToString(keyBytes[:])
	if o != nil && o.Header.Get("Host") != "" {
		host = o.Header.Get("Host")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", target, host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if o != nil {
		if len(o.Subprotocols) > 0 {
			fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", strings.Join(o.Subprotocols, ", "))
		}
		for name, values := range o.Header {
			if http.CanonicalHeaderKey(name) == "Host" {
				continue // sent above
			}
			for _, v := range values {
				if strings.ContainsAny(name+v, "\r\n") {
					return nil, fmt.Errorf("wstest: header %q has a line break", name)
				}
				fmt.Fprintf(&b, "%s: %s\r\n", name, v)
			}
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(nc, b.String()); err != nil {
		return nil, &HandshakeError{Reason: "writing the request: " + err.Error()}
	}
	br := bufio.NewReader(nc)
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+target, nil)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, &HandshakeError{Reason: "reading the response: " + err.Error()}
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &HandshakeError{StatusCode: resp.StatusCode, Body: string(body)}
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return nil, &HandshakeError{StatusCode: 101, Reason: fmt.Sprintf("Sec-WebSocket-Accept is %q, want %q (RFC 6455 section 4.2.2)", got, want)}
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil, &HandshakeError{StatusCode: 101, Reason: "the response has no Upgrade: websocket"}
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		return nil, &HandshakeError{StatusCode: 101, Reason: "the server accepted an extension the client did not offer: " + ext}
	}
	proto := resp.Header.Get("Sec-WebSocket-Protocol")
	if proto != "" && (o == nil || !contains(o.Subprotocols, proto)) {
		return nil, &HandshakeError{StatusCode: 101, Reason: "the server selected a subprotocol the client did not offer: " + proto}
	}
	if !stop() {
		// ctx ended just now and its deadline is on its way to nc.
		return nil, &HandshakeError{StatusCode: 101, Reason: ctx.Err().Error()}
	}
	nc.SetDeadline(time.Time{})
	c := &Conn{
		nc: nc, resp: resp, protocol: proto, timeout: timeoutOf(o),
		msgs: make(chan Message, 1024),
		done: make(chan struct{}),
	}
	limit := int64(defaultMaxMessageSize)
	if o != nil && o.MaxMessageSize > 0 {
		limit = o.MaxMessageSize
	}
	go c.readLoop(br, limit)
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Response returns the server's handshake response (101); its body is empty.
func (c *Conn) Response() *http.Response { return c.resp }

// Subprotocol returns the subprotocol the server selected, or "".
func (c *Conn) Subprotocol() string { return c.protocol }

// WriteText sends a text message.
func (c *Conn) WriteText(s string) error { return c.WriteMessage(Text, []byte(s)) }

// WriteBinary sends a binary message.
func (c *Conn) WriteBinary(b []byte) error { return c.WriteMessage(Binary, b) }

// WriteMessage sends data as one message of type t, in one frame.
func (c *Conn) WriteMessage(t MessageType, data []byte) error {
	if t != Text && t != Binary {
		return fmt.Errorf("wstest: message type %d is neither Text nor Binary", t)
	}
	return c.WriteFrame(true, byte(t), data)
}

// WriteFrame sends one frame as it is given (masked, as a client must):
// opcode 0 continues a fragmented message, 1 text, 2 binary, 8 close, 9 ping,
// 10 pong. It lets a test send fragments, or frames that break the protocol
// on purpose.
func (c *Conn) WriteFrame(fin bool, opcode byte, payload []byte) error {
	var key [4]byte
	rand.Read(key[:])
	frame := protocol.AppendHeader(make([]byte, 0, protocol.MaxHeaderSize+len(payload)), fin, protocol.Opcode(opcode), false, len(payload))
	frame[1] |= 0x80 // MASK
	frame = append(frame, key[:]...)
	start := len(frame)
	frame = append(frame, payload...)
	protocol.Mask(key, 0, frame[start:])
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.nc.Write(frame)
	if err != nil {
		return fmt.Errorf("wstest: write: %w", err)
	}
	return nil
}

// Ping sends a ping with payload (at most 125 bytes) and waits for a pong.
func (c *Conn) Ping(ctx context.Context, payload []byte) error {
	if len(payload) > protocol.MaxControlPayload {
		return fmt.Errorf("wstest: a ping carries at most 125 bytes, got %d", len(payload))
	}
	c.mu.Lock()
	if c.pongNotify == nil {
		c.pongNotify = make(chan struct{})
	}
	ch := c.pongNotify
	c.mu.Unlock()
	if err := c.WriteFrame(true, byte(protocol.OpPing), payload); err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	select {
	case <-ch:
		return nil
	case <-c.done:
		return c.endErr()
	case <-ctx.Done():
		return fmt.Errorf("wstest: waiting for a pong: %w", ctx.Err())
	}
}

func (c *Conn) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return bound(ctx, &Options{Timeout: c.timeout})
}

// ReadMessage returns the next whole message. Once the server has closed the
// connection and every message before its close frame has been read, it
// returns a *CloseError with the server's code.
func (c *Conn) ReadMessage(ctx context.Context) (Message, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	select {
	case m := <-c.msgs:
		return m, nil
	default:
	}
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m, nil
		default:
		}
		return Message{}, c.endErr()
	case <-ctx.Done():
		return Message{}, fmt.Errorf("wstest: waiting for a message: %w", ctx.Err())
	}
}

// ReadText returns the next message, which must be a text message, as a string.
func (c *Conn) ReadText(ctx context.Context) (string, error) {
	m, err := c.ReadMessage(ctx)
	if err != nil {
		return "", err
	}
	if m.Type != Text {
		return "", fmt.Errorf("wstest: got a binary message of %d bytes, want text", len(m.Data))
	}
	return string(m.Data), nil
}

// endErr is the error reads return after the reader ended.
func (c *Conn) endErr() error {
	if c.readErr != nil {
		return c.readErr
	}
	return c.closeErr
}

// Close closes the connection with code and reason (RFC 6455 section 7): it
// sends a close frame, waits for the server's close frame (messages still
// unread are dropped), and closes the socket. It returns the server's close
// frame as a *CloseError, or an error when there was none in time. A code of
// 1005 sends a close frame without a code.
func (c *Conn) Close(code int, reason string) (*CloseError, error) {
	c.mu.Lock()
	sent := c.closeSent
	c.closeSent = true
	c.mu.Unlock()
	defer c.nc.Close()
	if !sent {
		if code != 1005 && !protocol.ValidReceivedCloseCode(code) {
			return nil, fmt.Errorf("wstest: close code %d may not be sent (RFC 6455 section 7.4)", code)
		}
		c.WriteFrame(true, byte(protocol.OpClose), protocol.AppendClosePayload(nil, code, reason))
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	for {
		select {
		case <-c.msgs: // unread messages make room for the reader
		case <-c.done:
			if c.readErr != nil {
				return nil, c.readErr
			}
			if c.closeErr.Code == protocol.CloseAbnormal {
				return nil, fmt.Errorf("wstest: the connection ended without the server's close frame")
			}
			return c.closeErr, nil
		case <-t.C:
			return nil, fmt.Errorf("wstest: no close frame from the server within %v", c.timeout)
		}
	}
}

// Abort closes the socket without a close handshake, as a client that
// vanishes does.
func (c *Conn) Abort() error {
	c.mu.Lock()
	c.closeSent = true
	c.mu.Unlock()
	return c.nc.Close()
}

// readLoop reads frames until the connection ends, answering pings and
// queueing whole messages.
func (c *Conn) readLoop(br *bufio.Reader, limit int64) {
	c.closeErr = &CloseError{Code: protocol.CloseAbnormal}
	defer close(c.done)
	fr := frameReader{r: br, limit: limit}
	var msg []byte
	var msgType MessageType
	inMsg := false
	for {
		f, err := fr.next()
		if err != nil {
			var pe *protocolErr
			if errors.As(err, &pe) {
				c.readErr = pe
				c.failWith(pe.code, pe.reason)
			} else if !errors.Is(err, io.EOF) && !c.closing() {
				c.closeErr.Reason = "connection lost: " + err.Error()
			}
			c.nc.Close()
			return
		}
		switch f.op {
		case protocol.OpPing:
			c.WriteFrame(true, byte(protocol.OpPong), f.payload)
			continue
		case protocol.OpPong:
			c.mu.Lock()
			c.pongs++
			if c.pongNotify != nil {
				close(c.pongNotify)
				c.pongNotify = nil
			}
			c.mu.Unlock()
			continue
		case protocol.OpClose:
			code, reason, err := parseClosePayload(f.payload)
			if err != nil {
				c.readErr = err
				c.failWith(err.code, err.reason)
				c.nc.Close()
				return
			}
			c.closeErr = &CloseError{Code: code, Reason: reason}
			c.mu.Lock()
			sent := c.closeSent
			c.closeSent = true
			c.mu.Unlock()
			if !sent {
				echo := code
				if echo == protocol.CloseNoStatus {
					echo = 0
				}
				c.WriteFrame(true, byte(protocol.OpClose), protocol.AppendClosePayload(nil, echo, ""))
			}
			c.nc.Close() // the server closes first (RFC 6455 section 7.1.1); ours follows
			return
		case protocol.OpContinuation:
			if !inMsg {
				c.failProtocol(&protocolErr{protocol.CloseProtocolError, "a continuation frame with no message begun"})
				return
			}
		default: // text or binary
			if inMsg {
				c.failProtocol(&protocolErr{protocol.CloseProtocolError, "a new message began before the last one ended"})
				return
			}
			inMsg, msgType, msg = true, MessageType(f.op), nil
		}
		if int64(len(msg)+len(f.payload)) > limit {
			c.failProtocol(&protocolErr{protocol.CloseTooBig, fmt.Sprintf("a message larger than %d bytes", limit)})
			return
		}
		msg = append(msg, f.payload...)
		if !f.fin {
			continue
		}
		inMsg = false
		if msgType == Text && !utf8.Valid(msg) {
			c.failProtocol(&protocolErr{protocol.CloseInvalidPayload, "a text message that is not UTF-8"})
			return
		}
		if msg == nil {
			msg = []byte{}
		}
		select {
		case c.msgs <- Message{Type: msgType, Data: msg}:
		case <-time.After(c.timeout):
			c.readErr = fmt.Errorf("wstest: %d messages unread for %v: read them, or the server's writes wait", cap(c.msgs), c.timeout)
			c.nc.Close()
			return
		}
	}
}

func (c *Conn) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeSent
}

func (c *Conn) failProtocol(pe *protocolErr) {
	c.readErr = pe
	c.failWith(pe.code, pe.reason)
	c.nc.Close()
}

// failWith sends a close frame for a protocol error of the server's.
func (c *Conn) failWith(code int, reason string) {
	c.mu.Lock()
	sent := c.closeSent
	c.closeSent = true
	c.mu.Unlock()
	if !sent {
		c.WriteFrame(true, byte(protocol.OpClose), protocol.AppendClosePayload(nil, code, reason))
	}
}

// protocolErr is a violation of RFC 6455 by the server.
type protocolErr struct {
	code   int
	reason string
}

func (e *protocolErr) Error() string {
	return fmt.Sprintf("wstest: the server broke RFC 6455: %s (failing with %d)", e.reason, e.code)
}

// frame is one frame read from the server.
type frame struct {
	fin     bool
	op      protocol.Opcode
	payload []byte
}

// frameReader reads server frames (RFC 6455 section 5.2).
type frameReader struct {
	r     io.Reader
	limit int64
	hdr   [8]byte
}

func (fr *frameReader) next() (frame, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:2]); err != nil {
		return frame{}, err
	}
	b0, b1 := fr.hdr[0], fr.hdr[1]
	f := frame{fin: b0&0x80 != 0, op: protocol.Opcode(b0 & 0x0F)}
	if b0&0x70 != 0 {
		return frame{}, &protocolErr{protocol.CloseProtocolError, "reserved bits set with no extension negotiated"}
	}
	if b1&0x80 != 0 {
		return frame{}, &protocolErr{protocol.CloseProtocolError, "a masked frame (a server must not mask, section 5.1)"}
	}
	switch f.op {
	case protocol.OpContinuation, protocol.OpText, protocol.OpBinary, protocol.OpClose, protocol.OpPing, protocol.OpPong:
	default:
		return frame{}, &protocolErr{protocol.CloseProtocolError, fmt.Sprintf("reserved opcode %#x", byte(f.op))}
	}
	n := uint64(b1 & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(fr.r, fr.hdr[:2]); err != nil {
			return frame{}, unexpected(err)
		}
		n = uint64(binary.BigEndian.Uint16(fr.hdr[:2]))
		if n < 126 {
			return frame{}, &protocolErr{protocol.CloseProtocolError, "a length not in its shortest form"}
		}
	case 127:
		if _, err := io.ReadFull(fr.r, fr.hdr[:8]); err != nil {
			return frame{}, unexpected(err)
		}
		n = binary.BigEndian.Uint64(fr.hdr[:8])
		if n>>63 != 0 {
			return frame{}, &protocolErr{protocol.CloseProtocolError, "a 64-bit length with its top bit set"}
		}
		if n <= 0xFFFF {
			return frame{}, &protocolErr{protocol.CloseProtocolError, "a length not in its shortest form"}
		}
	}
	if f.op.IsControl() {
		if !f.fin {
			return frame{}, &protocolErr{protocol.CloseProtocolError, "a fragmented control frame"}
		}
		if n > protocol.MaxControlPayload {
			return frame{}, &protocolErr{protocol.CloseProtocolError, "a control frame longer than 125 bytes"}
		}
	}
	if n > uint64(fr.limit) {
		return frame{}, &protocolErr{protocol.CloseTooBig, fmt.Sprintf("a frame of %d bytes, over the limit of %d", n, fr.limit)}
	}
	// Grow with the data, not on the frame's word.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, fr.r, int64(n)); err != nil {
		return frame{}, unexpected(err)
	}
	f.payload = buf.Bytes()
	return f, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseClosePayload checks a close frame's payload (RFC 6455 section 5.5.1).
func parseClosePayload(p []byte) (int, string, *protocolErr) {
	switch {
	case len(p) == 0:
		return protocol.CloseNoStatus, "", nil
	case len(p) == 1:
		return 0, "", &protocolErr{protocol.CloseProtocolError, "a close frame with a 1-byte payload"}
	}
	code := int(binary.BigEndian.Uint16(p))
	if !protocol.ValidReceivedCloseCode(code) {
		return 0, "", &protocolErr{protocol.CloseProtocolError, fmt.Sprintf("close code %d may not be sent", code)}
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", &protocolErr{protocol.CloseInvalidPayload, "a close reason that is not UTF-8"}
	}
	return code, string(p[2:]), nil
}

package wsserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/wsserver/wsserver/internal/handshake"
	"github.com/wsserver/wsserver/internal/protocol"
)

// connExt holds what a connection has only once it is asked for, so that an
// idle connection that uses none of it carries one nil pointer: its Value,
// its Context, and the opening handshake's request while it runs.
type connExt struct {
	value atomic.Pointer[any]

	// Guarded by the connection's mu:
	ctx    context.Context
	cancel context.CancelCauseFunc
	parent context.Context    // the values of ctx: a net/http request's context, or nil
	head   *handshake.Request // the opening handshake (raw listener), while it runs
	req    *http.Request      // the request: net/http's, or built from head; while the handshake runs
	open   bool               // WebSocketOpenRequest or Connected is running: Request answers
}

// extLocked returns the connection's connExt, making it. c.mu is held.
func (c *Connection) extLocked() *connExt {
	if x := c.ext.Load(); x != nil {
		return x
	}
	x := new(connExt)
	c.ext.Store(x)
	return x
}

// Value returns the value SetValue stored on the connection, or nil.
func (c *Connection) Value() any {
	x := c.ext.Load()
	if x == nil {
		return nil
	}
	if p := x.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetValue stores v on the connection: per-connection state (a user, a room,
// a session) that every event reaches through Server.Value(ConnectionID) or
// MessageEvent.Connection, without a map of the application's own. It is
// safe for concurrent use; v itself is the application's to guard.
func (c *Connection) SetValue(v any) {
	// Under c.mu: endOpen may drop a connExt that holds nothing.
	c.mu.Lock()
	c.extLocked().value.Store(&v)
	c.mu.Unlock()
}

// Value returns the value stored on connection id with SetValue, or nil
// when there is none or no such connection is open. A connection is open
// from Connected until Disconnected has returned; in WebSocketOpenRequest
// use the event's Connection.
func (s *Server) Value(id int) any {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Value()
}

// SetValue stores v on connection id (see Connection.SetValue); it fails
// with 126 when no such connection is open.
func (s *Server) SetValue(id int, v any) error {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil {
		return newError(ErrInvalidConnectionID, "no open connection has ID %d", id)
	}
	c.SetValue(v)
	return nil
}

// errConnectionEnded is the cause of a connection's Context once it ended.
var errConnectionEnded = errors.New("wsserver: the connection has ended")

// Context returns a context that is cancelled, with a cause that says so,
// when the connection ends (after Disconnected). Under net/http it carries
// the values of the upgrade request's context (what middleware stored in
// r.Context()), though not its cancellation, which net/http triggers when
// ServeHTTP returns. It is made on first use.
func (c *Connection) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.contextLocked()
}

// contextLocked returns the connection's context, making it. c.mu is held.
func (c *Connection) contextLocked() context.Context {
	x := c.extLocked()
	if x.ctx == nil {
		parent := x.parent
		if parent == nil {
			parent = context.Background()
		}
		x.ctx, x.cancel = context.WithCancelCause(parent)
		if c.state == stateClosed {
			x.cancel(errConnectionEnded)
		}
	}
	return x.ctx
}

// endContext cancels the connection's context, if it was made. The
// connection has ended (state closed).
func (c *Connection) endContext() {
	x := c.ext.Load()
	if x == nil {
		return
	}
	c.mu.Lock()
	cancel := x.cancel
	x.parent = nil
	c.mu.Unlock()
	if cancel != nil {
		cancel(errConnectionEnded)
	}
}

// Request returns the opening handshake's request while WebSocketOpenRequest
// and Connected run for this connection, and nil otherwise: copy what the
// connection needs later (a user from a cookie, say) into SetValue. Under
// net/http it is the *http.Request ServeHTTP got, with its context and TLS
// state; on the server's own listener it is made on the first call from
// the request head: Method, URL, Proto, Header, Host, RemoteAddr,
// RequestURI, TLS (with UseSSL) and, as its context, the connection's
// Context. Its Body is empty.
func (c *Connection) Request() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.ext.Load()
	if x == nil || !x.open {
		return nil
	}
	if x.req == nil && x.head != nil {
		x.req = c.buildRequest(x.head)
	}
	return x.req
}

// buildRequest makes the *http.Request equivalent of a parsed request head.
// c.mu is held.
func (c *Connection) buildRequest(h *handshake.Request) *http.Request {
	var b strings.Builder
	b.WriteString(h.Method + " " + h.URI + " " + h.Proto + "\r\n")
	for _, hd := range h.Headers {
		b.WriteString(hd.Name + ": " + hd.Value + "\r\n")
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		// The head passed the handshake parser; net/http may still be
		// stricter. Build what can be built.
		r = &http.Request{Method: h.Method, RequestURI: h.URI, Proto: h.Proto, Header: http.Header{}}
		if r.URL, err = url.ParseRequestURI(h.URI); err != nil {
			r.URL = &url.URL{Path: "/"} // a target net/http cannot parse
		}
		for _, hd := range h.Headers {
			r.Header.Add(hd.Name, hd.Value)
		}
		r.Host = c.host
	}
	r.RemoteAddr = net.JoinHostPort(c.remoteHost, strconv.Itoa(int(c.remotePort)))
	if tc := c.tlsConn(); tc != nil {
		st := tc.ConnectionState()
		r.TLS = &st
	}
	return r.WithContext(c.contextLocked())
}

// beginOpen makes Request answer while the opening events run: with r (net/http's
// request) or from head. Only when a handler that could ask is set.
func (c *Connection) beginOpen(r *http.Request, head *handshake.Request) {
	ev := &c.srv.Events
	if r == nil && ev.OnWebSocketOpenRequest == nil && ev.OnConnected == nil {
		return
	}
	c.mu.Lock()
	x := c.extLocked()
	if !x.open { // ServeHTTP began with net/http's request
		x.open, x.req, x.head = true, r, head
		if r != nil {
			x.parent = context.WithoutCancel(r.Context())
		}
	}
	c.mu.Unlock()
}

// endOpen drops the request once Connected has run (or the handshake
// failed), and the connExt too when it holds nothing else, so that an idle
// connection keeps no trace of its handshake.
func (c *Connection) endOpen() {
	x := c.ext.Load()
	if x == nil {
		return
	}
	c.mu.Lock()
	x.open, x.req, x.head = false, nil, nil
	if x.ctx == nil && x.parent == nil && x.value.Load() == nil {
		c.ext.Store(nil)
	}
	c.mu.Unlock()
}

// SendJSON sends v encoded as JSON (encoding/json) in one text message,
// like SendText: with the connection's Timeout at 0 it never blocks and may
// fail with ErrWouldBlock. A value json cannot encode fails with
// ErrInvalidValue and sends nothing.
func (s *Server) SendJSON(id int, v any) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return &Error{Code: ErrInvalidValue.Code, Message: "the value cannot be sent as JSON", Err: err}
	}
	return c.send(protocol.OpText, b)
}

// MessageWriter returns a writer whose bytes go out as one message of the
// format (text or binary), streamed in frames as they are written, as
// SendStream sends: other sends to the connection wait until Close ends the
// message. Write blocks while the client reads slowly (with Timeout > 0 it
// fails with ErrTimedOut after that long without progress), Interrupt
// stops it with ErrInterrupted, and Close returns the error the message
// ended with. Text must be UTF-8 as a whole. The writer is for one
// goroutine at a time; it uses a goroutine of its own until Close.
func (s *Server) MessageWriter(id int, format DataFormat) (io.WriteCloser, error) {
	if _, err := s.Connection(id); err != nil {
		return nil, err
	}
	switch format {
	case FormatText, FormatBinary:
	default:
		return nil, newError(ErrInvalidValue, "a message is written as text or binary, not DataFormat %d", format)
	}
	pr, pw := io.Pipe()
	w := &messageWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		err := s.sendStream(id, pr, format)
		pr.CloseWithError(errMessageEnded)
		w.done <- err
	}()
	return w, nil
}

var errMessageEnded = errors.New("wsserver: the message has ended (sent, interrupted or the connection closed)")

// messageWriter feeds SendStream's reader through a pipe.
type messageWriter struct {
	pw     *io.PipeWriter
	done   chan error
	err    error
	closed bool
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("wsserver: write to a closed MessageWriter")
	}
	n, err := w.pw.Write(p)
	if err != nil {
		// The stream ended early: its error says why.
		w.closed = true
		w.pw.Close()
		w.err = <-w.done
		if w.err == nil {
			w.err = err
		}
		return n, w.err
	}
	return n, nil
}

func (w *messageWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.pw.Close()
	w.err = <-w.done
	return w.err
}

// ctxError turns a context's end into the reference's codes: 10060 for a
// deadline, 10004 for a cancellation; errors.Is also matches ctx's error.
func ctxError(err error, id int) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: ErrTimedOut.Code, Message: "the context's deadline passed before the data to connection " + strconv.Itoa(id) + " was written", Err: err}
	}
	return &Error{Code: ErrInterrupted.Code, Message: "the context was cancelled before the data to connection " + strconv.Itoa(id) + " was written", Err: err}
}

// SendContext sends data as one message of the format (FormatText, whose
// data must be UTF-8, or FormatBinary; FormatAutomatic sends binary) and
// waits until it is written, whatever the connection's Timeout, or until
// ctx ends: then it returns an error with code 10060 (ErrTimedOut) for a
// deadline or 10004 (ErrInterrupted) for a cancellation, which errors.Is
// also matches with ctx's error. What was queued by then still goes out,
// as after a Timeout. Use it from goroutines, not from handlers on an
// event loop (EventLoop), which must not block.
func (s *Server) SendContext(ctx context.Context, id int, format DataFormat, data []byte) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return ctxError(context.Cause(ctx), id)
	}
	op := protocol.OpBinary
	switch format {
	case FormatText:
		if !validText(data) {
			return newError(ErrInvalidValue, "text to send is not valid UTF-8; send it as binary")
		}
		op = protocol.OpText
	case FormatBinary, FormatAutomatic:
	default:
		return newError(ErrInvalidValue, "SendContext sends text or binary messages, not DataFormat %d", format)
	}
	stop := context.AfterFunc(ctx, c.wakeSenders)
	defer stop()
	return c.sendCtx(op, data, ctx)
}

// wakeSenders wakes the senders waiting on c, so that one whose context
// ended notices: those waiting for progress, and a send writing the queue
// itself (its blocked write is cut short; the rest stays queued).
func (c *Connection) wakeSenders() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sendState == nil {
		return
	}
	c.q.notifyLocked()
	c.q.interruptWriterLocked()
}

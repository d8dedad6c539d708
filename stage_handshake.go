package wsserver

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/deflate"
	"github.com/wsserver/wsserver/internal/handshake"
	"github.com/wsserver/wsserver/internal/protocol"
)

// The opening handshake is the first stage of a connection's byte handler
// (connHandler): whichever transport reads the connection, a goroutine or an
// event loop, hands its bytes to handshakeBytes until the request head is
// whole. The stage answers it (upgrade), queues the 101 response, opens the
// connection and gives the bytes after the head to the frame stage.

// handshakeState is a connection's opening handshake while it is read.
type handshakeState struct {
	buf     []byte             // the request so far (pooled)
	limit   int                // MaxRequestHeadSize
	timer   *time.Timer        // HandshakeTimeout: cuts the socket
	refusal []byte             // the response refusing the request, for handshakeEnded to write
	handoff *httpListener      // the HTTP listener to hand the connection to (HTTPListener)
	req     *handshake.Request // the request handed off
}

// errRefused ends the reading of a handshake that was refused; the
// refusal is written by handshakeEnded, off any event loop.
var errRefused = errors.New("wsserver: handshake refused")

// errHandedOff ends the reading of a request that is not this server's
// WebSocket: handshakeEnded hands it to the HTTP listener (HTTPListener).
var errHandedOff = errors.New("wsserver: request handed to the HTTP listener")

// beginHandshake makes the handshake stage the connection's first: its
// request must be whole within timeout and limit bytes.
func (c *Connection) beginHandshake(timeout time.Duration, limit int) {
	// Most request heads fit in 4 KiB; the buffer grows to the limit only
	// for the rest, so a burst of handshakes holds little memory.
	c.hs = &handshakeState{buf: bufpool.Get(4 << 10)[:0], limit: limit}
	c.hs.timer = time.AfterFunc(timeout, c.closeSocket)
}

// target returns where the next read goes: the free end of the request
// buffer, grown toward the limit when it is full.
func (hs *handshakeState) target() []byte {
	if len(hs.buf) == cap(hs.buf) {
		hs.buf = bufpool.Grow(hs.buf, max(hs.limit-len(hs.buf), 1))
	}
	return hs.buf[len(hs.buf):cap(hs.buf)]
}

// handshakeBytes is the handshake stage: it adds p to the request and,
// once the head is whole, answers it.
func (c *Connection) handshakeBytes(p []byte) error {
	hs := c.hs
	if n := len(hs.buf); cap(hs.buf)-n >= len(p) && len(p) > 0 && &hs.buf[:n+1][n] == &p[0] {
		hs.buf = hs.buf[:n+len(p)] // read in place (target)
	} else {
		hs.buf = append(bufpool.Grow(hs.buf, len(p)), p...)
	}
	s := c.srv
	req, used, perr := handshake.ParseLimit(hs.buf, hs.limit)
	if errors.Is(perr, handshake.ErrIncomplete) {
		return nil
	}
	var rej *handshake.Rejection
	if errors.As(perr, &rej) {
		s.logf(c.id, 1, "Refused handshake from %s: %v", c.remoteHost, rej)
		hs.refusal = s.reject(rej.Status, rej.Reason, rej.Header)
		return errRefused
	}
	hs.timer.Stop()
	if l := s.handoffFor(req); l != nil {
		hs.handoff, hs.req = l, req
		return errHandedOff
	}
	// Bytes after the request head already belong to the WebSocket stream.
	leftover := bytes.Clone(hs.buf[used:])
	// The request is parsed (into strings of its own): the buffer can take
	// the response.
	resp, ok := s.upgrade(c, req, hs.buf[:0])
	if !ok {
		hs.refusal = resp
		return errRefused
	}
	c.sendHandshake(resp)
	c.endHandshake()
	return c.opened(leftover) // the Engine may now move the frames to a transport of their own
}

// sendHandshake sends the handshake's response straight to the socket, so
// that a connection that stays idle never makes a send queue: a reader
// goroutine writes it as any blocking write, bounded in time; an event
// loop, which must not block, writes what the socket takes at once (a
// fresh socket takes a response this short whole). What is not written
// goes first in the queue, which the batch that opens the connection
// writes (opened); a failure shows again there.
func (c *Connection) sendHandshake(resp []byte) {
	var n int
	if c.sock.Looped() {
		n, _ = c.sock.TryWrite(resp)
	} else {
		n, _ = c.sock.Write(resp, time.Now().Add(handshakeWriteTimeout))
	}
	if n == len(resp) {
		return
	}
	c.mu.Lock()
	c.batching = true // until opened's batch ends: no flusher goroutine for it
	c.queueLocked().appendFramedLocked(resp[n:])
	c.mu.Unlock()
}

// handshakeEnded ends a connection whose handshake stage stopped reading
// before the connection opened: refused (the refusal is written here), cut
// by HandshakeTimeout, or closed by the client.
func (c *Connection) handshakeEnded(err error) {
	hs := c.hs
	hs.timer.Stop()
	switch {
	case err == errHandedOff:
		head := bytes.Clone(hs.buf)
		c.endHandshake()
		c.srv.serveHTTPConn(c, hs.handoff, hs.req, head)
		return
	case err == errRefused:
		c.refuseRaw(hs.refusal)
	case !errors.Is(err, io.EOF):
		c.srv.logf(c.id, 2, "Handshake read failed: %v", err)
	}
	c.endHandshake()
	c.srv.abandon(c)
}

// endHandshake returns the handshake buffer.
func (c *Connection) endHandshake() {
	if c.hs != nil {
		bufpool.Put(c.hs.buf)
		c.hs = nil
	}
}

// handshakeWriteTimeout bounds the writing of a handshake's response.
const handshakeWriteTimeout = 10 * time.Second

// writeRaw writes handshake bytes, bounded in time. It reports success.
func (c *Connection) writeRaw(b []byte) bool {
	_, err := c.sock.Write(b, time.Now().Add(handshakeWriteTimeout))
	return err == nil
}

// refuseLinger bounds how long a refused client may go on sending before
// its socket closes.
const refuseLinger = time.Second

// refuseRaw writes the refusal of a handshake, then reads and discards what
// the client still sends (its head may be larger than what was read, say)
// until it closes or refuseLinger passes: closing a socket with unread bytes
// resets the connection, and the client, still writing, would never read
// the answer (as net/http does before closing).
func (c *Connection) refuseRaw(resp []byte) {
	if !c.writeRaw(resp) {
		return
	}
	c.sock.CloseWrite()
	c.sock.SetReadDeadline(time.Now().Add(refuseLinger))
	var scratch [4 << 10]byte
	for range 256 { // at most 1 MiB
		if _, err := c.sock.ReadChunk(scratch[:], false); err != nil {
			return
		}
	}
}

// upgrade validates the opening handshake, applies AllowedOrigins, fires
// WebSocketOpenRequest, negotiates permessage-deflate and returns the
// response to write; ok is false when the request is refused. Every
// transport's handshake passes through here.
func (s *Server) upgrade(c *Connection, req *handshake.Request, dst []byte) (resp []byte, ok bool) {
	if s.logLevel() >= 1 { // the check spares the arguments' allocations
		s.logf(c.id, 1, "%s %s %s", req.Method, req.URI, req.Proto)
	}
	if s.logLevel() >= 2 {
		s.logf(c.id, 2, "Request headers:\r\n%s", s.maskHeaders(req))
	}
	up, rej := handshake.Check(req)
	if rej != nil {
		s.logf(c.id, 1, "Refused handshake from %s: %v", c.remoteHost, rej)
		return s.reject(rej.Status, rej.Reason, rej.Header), false
	}
	if resp, ok := s.checkOrigin(c, up.Origin, up.Host); !ok {
		return resp, false
	}
	exts, err := deflate.ParseExtensions(up.Extensions)
	if err != nil {
		s.logf(c.id, 1, "Refused handshake from %s: %v", c.remoteHost, err)
		return s.reject(400, "malformed Sec-WebSocket-Extensions: "+err.Error(), ""), false
	}
	c.host, c.origin, c.uri = up.Host, up.Origin, req.URI
	c.requestHeaders = req.Raw()
	c.subProtocols = up.RawProtocols
	c.beginOpen(nil, req)
	ev := &WebSocketOpenRequestEvent{
		ConnectionID:   c.id,
		Connection:     c,
		RequestURI:     req.URI,
		HostHeader:     up.Host,
		OriginHeader:   up.Origin,
		SubProtocols:   up.RawProtocols,
		Extensions:     strings.Join(up.Extensions, ", "),
		RequestHeaders: c.requestHeaders,
		StatusCode:     101,
	}
	if err := call(s, c, "WebSocketOpenRequest", s.Events.OnWebSocketOpenRequest, ev); err != nil {
		s.reportPanic(c.id, err.(*handlerPanic))
		return s.reject(500, "", ""), false
	}
	if ev.StatusCode != 101 {
		status := ev.StatusCode
		if status < 200 || status > 999 {
			s.fireError(c.id, newError(ErrInvalidValue, "WebSocketOpenRequest set StatusCode %d; answering 500", status))
			status = 500
		}
		s.logf(c.id, 1, "Application refused the WebSocket request with status %d", status)
		return s.reject(status, "", ev.ResponseHeaders), false
	}
	c.protocol = selectProtocol(ev.SubProtocols, up.Protocols)
	if ev.SubProtocols != up.RawProtocols && ev.SubProtocols != "" && c.protocol == "" {
		s.fireError(c.id, newError(ErrInvalidValue, "subprotocol %q was not offered by the client; none selected", ev.SubProtocols))
	}
	s.mu.Lock()
	pmd := s.cfg.permessageDeflate
	policy := deflate.Policy{ServerNoContextTakeover: s.cfg.serverNoContextTakeover}
	level := s.cfg.compressionLevel
	s.mu.Unlock()
	if pmd {
		if r, params, ok := deflate.Negotiate(exts, policy); ok {
			c.extensions = r
			c.deflater = deflate.NewCompressor(params, level)
			c.sharedDeflate = params.ServerNoContextTakeover && params.ServerMaxWindowBits == deflate.MaxWindowBits
			rs := c.reading()
			rs.inflater = deflate.NewDecompressor(params)
			rs.inflater.SetWholeMessages(c.opts.bufferMessage || s.Events.OnMessage != nil && s.Events.OnDataIn == nil)
			c.rd.SetInflater(inflaterAdapter{c.inflater})
		}
	}
	return handshake.AppendAccept(dst, up.Key, c.protocol, c.extensions, ev.ResponseHeaders), true
}

// selectProtocol returns the subprotocol the handler chose, if the client
// offered it. An unchanged list selects its only entry (the reference returns
// SubProtocols as the selection), and nothing when it has several.
func selectProtocol(chosen string, offered []string) string {
	chosen = strings.TrimSpace(chosen)
	for _, p := range offered {
		if p == chosen {
			return p
		}
	}
	return ""
}

// sensitiveHeaders are masked in logs while MaskSensitive is on.
var sensitiveHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Sec-WebSocket-Key"}

// maskHeaders returns the request headers for a log, with the values of
// sensitive headers replaced by asterisks when MaskSensitive is on.
func (s *Server) maskHeaders(req *handshake.Request) string {
	s.mu.Lock()
	mask := s.cfg.maskSensitive
	s.mu.Unlock()
	if !mask {
		return req.Raw()
	}
	masked := handshake.Request{Headers: make([]handshake.Header, len(req.Headers))}
	for i, h := range req.Headers {
		masked.Headers[i] = h
		for _, name := range sensitiveHeaders {
			if strings.EqualFold(h.Name, name) {
				masked.Headers[i].Value = "********"
			}
		}
	}
	return masked.Raw()
}

// inflaterAdapter adapts a deflate.Decompressor to protocol.Inflater,
// turning its size error into close code 1009.
type inflaterAdapter struct{ d *deflate.Decompressor }

func (a inflaterAdapter) Write(p []byte, limit int64, emit func([]byte) error) error {
	return inflateErr(a.d.Write(p, limit, emit))
}

func (a inflaterAdapter) Finish(limit int64, emit func([]byte) error) error {
	return inflateErr(a.d.Finish(limit, emit))
}

func inflateErr(err error) error {
	if errors.Is(err, deflate.ErrTooLarge) {
		return &protocol.CloseError{Code: protocol.CloseTooBig, Reason: "decompressed message too large"}
	}
	return err
}

package wsserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/deflate"
	"github.com/wsserver/wsserver/internal/handshake"
	"github.com/wsserver/wsserver/internal/protocol"
)

// accept starts serving a socket the listener accepted.
func (s *Server) accept(sk sock) {
	s.wg.Add(1)
	if s.handshakeOnLoop() {
		// No handler or name lookup to wait for: admit here, and let an
		// event loop read the handshake, so a burst of new connections
		// costs no goroutine stacks.
		c, ok := s.admit(sk)
		if !ok {
			s.wg.Done()
			return
		}
		if !handOffHandshake(c) {
			go s.serveRaw(c)
		}
		return
	}
	go func() {
		c, ok := s.admit(sk)
		if !ok {
			s.wg.Done()
			return
		}
		s.serveRaw(c)
	}()
}

// admit applies MaxConnections, the client filters and the ConnectionRequest
// event to a new TCP connection, and sets its socket options. When it says
// no, it has closed the socket.
func (s *Server) admit(sk sock) (*Connection, bool) {
	var host string
	remote := sk.remoteAddr()
	if remote.IsValid() {
		host = remote.Addr().String()
	}
	port := int(remote.Port())
	id, cfg, ok := s.admission(host, port, sk.refuse)
	if !ok {
		return nil, false
	}
	sk.setOptions(sockOptionsOf(cfg))
	c := newConnection(s, id, sk, cfg)
	c.remoteHost, c.remotePort = host, port
	if la := sk.localAddr(); la.IsValid() {
		c.localAddr = la.String()
	}
	return c, true
}

// admission decides whether a new connection from host:port may proceed:
// MaxConnections, the client filters and ConnectionRequest. When it says no,
// refuse has been called with the response to write (nil: none) and has
// closed the socket. It returns the ConnectionId and the settings to use.
func (s *Server) admission(host string, port int, refuse func(resp []byte)) (int, *settings, bool) {
	key := clientKey(host)
	s.mu.Lock()
	cfg := s.cfg
	full := s.active >= cfg.maxConnections
	var limited string
	var retry int
	if !full {
		limited, retry = s.admitClientLocked(key, &cfg, time.Now())
	}
	if !full && limited == "" {
		s.active++
		s.started = true
	}
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	if full {
		s.logf(id, 1, "Refused %s: MaxConnections (%d) reached", net.JoinHostPort(host, strconv.Itoa(port)), cfg.maxConnections)
		s.stats.refusedFull.Add(1)
		refuse(handshake.AppendReject(nil, 503, "the server has reached MaxConnections", "Retry-After: 1"))
		return 0, nil, false
	}
	if limited != "" {
		s.logf(id, 1, "Refused %s: %s", net.JoinHostPort(host, strconv.Itoa(port)), limited)
		refuse(handshake.AppendReject(nil, 429, limited, "Retry-After: "+strconv.Itoa(retry)))
		return 0, nil, false
	}
	names := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ns, _ := net.DefaultResolver.LookupAddr(ctx, host)
		return ns
	}
	accept := matchClients(cfg.allowedClients, host, names) && !matchClients(cfg.blockedClients, host, names)
	ev := &ConnectionRequestEvent{Address: host, Port: port, Accept: accept}
	if err := call(s, nil, "ConnectionRequest", s.Events.OnConnectionRequest, ev); err != nil {
		s.reportPanic(id, err.(*handlerPanic))
		ev.Accept = false
	}
	if !ev.Accept {
		s.logf(id, 1, "Refused connection from %s:%d", host, port)
		s.stats.refusedFilter.Add(1)
		refuse(nil)
		s.release(host)
		return 0, nil, false
	}
	if s.logLevel() >= 1 { // the check spares the arguments' allocations
		s.logf(id, 1, "Accepted connection from %s:%d", host, port)
	}
	return id, &cfg, true
}

// release gives back the MaxConnections slot of an ended connection.
func (s *Server) release(host string) {
	key := clientKey(host)
	s.mu.Lock()
	s.active--
	s.releaseClientLocked(key)
	s.mu.Unlock()
}

func newConnection(s *Server, id int, sk sock, cfg *settings) *Connection {
	s.mu.Lock()
	timeout := s.timeout
	s.mu.Unlock()
	c := &Connection{
		srv:           s,
		id:            id,
		sock:          sk,
		timeout:       timeout,
		maxLineLength: cfg.defaultMaxLineLength,
		acceptData:    true,
		readyToSend:   true,
		opts: s.options(connOptions{
			bufferMessage:  cfg.bufferMessage,
			maxFrameSize:   cfg.maxFrameSize,
			queueLimit:     cfg.queueLimit(),
			waitForClose:   cfg.waitForCloseResponse,
			closeTimeout:   int64(cfg.closeTimeout),
			compressMin:    cfg.compressMin,
			codePage:       cfg.codePage,
			maxMessageSize: cfg.maxMessageSize,
			spin:           time.Duration(cfg.eventLoopSpin) * time.Microsecond,

			slowClientTimeout: cfg.slowClientTimeout,
			budget:            cfg.budget(),
			share:             cfg.budget() / int64(cfg.maxConnections),
			pingInterval:      cfg.pingInterval,
			pongTimeout:       cfg.pongTimeout,
			msgRate:           float64(cfg.msgRate),
		}),
	}
	sk.setOwner(c)
	return c
}

// options returns o as the connection options to share: the last options
// made when they are equal, so that connections carry one pointer, not a copy.
func (s *Server) options(o connOptions) *connOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastOpts == nil || *s.lastOpts != o {
		s.lastOpts = &o
	}
	return s.lastOpts
}

// serveRaw runs a connection from the listener: TLS and WebSocket handshakes,
// then the message loop.
// From here on the connection owns its wg count and MaxConnections slot:
// abandon gives them back when the handshake fails, finish when it ends.
func (s *Server) serveRaw(c *Connection) {
	opened := false
	defer func() {
		if !opened {
			s.abandon(c)
		}
	}()
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	if rt := s.tlsState.Load(); rt != nil {
		tc, err := s.tlsHandshake(c, rt, &cfg)
		if err != nil {
			return
		}
		c.sock = newStreamSock(tc)
	}
	// Most request heads fit in 4 KiB; the buffer grows to the 16 KiB limit
	// only for the rest, so a burst of handshakes holds little memory.
	buf := bufpool.Get(4 << 10)
	buf = buf[:cap(buf)]
	defer func() {
		if buf != nil {
			bufpool.Put(buf)
		}
	}()

	c.sock.setReadDeadline(time.Now().Add(cfg.handshakeTimeout))
	n := 0
	var req *handshake.Request
	var used int
	limit := cfg.maxHeadSize
	for {
		if n == len(buf) {
			if n >= limit {
				rej := handshake.TooLarge(limit)
				s.logf(c.id, 1, "Refused handshake from %s: %v", c.remoteHost, rej)
				c.refuseRaw(s.reject(rej.Status, rej.Reason, ""))
				return
			}
			buf = bufpool.Grow(buf[:n], limit-n)
			buf = buf[:cap(buf)]
		}
		p, err := c.sock.readChunk(buf[n:], false)
		n += len(p)
		var perr error
		req, used, perr = handshake.ParseLimit(buf[:n], limit)
		if perr == nil {
			break
		}
		var rej *handshake.Rejection
		if errors.As(perr, &rej) {
			s.logf(c.id, 1, "Refused handshake from %s: %v", c.remoteHost, rej)
			c.refuseRaw(s.reject(rej.Status, rej.Reason, rej.Header))
			return
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.logf(c.id, 2, "Handshake read failed: %v", err)
			}
			return
		}
	}
	if s.handOffHTTP(c, req, buf[:n]) {
		opened = true // the HTTP listener has it now
		return
	}
	c.sock.setReadDeadline(time.Time{})
	// Bytes after the request head already belong to the WebSocket stream.
	leftover := bytes.Clone(buf[used:n])
	// The request is parsed (into strings of its own): the buffer can take
	// the response.
	resp, ok := s.upgrade(c, req, buf[:0])
	if !ok {
		c.refuseRaw(resp)
		return
	}
	if !c.writeRaw(resp) {
		return
	}
	bufpool.Put(buf)
	buf = nil
	opened = true
	if c.sock.tlsConn() != nil {
		// The TLS handshake grew this goroutine's stack (to 8 KiB or more)
		// and it would keep it for the connection's life: a fresh goroutine
		// with a small stack serves the connection instead.
		go s.run(c, leftover)
		return
	}
	s.run(c, leftover)
}

// writeRaw writes handshake bytes, bounded in time. It reports success.
func (c *Connection) writeRaw(b []byte) bool {
	_, err := c.sock.write(b, time.Now().Add(10*time.Second))
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
	c.sock.closeWrite()
	c.sock.setReadDeadline(time.Now().Add(refuseLinger))
	var scratch [4 << 10]byte
	for range 256 { // at most 1 MiB
		if _, err := c.sock.readChunk(scratch[:], false); err != nil {
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

// run registers an open connection, fires Connected and ReadyToSend, and
// serves its messages: on this goroutine until the connection ends, or, with
// EventLoop, on an event loop that ends it later. Either way finish ends it.
func (s *Server) run(c *Connection, leftover []byte) {
	s.open(c)
	s.mu.Lock()
	loop := s.cfg.eventLoop
	s.mu.Unlock()
	if loop && c.sock.loopFD() >= 0 && c.Connected() {
		if len(leftover) > 0 {
			if err := c.feed(leftover); err != nil {
				code, reason := c.failed(err)
				s.finish(c, code, reason)
				return
			}
		}
		if !c.peerClosed() && handOff(c) {
			return
		}
		leftover = nil
	}
	code, reason := c.readLoop(leftover)
	s.finish(c, code, reason)
}

// open registers an open connection in Connections and fires Connected and
// ReadyToSend; a handler's panic fails the connection with 1011.
func (s *Server) open(c *Connection) {
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	s.stats.accepted.Add(1)
	s.mem.conns.Add(1)
	c.startHeartbeat()
	if s.logLevel() >= 1 { // the check spares the arguments' allocations
		s.logf(c.id, 1, "WebSocket connection %d open from %s:%d", c.id, c.remoteHost, c.remotePort)
	}
	err := c.fireOpened()
	c.endOpen()
	if err != nil {
		c.fail(c.panicClose(err))
	}
}

// handshakeOnLoop reports whether new connections can do their opening
// handshake on an event loop: EventLoop is on, TLS is off, no
// ConnectionRequest handler or host-name filter can make admission wait,
// and events run inline.
func (s *Server) handshakeOnLoop() bool {
	if s.tlsState.Load() != nil || s.Events.OnConnectionRequest != nil || s.EventDispatch() != DispatchInline {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.eventLoop && !isHostPattern(s.cfg.allowedClients) && !isHostPattern(s.cfg.blockedClients)
}

// fireOpened fires Connected, then ReadyToSend, for the handlers that are
// set (no event struct is made for the others).
func (c *Connection) fireOpened() error {
	s := c.srv
	if h := s.Events.OnConnected; h != nil {
		if err := call(s, c, "Connected", h, &ConnectedEvent{ConnectionID: c.id, Connection: c}); err != nil {
			return err
		}
	}
	if h := s.Events.OnReadyToSend; h != nil {
		return call(s, c, "ReadyToSend", h, &ReadyToSendEvent{ConnectionID: c.id})
	}
	return nil
}

// finish ends an open connection: it leaves Connections, Disconnected fires,
// the socket closes, and its MaxConnections slot and wg count are released.
func (s *Server) finish(c *Connection, code int, reason string) {
	for _, h := range s.retire(c, code) {
		(*h)(c.id)
	}
	s.mem.conns.Add(-1)
	if s.logLevel() >= 1 { // the check spares the arguments' allocations
		s.logf(c.id, 1, "WebSocket connection %d closed: %d %s", c.id, code, reason)
	}
	if h := s.Events.OnDisconnected; h != nil {
		ev := &DisconnectedEvent{ConnectionID: c.id, Connection: c, StatusCode: code, Description: reason}
		if err := call(s, c, "Disconnected", h, ev); err != nil {
			s.reportPanic(c.id, err.(*handlerPanic))
		}
	}
	c.cleanup()
	s.release(c.remoteHost)
	s.wg.Done()
}

// abandon gives back what an admitted connection holds when it never opened.
func (s *Server) abandon(c *Connection) {
	c.sock.close()
	s.release(c.remoteHost)
	s.wg.Done()
}

// ServeHTTP upgrades a WebSocket request of a net/http server into a
// connection of s, with the same events, settings and Connections entry as a
// connection from StartListening. Requests that are not valid upgrades get
// the same HTTP errors. It returns when the connection has ended (with
// EventLoop, as soon as the event loop has taken it over). TLS is the
// http.Server's business here: UseSSL applies only to StartListening.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &handshake.Request{Method: r.Method, URI: r.RequestURI, Proto: r.Proto}
	req.Headers = append(req.Headers, handshake.Header{Name: "Host", Value: r.Host})
	// net/http keeps headers in a map: sort them, so RequestHeaders is stable.
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[name] {
			req.Headers = append(req.Headers, handshake.Header{Name: name, Value: v})
		}
	}
	s.mu.Lock()
	limit := s.cfg.maxHeadSize
	s.mu.Unlock()
	_, rej := handshake.Check(req)
	if size := req.Size(); size > limit {
		// The http.Server read the head (with its own MaxHeaderBytes, 1 MiB
		// by default): the same limit as on the raw listener applies here.
		rej = handshake.TooLarge(limit)
	}
	if rej != nil {
		s.logf(0, 1, "Refused handshake from %s: %v", r.RemoteAddr, rej)
		for _, l := range strings.Split(rej.Header, "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				w.Header().Set(k, strings.TrimSpace(v))
			}
		}
		s.handshakeFailed(rej.Status)
		http.Error(w, strconv.Itoa(rej.Status)+" "+http.StatusText(rej.Status)+": "+rej.Reason, rej.Status)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "500 Internal Server Error: the connection cannot be hijacked (HTTP/2?)", http.StatusInternalServerError)
		return
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		http.Error(w, "500 Internal Server Error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	nc.SetDeadline(time.Time{}) // the http.Server's ReadTimeout or WriteTimeout must not cut the WebSocket
	s.wg.Add(1)
	c, ok := s.admit(newStreamSock(nc))
	if !ok {
		s.wg.Done()
		return
	}
	var leftover []byte
	if n := brw.Reader.Buffered(); n > 0 {
		leftover, _ = brw.Reader.Peek(n)
		leftover = bytes.Clone(leftover)
	}
	c.beginOpen(r, nil)
	resp, ok := s.upgrade(c, req, nil)
	if !c.writeRaw(resp) || !ok {
		s.abandon(c)
		return
	}
	s.run(c, leftover)
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

package wsserver

import (
	"bytes"
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsserver/wsserver/internal/handshake"
	"github.com/wsserver/wsserver/internal/transport"
)

// The server's net/http face: ServeHTTP (the Server as an http.Handler),
// ConfigureHTTPServer, and the hand-off of plain HTTP requests from the
// server's own listener to a net/http server (HTTPListener).

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
	c, ok := s.admit(transport.NewStream(nc))
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
	if err := c.opened(leftover); err != nil {
		(*connHandler)(c).Ended(err)
		return
	}
	s.engine.Serve(c.sock, s.policy())
}

// ConfigureHTTPServer applies the server's limits to hs, an http.Server that
// serves s (ServeHTTP) and perhaps other handlers, so that they hold on the
// net/http path as on StartListening's: ReadHeaderTimeout is HandshakeTimeout
// (or DefaultConnectionTimeout when it is set and shorter; net/http bounds a
// TLS handshake by it too), IdleTimeout is HandshakeTimeout, so that idle
// keep-alive connections, which MaxConnections does not count, are closed,
// and MaxHeaderBytes is MaxRequestHeadSize. Call it after the settings and
// before hs starts serving; fields already set to a shorter value are kept.
func (s *Server) ConfigureHTTPServer(hs *http.Server) {
	s.mu.Lock()
	timeout, limit := s.cfg.handshakeTimeout, s.cfg.maxHeadSize
	if dct := time.Duration(s.cfg.defaultConnectionTimeout) * time.Second; dct > 0 && dct < timeout {
		timeout = dct
	}
	s.mu.Unlock()
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > timeout {
		hs.ReadHeaderTimeout = timeout
	}
	if hs.IdleTimeout <= 0 || hs.IdleTimeout > timeout {
		hs.IdleTimeout = timeout
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > limit {
		hs.MaxHeaderBytes = limit
	}
}

// The HTTP hand-off lets one listening socket serve WebSockets and plain
// HTTP: the server's own listener (StartListening, with the goroutine or
// the EventLoop transport, with or without TLS) reads each request head
// itself, upgrades the WebSocket requests it takes, and hands the others,
// with the bytes already read, to a net/http server through the listener
// HTTPListener returns. WebSocket connections then never pass through
// net/http: they keep the memory and accept cost of StartListening's path.

// HTTPListener makes the server hand the requests on its listener that it
// does not upgrade to the returned net.Listener, and returns it: serve it
// with an http.Server (configured with ConfigureHTTPServer, so that its
// limits match the server's), which then serves those connections with
// keep-alive, bodies, HEAD and everything net/http does.
//
// A request is handed off when it does not ask for a WebSocket (no
// "Upgrade: websocket" header), or when upgrades is not nil and returns
// false for its path: a WebSocket endpoint of another Server, say, whose
// ServeHTTP the http.Server's handler then calls. Every other request is an
// opening handshake of this server, as without the hand-off.
//
// The connection carries the whole request head (at most
// MaxRequestHeadSize: a larger one is refused with 431 first) and what
// followed it. Later requests on a kept-alive connection are the
// http.Server's to bound: MaxHeaderBytes, which net/http exceeds by a few
// KiB of buffer. Once handed off the connection is the http.Server's, and
// no longer counts against MaxConnections or the per-client limits (bound
// idle keep-alive connections with the http.Server's IdleTimeout, which
// ConfigureHTTPServer sets). Over TLS the server has done the TLS handshake:
// the http.Server sees a plain net.Conn and leaves Request.TLS nil, but a
// Server's ServeHTTP that takes the connection over still knows it is TLS.
//
// Calling HTTPListener again closes the previous listener. Once the
// listener is closed (http.Server.Shutdown closes it), requests to hand off
// get 503 Service Unavailable, as they do when nothing accepts them within
// HandshakeTimeout.
func (s *Server) HTTPListener(upgrades func(path string) bool) net.Listener {
	l := &httpListener{
		srv:      s,
		upgrades: upgrades,
		conns:    make(chan net.Conn),
		done:     make(chan struct{}),
	}
	if old := s.httpHandoff.Swap(l); old != nil {
		old.Close()
	}
	return l
}

// httpListener is the net.Listener of HTTPListener.
type httpListener struct {
	srv      *Server
	upgrades func(path string) bool
	conns    chan net.Conn
	done     chan struct{} // closed by Close
	once     sync.Once
}

// Accept waits for the next handed-off connection.
func (l *httpListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the hand-off: requests to hand off get 503 from then on.
func (l *httpListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr names the hand-off; the connections carry their own addresses.
func (l *httpListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "wsserver" }

func (handoffAddr) String() string { return "wsserver-http-handoff" }

// handoffFor returns the listener to hand req to, or nil when req is this
// server's opening handshake (or no hand-off is set).
func (s *Server) handoffFor(req *handshake.Request) *httpListener {
	l := s.httpHandoff.Load()
	if l == nil {
		return nil
	}
	if !handshake.HasToken(req.Values("Upgrade"), "websocket") {
		return l
	}
	if l.upgrades == nil {
		return nil
	}
	path := req.URI
	if u, err := url.ParseRequestURI(req.URI); err == nil {
		path = u.Path
	}
	if l.upgrades(path) {
		return nil
	}
	return l
}

// serveHTTPConn turns c, whose reading ended with its request head (with
// what followed it) in head, into a net.Conn that reads head first, gives
// back what c holds of the server (its MaxConnections slot and wg count),
// and delivers it to l. The handshake stage decides (handoffFor) and the
// connection's end (handshakeEnded) calls it, off any event loop.
func (s *Server) serveHTTPConn(c *Connection, l *httpListener, req *handshake.Request, head []byte) {
	defer s.wg.Done()
	if s.logLevel() >= 1 { // the check spares the arguments' allocations
		s.logf(c.id, 1, "%s %s %s: handed to the HTTP listener", req.Method, req.URI, req.Proto)
	}
	nc, err := c.sock.Detach()
	s.release(c.remoteHost)
	if err != nil {
		s.fireError(c.id, socketError(err, ErrSend))
		return
	}
	nc.SetDeadline(time.Time{})
	hc := &handedConn{Conn: nc, head: head, tc: c.sock.TLS()}
	s.mu.Lock()
	wait := s.cfg.handshakeTimeout
	s.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case l.conns <- hc:
		return
	case <-l.done:
	case <-t.C:
	}
	// Nothing serves the listener: say so, as a server that cannot take
	// the request now.
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write(handshake.AppendReject(nil, 503, "the HTTP server is not serving", "Retry-After: 1"))
	nc.Close()
}

// handedConn is a handed-off connection: it reads the bytes the server
// read before the hand-off first, then from the socket.
type handedConn struct {
	net.Conn
	head []byte
	tc   *tls.Conn // the TLS connection under Conn, if any
}

// TLSConn returns the TLS connection under the handed-off connection, nil
// for plaintext: a Server's ServeHTTP that takes it over still knows it is
// TLS (transport.NewStream asks).
func (h *handedConn) TLSConn() *tls.Conn { return h.tc }

// Read reads what the server read before the hand-off, then the socket.
// Like any net.Conn it takes one reader at a time.
func (h *handedConn) Read(p []byte) (int, error) {
	if len(h.head) > 0 {
		n := copy(p, h.head)
		h.head = h.head[n:]
		if len(h.head) == 0 {
			h.head = nil
		}
		return n, nil
	}
	return h.Conn.Read(p)
}

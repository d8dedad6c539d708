package wsserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/wsserver/wsserver/internal/handshake"
	"github.com/wsserver/wsserver/internal/transport"
)

// The accept path: the listener StartListening opens (Listen, listen), the
// accept loop, and the admission of each connection (MaxConnections, the
// per-client limits, the client filters, ConnectionRequest), then its TLS
// handshake (prepare). What to accept and who reads a connection is the
// server's transport.Engine's decision, from the policy the settings give
// it; ServeHTTP (http.go) admits its connections through the same admit.

// acceptLoop accepts connections from ln until it is closed, and has the
// server's transport.Engine serve each as the settings allow (policy):
// the Engine decides what to accept (a raw socket or a net.Conn) and who
// reads it.
func (s *Server) acceptLoop(ln net.Listener, done chan struct{}) {
	defer close(done)
	var delay time.Duration
	for {
		p := s.policy()
		sk, err := s.engine.Accept(ln, p)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: report, back off, retry.
			s.fireError(0, socketError(err, ErrSend))
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.wg.Add(1)
		s.engine.Start(sk, p, s.prepare)
	}
}

// policy returns what the server's settings allow the transport of a new
// connection (transport.Policy): event loops with EventLoop, from the
// first byte when nothing before the opening can block: no TLS handshake,
// no ConnectionRequest handler or host-name filter for admission to wait
// for, and the handshake's events inline.
func (s *Server) policy() transport.Policy {
	start := s.tlsState.Load() == nil && s.Events.OnConnectionRequest == nil && s.EventDispatch() == DispatchInline
	s.mu.Lock()
	defer s.mu.Unlock()
	return transport.Policy{
		EventLoop:     s.cfg.eventLoop,
		LoopFromStart: start && !isHostPattern(s.cfg.allowedClients) && !isHostPattern(s.cfg.blockedClients),
		Spin:          time.Duration(s.cfg.eventLoopSpin) * time.Microsecond,
	}
}

// prepare readies a socket the listener accepted for its reading: it
// admits it, does the TLS handshake when UseSSL is on, and makes the
// handshake stage the connection's first. It returns the socket to read,
// nil when the connection was turned away or its TLS handshake failed.
// From here on the connection owns its wg count and MaxConnections slot:
// abandon gives them back when the handshake fails, finish when it ends.
func (s *Server) prepare(sk transport.Conn) transport.Conn {
	c, ok := s.admit(sk)
	if !ok {
		s.wg.Done()
		return nil
	}
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	if rt := s.tlsState.Load(); rt != nil {
		tc, err := s.tlsHandshake(c, rt, &cfg)
		if err != nil {
			s.abandon(c)
			return nil
		}
		c.sock = transport.NewStream(tc)
		c.sock.Bind((*connHandler)(c))
	}
	c.beginHandshake(cfg.handshakeTimeout, cfg.maxHeadSize)
	return c.sock
}

// admit applies MaxConnections, the client filters and the ConnectionRequest
// event to a new TCP connection, and sets its socket options. When it says
// no, it has closed the socket.
func (s *Server) admit(sk transport.Conn) (*Connection, bool) {
	var host string
	remote := sk.RemoteAddr()
	if remote.IsValid() {
		host = remote.Addr().String()
	}
	port := int(remote.Port())
	id, cfg, ok := s.admission(host, port, sk.Refuse)
	if !ok {
		return nil, false
	}
	sk.SetOptions(socketOptions(cfg))
	c := newConnection(s, id, sk, cfg)
	c.remoteHost, c.remotePort = host, uint16(port)
	if la := sk.LocalAddr(); la.IsValid() {
		c.localAddr = s.localAddrOf(la)
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

// localAddr is a local address of connections, with its text.
type localAddr struct {
	addr netip.Addr
	text string
}

// localAddrOf returns local address a as connections keep it: the one of
// the last connection made when it is the same, so that connections share
// it. Most servers listen on one address, and a string per idle connection
// is memory for nothing.
func (s *Server) localAddrOf(a netip.Addr) *localAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastLocal == nil || s.lastLocal.addr != a {
		s.lastLocal = &localAddr{addr: a, text: a.String()}
	}
	return s.lastLocal
}

// Listen opens the listening socket StartListening would open, on
// LocalHost:LocalPort with ConnectionBacklog and the BindExclusively,
// UseIPv6, InBufferSize and OutBufferSize settings, and returns it without
// accepting on it. It is for serving the Server through net/http: pass the
// listener to http.Server.Serve with a handler that hands upgrade requests to
// ServeHTTP, and the settings still reach the socket. The caller owns the
// listener: Listening stays false and StopListening does not close it. It
// fails like StartListening, with 10048 when the port is in use.
func (s *Server) Listen() (net.Listener, error) {
	s.mu.Lock()
	cfg := s.cfg
	host, port, backlog := s.localHost, s.localPort, s.backlog
	s.mu.Unlock()
	return listen(host, port, backlog, &cfg)
}

// useIPv6Hint says, per UseIPv6 value, which value would fit another family.
var useIPv6Hint = [...]string{
	0: "UseIPv6=0 is IPv4 only: set UseIPv6=1 for IPv6, 2 for both",
	1: "UseIPv6=1 is IPv6 only: set UseIPv6=0 for IPv4, 2 for both",
	2: "UseIPv6=2 takes either family",
}

// listen opens the listening socket (transport.Listen), so that
// ConnectionBacklog, BindExclusively, UseIPv6 and the buffer sizes reach
// the kernel as set where the system allows it.
func listen(host string, port, backlog int, cfg *settings) (net.Listener, error) {
	addr, err := listenAddr(host, cfg.useIPv6)
	if err != nil {
		return nil, err
	}
	ln, err := transport.Listen(addr, port, transport.ListenOptions{
		Backlog:         backlog,
		BindExclusively: cfg.bindExclusively,
		UseIPv6:         cfg.useIPv6,
		ReadBuffer:      cfg.inBufferSize,
		WriteBuffer:     cfg.outBufferSize,
	})
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, newError(ErrNotSupported, "BindExclusively=False (SO_REUSEPORT) is implemented on Linux only, not on %s", runtime.GOOS)
	}
	if err != nil {
		return nil, socketError(err, ErrSend)
	}
	return ln, nil
}

// listenAddr resolves LocalHost for the address family UseIPv6 selects.
func listenAddr(host string, useIPv6 int) (netip.Addr, error) {
	if host == "" {
		if useIPv6 == 0 {
			return netip.IPv4Unspecified(), nil
		}
		return netip.IPv6Unspecified(), nil
	}
	var ips []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{a.Unmap()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err != nil {
			return netip.Addr{}, &Error{Code: 11001, Message: socketMessages[11001], Err: err}
		}
		ips = found
	}
	for _, a := range ips {
		a = a.Unmap()
		switch {
		case a.Is4() && useIPv6 != 1:
			return a, nil
		case a.Is6() && useIPv6 != 0:
			return a, nil
		}
	}
	return netip.Addr{}, &Error{Code: 10047, Message: socketMessages[10047],
		Err: errors.New("LocalHost " + host + " has no address of the family UseIPv6 selects (" + useIPv6Hint[useIPv6] + ")")}
}

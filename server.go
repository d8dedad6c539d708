package wsserver

import (
	"context"
	"errors"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/wsserver/wsserver/internal/transport"
)

// Server is a WebSocket server: the WSServer component. The zero value is not
// usable; create one with New.
type Server struct {
	// Events are the event handlers. Set them before StartListening.
	Events Events

	mu        sync.Mutex // guards the fields below
	localHost string
	localPort int
	backlog   int
	timeout   int // DefaultTimeout, seconds
	ln        net.Listener
	lnDone    chan struct{} // closed when the accept loop of ln returns
	cfg       settings
	conns     map[int]*Connection // open WebSocket connections, by ID
	lastOpts  *connOptions        // the options of the last connection made, to share
	lastLocal *localAddr          // the local address of the last connection made, to share
	active    int                 // accepted connections not yet ended (for MaxConnections)
	nextID    int
	started   bool                // StartListening or ServeHTTP ran: MaxConnections is fixed
	ips       map[string]*ipState // clients with connections or handshake history (iplimit.go)

	dispatch atomic.Int32   // an EventDispatch
	wg       sync.WaitGroup // connection goroutines
	queue    eventQueue     // events waiting for DoEvents

	tlsState atomic.Pointer[tlsRuntime] // the TLS configuration in use while listening
	engine   transport.Engine           // the event loops serving its connections (EventLoop)

	closeHooks []*func(id int) // AddCloseHook's functions, guarded by mu
	stats      serverStats     // counters for Metrics (metrics.go)
	wheel      wheel           // liveness checks (liveness.go)
	mem        memBudget       // the memory budget's accounting (budget.go)

	httpHandoff atomic.Pointer[httpListener] // HTTPListener's (http.go)
}

// New returns a Server with the reference's defaults.
func New() *Server {
	return &Server{
		backlog: 5,
		cfg:     defaultSettings(),
		conns:   make(map[int]*Connection),
	}
}

// ConnectionBacklog returns the maximum number of pending connections the
// TCP/IP stack keeps for the listening socket (default 5).
func (s *Server) ConnectionBacklog() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backlog
}

// SetConnectionBacklog sets the listen backlog used by the next
// StartListening. The kernel caps it at net.core.somaxconn.
func (s *Server) SetConnectionBacklog(n int) error {
	if n < 1 {
		return newError(ErrInvalidValue, "ConnectionBacklog must be at least 1, got %d", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backlog = n
	return nil
}

// DefaultTimeout returns the timeout, in seconds, that new connections start
// with (0: asynchronous sends).
func (s *Server) DefaultTimeout() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeout
}

// SetDefaultTimeout sets the Timeout of connections accepted from now on.
func (s *Server) SetDefaultTimeout(seconds int) error {
	if seconds < 0 {
		return newError(ErrInvalidValue, "DefaultTimeout must not be negative, got %d", seconds)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeout = seconds
	return nil
}

// Listening reports whether the server accepts connections on LocalPort.
func (s *Server) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln != nil
}

// LocalHost returns the interface the server listens on: the value set, or,
// while listening, the address of the listening socket.
func (s *Server) LocalHost() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil && s.localHost == "" {
		if a, ok := s.ln.Addr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
			return a.IP.String()
		}
	}
	if s.localHost == "" {
		h, _ := os.Hostname()
		return h
	}
	return s.localHost
}

// SetLocalHost sets the interface (IP address or host name) to listen on;
// "" listens on every interface. It fails with 107 while listening.
func (s *Server) SetLocalHost(host string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return ErrLocalHostLocked
	}
	s.localHost = host
	return nil
}

// LocalPort returns the TCP port to listen on; while listening, the port in
// use (the one the system picked when it was set to 0).
func (s *Server) LocalPort() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return s.localPort
}

// SetLocalPort sets the TCP port to listen on (0: the system picks one). It
// fails with 106 while listening.
func (s *Server) SetLocalPort(port int) error {
	if port < 0 || port > 65535 {
		return newError(ErrInvalidValue, "LocalPort must be 0..65535, got %d", port)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return ErrLocalPortLocked
	}
	s.localPort = port
	return nil
}

// StartListening starts accepting connections on LocalHost:LocalPort. It
// fails with 104 when already listening, with the 100xx code of the socket
// error (10048 for a port in use), or, with UseSSL, with the SSL error of a
// certificate that cannot be used.
func (s *Server) StartListening() error {
	s.mu.Lock()
	if s.ln != nil {
		s.mu.Unlock()
		return ErrAlreadyListening
	}
	cfg := s.cfg
	host, port, backlog := s.localHost, s.localPort, s.backlog
	useSSL := cfg.ssl.useSSL
	s.mu.Unlock()

	if useSSL {
		rt, err := s.buildTLS()
		if err != nil {
			return err
		}
		s.tlsState.Store(rt)
	} else {
		s.tlsState.Store(nil)
	}
	ln, err := listen(host, port, backlog, &cfg)
	if err != nil {
		return err
	}
	ln = transport.RawAccept(ln) // EventLoop may take raw sockets from it
	s.mu.Lock()
	if s.ln != nil { // another StartListening won the race
		s.mu.Unlock()
		ln.Close()
		return ErrAlreadyListening
	}
	s.ln = ln
	s.started = true
	done := make(chan struct{})
	s.lnDone = done
	s.mu.Unlock()
	s.logf(0, 1, "Listening on %s", ln.Addr())
	go s.acceptLoop(ln, done)
	return nil
}

// StopListening stops accepting new connections; open connections stay.
func (s *Server) StopListening() error {
	s.mu.Lock()
	ln, done := s.ln, s.lnDone
	s.ln = nil
	s.mu.Unlock()
	if ln == nil {
		return nil
	}
	err := ln.Close()
	<-done
	s.logf(0, 1, "Stopped listening")
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return socketError(err, ErrSend)
	}
	return nil
}

// Shutdown stops listening and disconnects every client (Disconnect with
// DisconnectStatusCode, by default 1000). It does not wait for the clients'
// close replies; ShutdownContext does.
func (s *Server) Shutdown() error {
	err := s.StopListening()
	for _, c := range s.Connections() {
		c.disconnect(0, "")
	}
	return err
}

// ShutdownContext is Shutdown that then waits until every connection has
// ended (close handshakes done and Disconnected fired) or ctx is done, in
// which case it cuts the remaining connections and returns ctx's error. Do
// not call it from an event handler: it would wait for that handler.
func (s *Server) ShutdownContext(ctx context.Context) error {
	err := s.Shutdown()
	idle := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return err
	case <-ctx.Done():
		for _, c := range s.Connections() {
			c.abort()
		}
		<-idle
		return ctx.Err()
	}
}

// Connections returns the open connections, ordered by ConnectionID (the
// reference's Connections collection).
func (s *Server) Connections() []*Connection {
	s.mu.Lock()
	list := make([]*Connection, 0, len(s.conns))
	for _, c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	return list
}

// Connection returns the open connection with the given ID, or nil and error
// 126 when there is none.
func (s *Server) Connection(id int) (*Connection, error) {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil {
		return nil, newError(ErrInvalidConnectionID, "no open connection has ID %d", id)
	}
	return c, nil
}

// ConnectionCount returns the number of open connections.
func (s *Server) ConnectionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Disconnect closes the connection: it sends a close frame with
// DisconnectStatusCode and DisconnectStatusDescription and, with
// WaitForCloseResponse, waits for the client's reply (at most CloseTimeout)
// before closing the socket. It returns at once; Disconnected fires when the
// connection has ended.
func (s *Server) Disconnect(id int) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	c.disconnect(0, "")
	return nil
}

// DisconnectWithCode is Disconnect with an explicit close code and reason
// instead of the DisconnectStatus settings.
func (s *Server) DisconnectWithCode(id, code int, reason string) error {
	if !validSendCloseCode(code) {
		return newError(ErrInvalidValue, "close code %d may not be sent (RFC 6455 section 7.4)", code)
	}
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	c.disconnect(code, reason)
	return nil
}

// Interrupt stops a SendFile or SendStream in progress on the connection:
// the message ends early and the send returns ErrInterrupted; the connection
// stays open.
func (s *Server) Interrupt(id int) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	c.interrupt()
	return nil
}

// ChangeLineMode switches LineMode for the connection: DataIn then fires per
// line of received data (see DataInEvent.EOL) instead of per message piece.
func (s *Server) ChangeLineMode(id int, lineMode bool) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	c.lineMode.Store(lineMode)
	return nil
}

// logLevel returns the LogLevel setting, or 0 when nobody listens to Log.
func (s *Server) logLevel() int {
	if s.Events.OnLog == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.logLevel
}

// logf fires the Log event when level is within LogLevel.
func (s *Server) logf(id, level int, format string, args ...any) {
	if level > s.logLevel() {
		return
	}
	logType := [...]string{"Info", "Info", "Verbose", "Debug"}[min(level, 3)]
	s.fireLog(id, level, logType, format, args...)
}

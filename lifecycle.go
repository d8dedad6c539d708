package wsserver

import (
	"errors"
	"time"

	"github.com/wsserver/wsserver/internal/transport"
)

// A connection's life: accept (accept.go: admission, the TLS handshake when
// UseSSL is on), then its byte handler (connHandler, here) fed by a
// transport: the handshake stage (stage_handshake.go), then the frame stage
// (stage_read.go), until the reading ends (Ended) and finish (or abandon,
// for one that never opened) gives back what it held. Which transport reads
// a connection is the Engine's decision (transport.Engine.Serve), from the
// policy the server gives it (accept.go).

// opened opens a connection whose handshake was answered (its response
// queued or written): Connected and ReadyToSend fire, and the bytes that
// came after the request head go to the frame stage. The response and
// what the handlers and the frames queued go out in one write.
func (c *Connection) opened(leftover []byte) error {
	c.startBatch()
	c.srv.open(c)
	if len(leftover) > 0 {
		return c.frameBytes(leftover)
	}
	c.endBatch()
	return nil
}

// connHandler is the Connection seen as its transport's byte handler
// (transport.Handler); it keeps the handler methods off Connection's
// exported method set. One reader at a time calls Bytes and ReadTarget: the
// connection's reader goroutine or its event loop; Ended runs last, on a
// goroutine.
type connHandler Connection

// Bytes hands p, read from the socket, to the connection's current stage.
// An error ends the reading: ended gets it.
func (h *connHandler) Bytes(p []byte) error {
	c := (*Connection)(h)
	if c.hs != nil {
		return c.handshakeBytes(p)
	}
	return c.frameBytes(p)
}

// Opened reports whether the handshake stage has opened the connection
// and it is still open: from then on the frame stage never blocks on an
// event loop. A connection already closing (a Connected handler called
// Disconnect, or panicked) stays with its reader goroutine, whose read
// deadline (closeReadAfter: CloseTimeout for the client's close frame)
// a loop would not keep, were it set before the move.
func (h *connHandler) Opened() bool { return h.hs == nil && (*Connection)(h).Connected() }

// ReadTarget returns where the next read should go, nil for the
// transport's own buffer, and whether a large read is expected (a large
// frame arriving).
func (h *connHandler) ReadTarget() ([]byte, bool) {
	c := (*Connection)(h)
	if c.hs != nil {
		return c.hs.target(), false
	}
	t := c.directTarget()
	return t, t == nil && c.readState != nil && c.rd.FrameRemaining() > transport.ReadBufferSize
}

// Ended ends the connection once its reading has ended with err: the
// client's close frame (errPeerClosed), a protocol violation or a
// handler's panic (frameError), or the socket's end. It runs on a
// goroutine (never on an event loop) and may block.
func (h *connHandler) Ended(err error) {
	c := (*Connection)(h)
	if c.hs != nil {
		c.handshakeEnded(err)
		return
	}
	var code int
	var reason string
	var fe *frameError
	switch {
	case err == errPeerClosed:
		code, reason = c.closedByPeer()
	case errors.As(err, &fe):
		code, reason = c.failed(fe.err)
	default:
		code, reason = c.readFailed(err)
	}
	c.srv.finish(c, code, reason)
}

// Failed reports a socket failure no caller sees (a raw socket that could
// not get its twin) as an Error event.
func (h *connHandler) Failed(err error) {
	c := (*Connection)(h)
	c.srv.fireError(c.id, socketError(err, ErrSend))
}

func newConnection(s *Server, id int, sk transport.Conn, cfg *settings) *Connection {
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

			slowClientTimeout: cfg.slowClientTimeout,
			budget:            cfg.budget(),
			share:             cfg.budget() / int64(cfg.maxConnections),
			pingInterval:      cfg.pingInterval,
			pongTimeout:       cfg.pongTimeout,
			msgRate:           float64(cfg.msgRate),
		}),
	}
	sk.Bind((*connHandler)(c))
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

// open registers an open connection in Connections and fires Connected and
// ReadyToSend; a handler's panic fails the connection with 1011.
func (s *Server) open(c *Connection) {
	c.stats.opened = time.Now().UnixNano() // ConnectedAt (metrics.go)
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	s.stats.accepted.Add(1)
	c.accountOpen()
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
	c.sock.Close()
	s.release(c.remoteHost)
	s.wg.Done()
}

// socketOptions returns the socket settings of cfg for an accepted socket.
func socketOptions(cfg *settings) transport.Options {
	return transport.Options{
		NoDelay:           cfg.tcpNoDelay,
		KeepAliveIdle:     time.Duration(cfg.keepAliveTime) * time.Millisecond,
		KeepAliveInterval: time.Duration(cfg.keepAliveInterval) * time.Millisecond,
		ReadBuffer:        cfg.inBufferSize,
		WriteBuffer:       cfg.outBufferSize,
	}
}

package wsserver

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver/internal/handshake"
)

// Metrics are a Server's counters, each counting since New, and its gauges,
// as they are when Metrics is called. They need no event handler: the
// server keeps them itself, cheaply (per-connection counters, summed when
// read).
type Metrics struct {
	// Connections is the number of open WebSocket connections (a gauge).
	Connections int
	// Accepted counts connections that completed the opening handshake.
	Accepted uint64
	// Refused counts TCP connections turned away before the handshake, by
	// reason: "max_connections" (MaxConnections reached; HTTP 503) or
	// "filtered" (AllowedClients, BlockedClients or ConnectionRequest).
	Refused map[string]uint64
	// HandshakeFailures counts opening handshakes answered with an HTTP
	// error, by status code (400 malformed, 426 wrong version, 431 head too
	// large, a WebSocketOpenRequest handler's status, ...).
	HandshakeFailures map[int]uint64
	// Messages and payload bytes received and sent (text and binary; bytes
	// before compression, in pieces as they come for a message delivered
	// in pieces). A Broadcast counts once for every connection it reaches.
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	// Closes counts closed connections by close code (1006: dropped
	// without a close frame).
	Closes map[int]uint64
	// SendsRefused counts sends that failed with ErrWouldBlock (10035): the
	// connection's queue was full.
	SendsRefused uint64
	// QueuedBytes is the number of bytes queued for the open connections
	// and not yet written (a gauge).
	QueuedBytes int64
	// Broadcasts counts Broadcast calls; BroadcastTime is the time they
	// took in all (queuing for every recipient, not the writes), and
	// BroadcastRecipients the connections they reached.
	Broadcasts          uint64
	BroadcastTime       time.Duration
	BroadcastRecipients uint64
	// Pongs counts the pongs that answered a Ping with a measurable round
	// trip; PingRTT is their round trips in all (divide by Pongs for the
	// mean) and LastPingRTT the latest one (0 before the first).
	Pongs       uint64
	PingRTT     time.Duration
	LastPingRTT time.Duration
}

// serverStats is what a Server counts beyond its connections'
// own counters.
type serverStats struct {
	accepted            atomic.Uint64
	refusedFull         atomic.Uint64
	refusedFilter       atomic.Uint64
	broadcasts          atomic.Uint64
	broadcastNanos      atomic.Uint64
	broadcastRecipients atomic.Uint64
	pongs               atomic.Uint64
	pingNanos           atomic.Uint64
	lastPing            atomic.Int64

	mu       sync.Mutex
	failures map[int]uint64 // handshake failures by status
	closes   map[int]uint64 // by close code
	retired  connCounters   // counters of the connections that ended
}

// connCounters are one connection's traffic counters, and when it opened.
// The reader writes the In counters (atomics: Metrics reads them from
// another goroutine, but only this connection writes them, so they are not
// contended); the Out counters are guarded by the connection's mu, which
// every send holds.
type connCounters struct {
	msgsIn, bytesIn atomic.Uint64
	msgsOut         uint64
	bytesOut        uint64
	refused         uint64 // sends refused with ErrWouldBlock
	opened          int64  // Unix nanoseconds; set by Server.open before the connection is in Connections
}

// ConnectionMetrics are one connection's counters and gauges, counted as
// Metrics counts them for the whole server.
type ConnectionMetrics struct {
	// Messages and payload bytes received and sent (text and binary; bytes
	// before compression). A Broadcast that reached the connection counts.
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	// SendsRefused counts sends to the connection that failed with
	// ErrWouldBlock (10035): its queue was full.
	SendsRefused uint64
	// QueuedBytes is the number of bytes queued for the connection and not
	// yet written (a gauge).
	QueuedBytes int64
}

// Metrics returns the connection's counters: a monitor's row or a close
// log's totals, without counting in an event handler. It may be called from
// any goroutine, also after the connection ended (its final counts); it
// takes the connection's lock, so call it when asked, not per message.
func (c *Connection) Metrics() ConnectionMetrics {
	m := ConnectionMetrics{
		MessagesIn: c.stats.msgsIn.Load(),
		BytesIn:    c.stats.bytesIn.Load(),
	}
	c.mu.Lock()
	m.MessagesOut, m.BytesOut, m.SendsRefused = c.stats.msgsOut, c.stats.bytesOut, c.stats.refused
	if c.sendState != nil {
		m.QueuedBytes = int64(c.q.queued)
	}
	c.mu.Unlock()
	return m
}

// ConnectedAt returns when the connection opened: when its opening
// handshake completed, just before Connected fired.
func (c *Connection) ConnectedAt() time.Time { return time.Unix(0, c.stats.opened) }

// countIn counts n payload bytes received, and a message when fin.
func (c *Connection) countIn(n int, fin bool) {
	c.stats.bytesIn.Add(uint64(n))
	if fin {
		c.stats.msgsIn.Add(1)
	}
}

// countOutLocked counts a message (or a piece of a MessageLength message when not
// begin) of n payload bytes sent. c.mu is held.
func (c *Connection) countOutLocked(n int, begin bool) {
	c.stats.bytesOut += uint64(n)
	if begin {
		c.stats.msgsOut++
	}
}

// reject counts a failed opening handshake and returns its HTTP response.
func (s *Server) reject(status int, reason, header string) []byte {
	s.handshakeFailed(status)
	return handshake.AppendReject(nil, status, reason, header)
}

// handshakeFailed counts an opening handshake answered with status.
func (s *Server) handshakeFailed(status int) {
	st := &s.stats
	st.mu.Lock()
	if st.failures == nil {
		st.failures = make(map[int]uint64)
	}
	st.failures[status]++
	st.mu.Unlock()
}

// retire removes a connection that ended with code from Connections and
// folds its counters into the server's, in one step for Metrics, so that
// no read counts it twice or misses it (counters never go back). It
// returns the close hooks to call.
func (s *Server) retire(c *Connection, code int) []*func(id int) {
	st := &s.stats
	st.mu.Lock()
	s.mu.Lock()
	delete(s.conns, c.id)
	hooks := s.closeHooks
	s.mu.Unlock()
	c.mu.Lock()
	out, bytesOut, refused := c.stats.msgsOut, c.stats.bytesOut, c.stats.refused
	c.mu.Unlock()
	if st.closes == nil {
		st.closes = make(map[int]uint64)
	}
	st.closes[code]++
	r := &st.retired
	r.msgsIn.Add(c.stats.msgsIn.Load())
	r.bytesIn.Add(c.stats.bytesIn.Load())
	r.msgsOut += out
	r.bytesOut += bytesOut
	r.refused += refused
	st.mu.Unlock()
	return hooks
}

// pongRTT records the round trip a pong measures, when its payload is the
// send time a Ping wrote (as decimal Unix nanoseconds) and it is plausible.
func (s *Server) pongRTT(c *Connection, payload []byte) {
	if len(payload) < 19 || len(payload) > 20 {
		return
	}
	sent, err := strconv.ParseInt(string(payload), 10, 64)
	if err != nil {
		return
	}
	rtt := time.Now().UnixNano() - sent
	if rtt < 0 || rtt > int64(time.Hour) {
		return
	}
	c.lastRTT.Store(rtt)
	s.stats.pongs.Add(1)
	s.stats.pingNanos.Add(uint64(rtt))
	s.stats.lastPing.Store(rtt)
}

// PingRTT returns the round trip of the connection's last ping (sent with
// Server.Ping) that a pong answered, or 0 when none has been measured.
func (c *Connection) PingRTT() time.Duration { return time.Duration(c.lastRTT.Load()) }

// Metrics returns the server's counters and gauges. It reads every open
// connection's counters (O(connections)): call it when metrics are scraped
// or shown, not per message.
func (s *Server) Metrics() Metrics {
	st := &s.stats
	m := Metrics{
		Accepted: st.accepted.Load(),
		Refused: map[string]uint64{
			"max_connections": st.refusedFull.Load(),
			"filtered":        st.refusedFilter.Load(),
		},
		Broadcasts:          st.broadcasts.Load(),
		BroadcastTime:       time.Duration(st.broadcastNanos.Load()),
		BroadcastRecipients: st.broadcastRecipients.Load(),
		Pongs:               st.pongs.Load(),
		PingRTT:             time.Duration(st.pingNanos.Load()),
		LastPingRTT:         time.Duration(st.lastPing.Load()),
	}
	// st.mu keeps retire out: each connection is counted once, open or
	// retired.
	st.mu.Lock()
	defer st.mu.Unlock()
	conns := s.AppendConnections(nil) // sums need no order: no sort
	m.Connections = len(conns)
	for _, c := range conns {
		m.MessagesIn += c.stats.msgsIn.Load()
		m.BytesIn += c.stats.bytesIn.Load()
		c.mu.Lock()
		m.MessagesOut += c.stats.msgsOut
		m.BytesOut += c.stats.bytesOut
		m.SendsRefused += c.stats.refused
		if c.sendState != nil {
			m.QueuedBytes += int64(c.q.queued)
		}
		c.mu.Unlock()
	}
	m.HandshakeFailures = maps.Clone(st.failures)
	m.Closes = maps.Clone(st.closes)
	m.MessagesIn += st.retired.msgsIn.Load()
	m.BytesIn += st.retired.bytesIn.Load()
	m.MessagesOut += st.retired.msgsOut
	m.BytesOut += st.retired.bytesOut
	m.SendsRefused += st.retired.refused
	if m.HandshakeFailures == nil {
		m.HandshakeFailures = map[int]uint64{}
	}
	if m.Closes == nil {
		m.Closes = map[int]uint64{}
	}
	return m
}

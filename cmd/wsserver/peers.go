package main

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wsserver/wsserver"
)

// The command keeps nothing of its own for an open connection in echo and
// broadcast mode: the library's table lists the connections
// (Server.AppendConnections, Server.Connections), and each Connection knows
// its address, request URI, open time and traffic (Connection.Metrics). A
// connection whose send queue once refused a message gets a peer, its
// outbox, kept in the Connection's Value; in exec mode every connection
// gets one, with its program. So an idle connection costs what the library
// holds for it, and connecting or disconnecting costs O(1).

// peer is what the command adds to a connection once it needs more than the
// library holds: the outbox of messages its send queue could not take yet,
// and in exec mode the program serving it. It lives in the connection's
// Value (peerOf).
type peer struct {
	id   int
	conn *wsserver.Connection
	exec *session // exec mode: the program serving it

	// The outbox keeps, in order, the messages for the connection that its
	// send queue refused with ErrWouldBlock, until the ReadyToSend event
	// says the queue has drained. Sends never block: that keeps event
	// handlers short, as the EventLoop transport requires, and lets a slow
	// client hold back only what is sent to it.
	mu      sync.Mutex // guards the fields below; held across SendMessage to keep order
	pending []pendingMsg
	bytes   int          // payload bytes in pending
	queued  atomic.Int64 // a copy of bytes, for the monitor to read without mu
	held    atomic.Int32 // len(pending), for broadcast to read without mu
}

type pendingMsg struct {
	format wsserver.DataFormat
	data   []byte
}

// peerOf returns the connection's peer, or nil when it has none.
func peerOf(c *wsserver.Connection) *peer {
	p, _ := c.Value().(*peer)
	return p
}

// peerFor returns the connection's peer, making it on first need.
func (a *app) peerFor(c *wsserver.Connection) *peer {
	if p := peerOf(c); p != nil {
		return p
	}
	// Rare (a first refusal, or an exec connection): one lock for all.
	a.peerMu.Lock()
	defer a.peerMu.Unlock()
	if p := peerOf(c); p != nil {
		return p
	}
	p := &peer{id: c.ID(), conn: c}
	c.SetValue(p)
	return p
}

// remoteOf returns the client's address, host:port.
func remoteOf(c *wsserver.Connection) string {
	return net.JoinHostPort(c.RemoteHost(), strconv.Itoa(c.RemotePort()))
}

// queuedOf returns the payload bytes waiting in c's outbox.
func queuedOf(c *wsserver.Connection) int64 {
	if p := peerOf(c); p != nil {
		return p.queued.Load()
	}
	return 0
}

// heldOf returns how many messages wait in c's outbox.
func heldOf(c *wsserver.Connection) int32 {
	if p := peerOf(c); p != nil {
		return p.held.Load()
	}
	return 0
}

// traffic is a sum of message and byte counts.
type traffic struct {
	MessagesIn  int64 `json:"messagesIn"`
	MessagesOut int64 `json:"messagesOut"`
	BytesIn     int64 `json:"bytesIn"`
	BytesOut    int64 `json:"bytesOut"`
	Deferred    int64 `json:"deferred"` // messages that waited in an outbox
}

// totals returns the traffic of every connection of the mode's server,
// open or gone, from the library's counters: O(n), for when someone asks
// (the stats log, /connections, a watcher's update), not per message.
func (a *app) totals() traffic {
	m := a.srv.Metrics()
	return traffic{
		MessagesIn: int64(m.MessagesIn), MessagesOut: int64(m.MessagesOut),
		BytesIn: int64(m.BytesIn), BytesOut: int64(m.BytesOut),
		Deferred: a.deferred.Load(),
	}
}

// send sends data to c, or, when its send queue is full or messages
// already wait, keeps a copy to send after them. It reports how many bytes
// then wait. data need not outlive the call.
func (a *app) send(c *wsserver.Connection, format wsserver.DataFormat, data []byte) (waiting int, err error) {
	p := peerOf(c)
	if p == nil {
		// Nothing has ever waited: no outbox to keep the order of.
		err := a.srv.SendMessage(c.ID(), format, data)
		if err == nil || !errors.Is(err, wsserver.ErrWouldBlock) {
			return 0, err
		}
		return a.hold(a.peerFor(c), format, data)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		err := a.srv.SendMessage(p.id, format, data)
		if err == nil || !errors.Is(err, wsserver.ErrWouldBlock) {
			return 0, err
		}
	}
	return a.keepLocked(p, format, data)
}

// keepLocked keeps a copy of data after the messages waiting in p's outbox
// and returns how many bytes then wait. p.mu is held.
func (a *app) keepLocked(p *peer, format wsserver.DataFormat, data []byte) (waiting int, err error) {
	// Messages waiting here count against the server's memory budget.
	if !p.conn.ChargeMemory(int64(len(data))) {
		return p.bytes, errOverBudget
	}
	if len(p.pending) == 0 {
		a.backlogged.Add(1)
	}
	p.pending = append(p.pending, pendingMsg{format, bytes.Clone(data)})
	p.bytes += len(data)
	p.queued.Store(int64(p.bytes))
	p.held.Store(int32(len(p.pending)))
	a.deferred.Add(1)
	return p.bytes, nil
}

// hold keeps a message the send queue refused (ErrWouldBlock) in p's
// outbox, then tries to send what waits: the queue may have drained, and
// ReadyToSend fired, between the refusal and now, and the next ReadyToSend
// comes only after another refusal. It reports how many bytes then wait.
func (a *app) hold(p *peer, format wsserver.DataFormat, data []byte) (waiting int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if waiting, err := a.keepLocked(p, format, data); err != nil {
		return waiting, err
	}
	if _, err := a.flushLocked(p); err != nil {
		return p.bytes, err
	}
	return p.bytes, nil
}

// flush sends the messages waiting for c until its send queue is full
// again. It reports whether none waits any more.
func (a *app) flush(c *wsserver.Connection) (empty bool, err error) {
	p := peerOf(c)
	if p == nil {
		return true, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return a.flushLocked(p)
}

// flushLocked is flush with p.mu held.
func (a *app) flushLocked(p *peer) (empty bool, err error) {
	if len(p.pending) == 0 {
		return true, nil
	}
	defer func() {
		p.queued.Store(int64(p.bytes))
		p.held.Store(int32(len(p.pending)))
	}()
	for len(p.pending) > 0 {
		m := p.pending[0]
		err := a.srv.SendMessage(p.id, m.format, m.data)
		if errors.Is(err, wsserver.ErrWouldBlock) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		p.conn.ChargeMemory(-int64(len(m.data)))
		p.pending[0] = pendingMsg{}
		p.pending = p.pending[1:]
		p.bytes -= len(m.data)
	}
	p.pending = nil
	a.backlogged.Add(-1)
	return true, nil
}

// drop forgets the messages waiting for c.
func (a *app) drop(c *wsserver.Connection) {
	p := peerOf(c)
	if p == nil {
		return
	}
	p.mu.Lock()
	if len(p.pending) > 0 {
		a.backlogged.Add(-1)
	}
	p.conn.ChargeMemory(-int64(p.bytes))
	p.pending, p.bytes = nil, 0
	p.queued.Store(0)
	p.held.Store(0)
	p.mu.Unlock()
}

// connList is a reusable list of connections, for walking them all without
// allocating (Server.AppendConnections).
type connList struct{ conns []*wsserver.Connection }

// borrowConns returns the open connections of the mode's server, in no
// order, in a list from a pool; give it back with giveBack. Walking a copy
// lets sends run without holding the library's lock.
func (a *app) borrowConns() *connList {
	l, _ := a.lists.Get().(*connList)
	if l == nil {
		l = new(connList)
	}
	l.conns = a.srv.AppendConnections(l.conns[:0])
	return l
}

func (a *app) giveBack(l *connList) {
	clear(l.conns)
	l.conns = l.conns[:0]
	a.lists.Put(l)
}

// outboxBytes returns the bytes waiting in every open connection's outbox:
// O(n) while some outbox holds messages, for /metrics.
func (a *app) outboxBytes() int64 {
	if a.backlogged.Load() == 0 {
		return 0
	}
	l := a.borrowConns()
	defer a.giveBack(l)
	var n int64
	for _, c := range l.conns {
		n += queuedOf(c)
	}
	return n
}

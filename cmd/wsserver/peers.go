package main

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver"
)

// peer is one open connection of the mode's server, as the command tracks
// it. It is kept small: an idle connection costs this, beside what the
// library holds. What the Connection knows (address, URI) is read from it.
type peer struct {
	id    int
	conn  *wsserver.Connection
	since int64 // when it opened, in Unix nanoseconds
	idx   int   // position in peers.list; guarded by peers.mu

	// Traffic of this connection. Only the connection's own events write
	// them (one goroutine or event loop at a time), so the atomics are not
	// contended; totals fold them on read (peers.totals).
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Int64
	deferred                           atomic.Int64 // messages that waited in the outbox

	sender bool // broadcast: it selected senderProtocol

	out  atomic.Pointer[outbox] // messages its send queue could not take yet; made on first need
	exec *session               // exec mode: the program serving it
}

// remote returns the client's address, host:port.
func (p *peer) remote() string {
	return net.JoinHostPort(p.conn.RemoteHost(), strconv.Itoa(p.conn.RemotePort()))
}

// uri returns the request URI the client connected with.
func (p *peer) uri() string { return p.conn.RequestURI() }

// started returns when the connection opened.
func (p *peer) started() time.Time { return time.Unix(0, p.since) }

// box returns the peer's outbox, making it on first need.
func (p *peer) box() *outbox {
	if o := p.out.Load(); o != nil {
		return o
	}
	p.out.CompareAndSwap(nil, new(outbox))
	return p.out.Load()
}

// queued returns the payload bytes waiting in the outbox.
func (p *peer) queued() int64 {
	if o := p.out.Load(); o != nil {
		return o.queued.Load()
	}
	return 0
}

// held returns how many messages wait in the outbox.
func (p *peer) held() int32 {
	if o := p.out.Load(); o != nil {
		return o.held.Load()
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

func (t *traffic) add(p *peer) {
	t.MessagesIn += p.msgsIn.Load()
	t.MessagesOut += p.msgsOut.Load()
	t.BytesIn += p.bytesIn.Load()
	t.BytesOut += p.bytesOut.Load()
	t.Deferred += p.deferred.Load()
}

// received counts an incoming message of n bytes.
func (p *peer) received(n int) {
	p.msgsIn.Add(1)
	p.bytesIn.Add(int64(n))
}

// sent counts an outgoing message of n bytes.
func (p *peer) sent(n int) {
	p.msgsOut.Add(1)
	p.bytesOut.Add(int64(n))
}

// unsent takes back the count of a message of n bytes that was not sent.
func (p *peer) unsent(n int) {
	p.msgsOut.Add(-1)
	p.bytesOut.Add(-int64(n))
}

// outbox keeps, in order, the messages for one connection that its send
// queue refused with ErrWouldBlock, until the ReadyToSend event says the
// queue has drained. Sends never block: that keeps event handlers short, as
// the EventLoop transport requires, and lets a slow client hold back only
// what is sent to it.
type outbox struct {
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

// send sends data to the peer, or, when the send queue is full or messages
// already wait, keeps a copy to send after them. It reports how many bytes
// then wait. data need not outlive the call.
func (p *peer) send(srv *wsserver.Server, format wsserver.DataFormat, data []byte) (waiting int, err error) {
	o := p.out.Load()
	if o == nil {
		// Nothing has ever waited: no outbox to keep the order of.
		err := srv.SendMessage(p.id, format, data)
		if err == nil {
			p.sent(len(data))
			return 0, nil
		}
		if !errors.Is(err, wsserver.ErrWouldBlock) {
			return 0, err
		}
		return p.hold(srv, format, data)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) == 0 {
		err := srv.SendMessage(p.id, format, data)
		if err == nil {
			p.sent(len(data))
			return 0, nil
		}
		if !errors.Is(err, wsserver.ErrWouldBlock) {
			return 0, err
		}
	}
	return p.keepLocked(format, data)
}

// keepLocked keeps a copy of data after the messages waiting in the outbox
// and returns how many bytes then wait. o.mu is held.
func (p *peer) keepLocked(format wsserver.DataFormat, data []byte) (waiting int, err error) {
	o := p.out.Load()
	// Messages waiting here count against the server's memory budget.
	if !p.conn.ChargeMemory(int64(len(data))) {
		return o.bytes, errOverBudget
	}
	o.pending = append(o.pending, pendingMsg{format, bytes.Clone(data)})
	o.bytes += len(data)
	o.queued.Store(int64(o.bytes))
	o.held.Store(int32(len(o.pending)))
	p.deferred.Add(1)
	return o.bytes, nil
}

// hold keeps a message the send queue refused (ErrWouldBlock) in the
// outbox, then tries to send what waits: the queue may have drained, and
// ReadyToSend fired, between the refusal and now, and the next ReadyToSend
// comes only after another refusal. It reports how many bytes then wait.
func (p *peer) hold(srv *wsserver.Server, format wsserver.DataFormat, data []byte) (waiting int, err error) {
	o := p.box()
	o.mu.Lock()
	defer o.mu.Unlock()
	if waiting, err := p.keepLocked(format, data); err != nil {
		return waiting, err
	}
	if _, err := p.flushLocked(srv); err != nil {
		return o.bytes, err
	}
	return o.bytes, nil
}

// flush sends the waiting messages until the send queue is full again. It
// reports whether none waits any more.
func (p *peer) flush(srv *wsserver.Server) (empty bool, err error) {
	o := p.out.Load()
	if o == nil {
		return true, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return p.flushLocked(srv)
}

// flushLocked is flush with o.mu held.
func (p *peer) flushLocked(srv *wsserver.Server) (empty bool, err error) {
	o := p.out.Load()
	defer func() {
		o.queued.Store(int64(o.bytes))
		o.held.Store(int32(len(o.pending)))
	}()
	for len(o.pending) > 0 {
		m := o.pending[0]
		err := srv.SendMessage(p.id, m.format, m.data)
		if errors.Is(err, wsserver.ErrWouldBlock) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		p.sent(len(m.data))
		p.conn.ChargeMemory(-int64(len(m.data)))
		o.pending[0] = pendingMsg{}
		o.pending = o.pending[1:]
		o.bytes -= len(m.data)
	}
	o.pending = nil
	return true, nil
}

// drop forgets the waiting messages.
func (p *peer) drop() {
	o := p.out.Load()
	if o == nil {
		return
	}
	o.mu.Lock()
	p.conn.ChargeMemory(-int64(o.bytes))
	o.pending, o.bytes = nil, 0
	o.queued.Store(0)
	o.held.Store(0)
	o.mu.Unlock()
}

// peerShards spreads the ID index over several locks, so that the lookup
// every message makes does not contend on one lock word.
const peerShards = 64

type peerShard struct {
	mu   sync.RWMutex
	byID map[int]*peer
	_    [32]byte // keeps neighbouring shards' locks off one cache line
}

// peers is the set of open connections of the mode's server. Adding and
// removing one costs O(1) whatever the number open: the ID index is a
// sharded map, and the list that broadcast and the monitor walk is an
// unordered slice from which a leaving peer is swapped out.
type peers struct {
	shards [peerShards]peerShard

	mu      sync.Mutex
	list    []*peer // every open peer, in no order
	retired traffic // traffic of the peers that left
	buffers sync.Pool
}

func newPeers() *peers {
	ps := &peers{}
	for i := range ps.shards {
		ps.shards[i].byID = make(map[int]*peer)
	}
	return ps
}

func (ps *peers) shard(id int) *peerShard { return &ps.shards[uint(id)%peerShards] }

func (ps *peers) add(p *peer) {
	sh := ps.shard(p.id)
	sh.mu.Lock()
	sh.byID[p.id] = p
	sh.mu.Unlock()
	ps.mu.Lock()
	p.idx = len(ps.list)
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
}

// remove forgets the peer with id and returns it, or nil if there is none.
// Its traffic moves to the retired totals.
func (ps *peers) remove(id int) *peer {
	sh := ps.shard(id)
	sh.mu.Lock()
	p := sh.byID[id]
	delete(sh.byID, id)
	sh.mu.Unlock()
	if p == nil {
		return nil
	}
	ps.mu.Lock()
	last := len(ps.list) - 1
	moved := ps.list[last]
	ps.list[p.idx] = moved
	moved.idx = p.idx
	ps.list[last] = nil
	ps.list = ps.list[:last]
	if cap(ps.list) > 64 && len(ps.list) < cap(ps.list)/4 {
		ps.list = slices.Clip(slices.Clone(ps.list)) // give memory back after a peak
	}
	ps.retired.add(p)
	ps.mu.Unlock()
	return p
}

func (ps *peers) get(id int) *peer {
	sh := ps.shard(id)
	sh.mu.RLock()
	p := sh.byID[id]
	sh.mu.RUnlock()
	return p
}

// count returns the number of open peers.
func (ps *peers) count() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.list)
}

// borrow returns a copy of the list of open peers, in no order, from a
// pool; give it back with giveBack. Walking a copy lets sends run without
// holding ps.mu, so a handler that disconnects a peer cannot deadlock.
func (ps *peers) borrow() *[]*peer {
	buf, _ := ps.buffers.Get().(*[]*peer)
	if buf == nil {
		buf = new([]*peer)
	}
	ps.mu.Lock()
	*buf = append((*buf)[:0], ps.list...)
	ps.mu.Unlock()
	return buf
}

func (ps *peers) giveBack(buf *[]*peer) {
	clear(*buf)
	*buf = (*buf)[:0]
	ps.buffers.Put(buf)
}

// sorted returns the open peers by ID.
func (ps *peers) sorted() []*peer {
	ps.mu.Lock()
	list := slices.Clone(ps.list)
	ps.mu.Unlock()
	slices.SortFunc(list, func(a, b *peer) int { return a.id - b.id })
	return list
}

// totals folds the traffic of every peer, open or gone. It costs O(n): call
// it when someone asks (the stats log, /connections, a watcher's tick), not
// per message.
func (ps *peers) totals() traffic {
	buf, _ := ps.buffers.Get().(*[]*peer)
	if buf == nil {
		buf = new([]*peer)
	}
	defer ps.giveBack(buf)
	ps.mu.Lock()
	t := ps.retired // with the list under one lock: no peer counts twice
	*buf = append((*buf)[:0], ps.list...)
	ps.mu.Unlock()
	for _, p := range *buf {
		t.add(p)
	}
	return t
}

// outboxBytes returns the bytes waiting in every open peer's outbox: O(n),
// for /metrics.
func (ps *peers) outboxBytes() int64 {
	buf := ps.borrow()
	defer ps.giveBack(buf)
	var n int64
	for _, p := range *buf {
		n += p.queued()
	}
	return n
}

package main

import (
	"bytes"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver"
)

// peer is one open connection of the mode's server, as the command tracks it.
type peer struct {
	id     int
	conn   *wsserver.Connection
	remote string
	uri    string
	since  time.Time

	msgsIn, msgsOut, bytesIn, bytesOut atomic.Int64

	out  outbox   // messages its send queue could not take yet
	exec *session // exec mode: the program serving it
}

// counters are traffic totals, kept by the app for the stats log.
type counters struct {
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Int64
	deferred                           atomic.Int64 // messages that waited in an outbox
}

// received counts an incoming message of n bytes.
func (p *peer) received(total *counters, n int) {
	p.msgsIn.Add(1)
	p.bytesIn.Add(int64(n))
	total.msgsIn.Add(1)
	total.bytesIn.Add(int64(n))
}

// sent counts an outgoing message of n bytes.
func (p *peer) sent(total *counters, n int) {
	p.msgsOut.Add(1)
	p.bytesOut.Add(int64(n))
	total.msgsOut.Add(1)
	total.bytesOut.Add(int64(n))
}

// outbox keeps, in order, the messages for one connection that its send
// queue refused with ErrWouldBlock, until the ReadyToSend event says the
// queue has drained. Sends never block: that keeps event handlers short, as
// the EventLoop transport requires, and lets a slow client hold back only
// what is sent to it.
type outbox struct {
	mu      sync.Mutex // guards the fields below; held across SendMessage to keep order
	pending []pendingMsg
	bytes   int // payload bytes in pending
}

type pendingMsg struct {
	format wsserver.DataFormat
	data   []byte
}

// send sends data to the peer, or, when the send queue is full or messages
// already wait, keeps a copy to send after them. It reports whether the
// message waits and how many bytes then wait. data need not outlive the call.
func (p *peer) send(srv *wsserver.Server, total *counters, format wsserver.DataFormat, data []byte) (waiting int, err error) {
	o := &p.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) == 0 {
		err := srv.SendMessage(p.id, format, data)
		if err == nil {
			p.sent(total, len(data))
			return 0, nil
		}
		if !errors.Is(err, wsserver.ErrWouldBlock) {
			return 0, err
		}
	}
	o.pending = append(o.pending, pendingMsg{format, bytes.Clone(data)})
	o.bytes += len(data)
	total.deferred.Add(1)
	return o.bytes, nil
}

// flush sends the waiting messages until the send queue is full again. It
// reports whether none waits any more.
func (p *peer) flush(srv *wsserver.Server, total *counters) (empty bool, err error) {
	o := &p.out
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.pending) > 0 {
		m := o.pending[0]
		err := srv.SendMessage(p.id, m.format, m.data)
		if errors.Is(err, wsserver.ErrWouldBlock) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		p.sent(total, len(m.data))
		o.pending[0] = pendingMsg{}
		o.pending = o.pending[1:]
		o.bytes -= len(m.data)
	}
	o.pending = nil
	return true, nil
}

// drop forgets the waiting messages.
func (p *peer) drop() {
	p.out.mu.Lock()
	p.out.pending, p.out.bytes = nil, 0
	p.out.mu.Unlock()
}

// peers is the set of open connections of the mode's server.
type peers struct {
	mu    sync.Mutex
	byID  map[int]*peer
	list  atomic.Pointer[[]*peer] // byID's values by ID, rebuilt on change; read without mu
	moved chan struct{}           // capacity 1: signalled when a connection came or went
}

func newPeers() *peers {
	ps := &peers{byID: make(map[int]*peer), moved: make(chan struct{}, 1)}
	ps.list.Store(&[]*peer{})
	return ps
}

func (ps *peers) add(p *peer) {
	ps.mu.Lock()
	ps.byID[p.id] = p
	ps.rebuildLocked()
	ps.mu.Unlock()
	ps.signal()
}

func (ps *peers) remove(id int) *peer {
	ps.mu.Lock()
	p := ps.byID[id]
	delete(ps.byID, id)
	ps.rebuildLocked()
	ps.mu.Unlock()
	ps.signal()
	return p
}

func (ps *peers) get(id int) *peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.byID[id]
}

// all returns the open connections by ID. The caller must not modify it.
func (ps *peers) all() []*peer { return *ps.list.Load() }

func (ps *peers) rebuildLocked() {
	list := make([]*peer, 0, len(ps.byID))
	for _, p := range ps.byID {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	ps.list.Store(&list)
}

func (ps *peers) signal() {
	select {
	case ps.moved <- struct{}{}:
	default:
	}
}

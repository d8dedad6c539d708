package wsserver

import (
	"sync"
	"sync/atomic"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/protocol"
	"github.com/wsserver/wsserver/internal/transport"
)

// The memory budget (MemoryBudget): the buffers a server holds for its
// clients are accounted against one server-wide budget. Accounted are the
// message being assembled (BufferMessage, inflated messages included), the
// decompressor's buffers (the compressed input of a message, its resume
// window, the context-takeover history), the stored request head, each
// outgoing queue past its first outAllowance bytes, and what the
// application charges (ChargeMemory). Small queues and the pooled read
// buffers of single reads are left out, so that the per-message path
// touches no shared counter.
//
// Each open connection has a share of the budget: the budget divided by
// MaxConnections. A connection's buffers may always grow within its share,
// so a well-behaved client is never held back. Past its share a message
// (or decompressor input, or application holding) grows only into budget
// no other connection's share needs: a growth that would take the total
// past the budget less the shares the others have not used yet is refused,
// and the connection is closed with 1013 (try again later) before its
// buffer grows. Queues and request heads cannot be refused that way; they
// may take the server over its budget, and then the budget sweep (sweep
// below) acts: it stops reading from the heaviest connections over their
// share, heaviest first, until what they hold past their shares covers the
// excess; resumes them once the server is within its budget; and cuts off
// with 1013 those still over their share after OverBudgetTimeout while the
// server stays over, heaviest first again. A connection whose queue holds
// more than its share while the server is over the budget is also not read
// until the queue drains (overBudgetLocked), and is cut off with 1008 if it
// stays stuck for SlowClientTimeout.

// outAllowance is the part of each outgoing queue left out of the budget.
const outAllowance = 64 << 10

// memBudget is the server's accounted memory.
type memBudget struct {
	used     atomic.Int64 // bytes accounted
	within   atomic.Int64 // the bytes within their connection's share
	peak     atomic.Int64 // the most used has been (for tests and monitors)
	conns    atomic.Int64 // open connections, each with a share
	sweeping atomic.Bool  // the sweep's goroutine runs

	mu    sync.Mutex
	heavy map[*Connection]struct{} // the connections holding more than their share
}

// memAccount is a connection's part of the accounting.
type memAccount struct {
	held atomic.Int64 // every byte accounted to the connection
	head int64        // of which the stored request head (set as it opens)
	infl int64        // of which the decompressor's buffers (the reader's)

	// Guarded by the connection's mu.
	wake   chan struct{} // closed when the pause ends, for a goroutine reader waiting
	paused bool          // the budget sweep stopped reading the connection

	cut atomic.Bool // cut off (cutOff), which reported why: what fails after goes unreported
}

// charge adds n bytes (negative: gives them back) to the accounted memory,
// and returns the new total.
func (m *memBudget) charge(n int64) int64 {
	u := m.used.Add(n)
	if n > 0 {
		m.notePeak(u)
	}
	return u
}

// notePeak records u as the peak if it is one.
func (m *memBudget) notePeak(u int64) {
	for p := m.peak.Load(); u > p && !m.peak.CompareAndSwap(p, u); p = m.peak.Load() {
	}
}

// MemoryInUse returns the bytes the server holds for its clients, as the
// memory budget accounts them (see the MemoryBudget setting).
func (s *Server) MemoryInUse() int64 { return s.mem.used.Load() }

// MemoryBudget returns the memory budget in effect for new connections, in
// bytes: the MemoryBudget setting, or the default it derives when 0.
func (s *Server) MemoryBudget() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.budget()
}

// budget returns the budget in bytes of these settings: MemoryBudget, or
// when it is 0 MaxConnections × 1 MiB, within 64 MiB and half the machine's
// memory.
func (st *settings) budget() int64 {
	if st.memoryBudget > 0 {
		return st.memoryBudget
	}
	return defaultBudget(st.maxConnections)
}

// defaultBudget is the budget for MemoryBudget 0.
func defaultBudget(maxConns int) int64 {
	b := int64(maxConns) << 20
	if half := transport.TotalMemory() / 2; half > 0 && b > half {
		b = half
	}
	return max(b, 64<<20)
}

// hold accounts delta more bytes (negative: fewer) to c. A growth that is
// refusable is refused, accounting nothing, when it goes past c's share into
// budget the other connections' shares need; hold then reports false.
func (c *Connection) hold(delta int64, refusable bool) bool {
	if delta == 0 {
		return true
	}
	m, share := &c.srv.mem, c.opts.share
	h := c.mem.held.Add(delta)
	m.within.Add(min(h, share) - min(h-delta, share))
	var u int64
	if delta > 0 && refusable && h > share {
		for {
			u = m.used.Load()
			unused := max(0, m.conns.Load()*share-m.within.Load()) // the others' shares not in use
			if u+delta+unused > c.opts.budget {
				back := c.mem.held.Add(-delta)
				m.within.Add(min(back, share) - min(back+delta, share))
				return false
			}
			if m.used.CompareAndSwap(u, u+delta) {
				u += delta
				m.notePeak(u)
				break
			}
		}
	} else {
		u = m.charge(delta)
	}
	if (h > share) != (h-delta > share) {
		c.noteHeavy()
	}
	if delta > 0 && u > c.opts.budget {
		c.srv.startSweep()
	}
	return true
}

// noteHeavy puts c in the server's set of connections over their share, or
// takes it out, as its holdings are now.
func (c *Connection) noteHeavy() {
	m := &c.srv.mem
	m.mu.Lock()
	if c.mem.held.Load() > c.opts.share {
		if m.heavy == nil {
			m.heavy = make(map[*Connection]struct{})
		}
		m.heavy[c] = struct{}{}
	} else {
		delete(m.heavy, c)
	}
	m.mu.Unlock()
}

// ChargeMemory accounts n bytes that the application holds for c (messages
// waiting for it, say) against the memory budget, as the server does for
// its own buffers; a negative n gives bytes back. It reports false, and
// accounts nothing, when n would take c's holdings past its share into
// budget other connections' shares need: the application should then drop
// the data or cut the connection off. What is still charged when the
// connection ends is given back then.
func (c *Connection) ChargeMemory(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ss := c.sendingLocked()
	if n < 0 {
		n = max(n, -ss.appHeld)
		c.hold(n, false)
		ss.appHeld += n
		return true
	}
	if c.state == stateClosed || !c.hold(n, true) {
		return false
	}
	ss.appHeld += n
	return true
}

// errOverBudget closes a connection whose message would take the server
// over its memory budget.
var errOverBudget = &protocol.CloseError{Code: protocol.CloseTryAgainLater, Reason: "the server's memory budget is exhausted: try again later"}

// growMsg makes room for need more bytes in the message buffer, accounting
// the growth. It fails with 1013 when the growth would take the server over
// its budget while this connection holds more than its share.
func (c *Connection) growMsg(need int) error {
	rs := c.reading()
	if cap(rs.msgBuf)-len(rs.msgBuf) >= need {
		return nil
	}
	grown := int64(bufpoolClass(len(rs.msgBuf) + need))
	if !c.hold(grown-rs.heldMsg, true) {
		return errOverBudget
	}
	rs.msgBuf = bufpool.Grow(rs.msgBuf, need)
	rs.heldMsg = grown
	return nil
}

// bufpoolClass returns the capacity bufpool gives a buffer of n bytes.
func bufpoolClass(n int) int {
	if n <= 4<<10 {
		return 4 << 10
	}
	c := 1
	for c < n {
		c <<= 1
	}
	return c
}

// releaseMsg gives the message buffer back to the pool, and its bytes back
// to the budget.
func (c *Connection) releaseMsg() {
	rs := c.readState
	bufpool.Put(rs.msgBuf)
	rs.msgBuf = nil
	c.hold(-rs.heldMsg, false)
	rs.heldMsg = 0
}

// overBudgetLocked reports whether c's queue makes it an offender while the
// server is over its budget. c.mu is held.
func (c *Connection) overBudgetLocked() bool {
	if c.sendState == nil || c.q.outHeld == 0 {
		return false
	}
	return c.q.outHeld > c.opts.share && c.srv.mem.used.Load() > c.opts.budget
}

// accountOpen counts c, just opened, in the budget's connections and
// charges what it holds from its handshake: the stored request head and,
// through its account, the decompressor's buffers.
func (c *Connection) accountOpen() {
	c.srv.mem.conns.Add(1)
	c.mem.head = int64(len(c.requestHeaders) + len(c.uri) + len(c.host) + len(c.origin) +
		len(c.subProtocols) + len(c.protocol) + len(c.extensions))
	c.hold(c.mem.head, false)
	if rs := c.readState; rs != nil && rs.inflater != nil {
		rs.inflater.SetAccount(c.holdInflater)
	}
}

// holdInflater is the decompressor's account: its growth is refused, with
// 1013, as a message's is. Only the reader calls it.
func (c *Connection) holdInflater(delta int64) error {
	if !c.hold(delta, true) {
		return errOverBudget
	}
	c.mem.infl += delta
	return nil
}

// sendLimitLocked returns how many bytes c's queue may hold for a send to
// be queued: SendQueueSize; or, while c is an offender of an exhausted
// budget (the sweep holds it back, or its queue alone is over its share
// while the server is over the budget), none: a send is then queued only
// into an empty queue, and otherwise waits or fails with ErrWouldBlock
// until the queue drains. c.mu is held.
func (c *Connection) sendLimitLocked() int {
	if c.mem.paused || c.overBudgetLocked() {
		return 0
	}
	return c.opts.queueLimit
}

// unaccount gives back what an ended connection still has charged.
func (c *Connection) unaccount() {
	if rs := c.readState; rs != nil {
		c.hold(-rs.heldMsg, false)
		rs.heldMsg = 0
		if rs.inflater != nil {
			rs.inflater.SetAccount(nil) // Close gives back nothing more
		}
	}
	c.hold(-c.mem.infl-c.mem.head, false)
	c.mem.infl, c.mem.head = 0, 0
	c.mu.Lock()
	if c.sendState != nil {
		c.hold(-c.q.outHeld-c.appHeld, false)
		c.q.outHeld, c.appHeld = 0, 0
	}
	c.mu.Unlock()
	m := &c.srv.mem
	m.mu.Lock()
	delete(m.heavy, c)
	m.mu.Unlock()
}

package wsserver

import (
	"sync/atomic"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/protocol"
)

// The memory budget (MemoryBudget): the large buffers a server holds for
// its clients are accounted against one server-wide budget. Accounted are
// the message being assembled (BufferMessage, inflated messages included)
// and each outgoing queue past its first outAllowance bytes; small queues
// and the pooled read buffers of single reads are left out, so that the
// per-message path touches no shared counter.
//
// Each open connection has a share of the budget: the budget divided by
// MaxConnections. A message may always grow within its connection's share,
// so a well-behaved client is never held back. Past its share a message
// grows only into budget no other connection's share needs: a growth that
// would take the total past the budget less the shares the others have not
// used yet is refused, and the connection is closed with 1013 (try again
// later) before its buffer grows. The accounted total so stays within the
// budget (plus at most one share while a new connection arrives). A
// connection whose queue holds more than its share while the server is over
// the budget is not read until the queue drains, and is cut off with 1008
// if it stays stuck for SlowClientTimeout.

// outAllowance is the part of each outgoing queue left out of the budget.
const outAllowance = 64 << 10

// memBudget is the server's accounted memory.
type memBudget struct {
	used   atomic.Int64 // bytes accounted
	within atomic.Int64 // the message bytes within their connection's share
	peak   atomic.Int64 // the most used has been (for tests and monitors)
	conns  atomic.Int64 // open connections, each with a share
}

// charge adds n bytes (negative: gives them back) to the accounted memory.
func (m *memBudget) charge(n int64) {
	if n == 0 {
		return
	}
	m.notePeak(m.used.Add(n))
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
	if half := totalRAM() / 2; half > 0 && b > half {
		b = half
	}
	return max(b, 64<<20)
}

// reserveMsg accounts delta more bytes for a message buffer of held bytes,
// and reports false, accounting nothing, when the growth goes past the
// connection's share into budget the other connections' shares need.
func (c *Connection) reserveMsg(held, delta int64) bool {
	return c.srv.mem.reserve(held, delta, c.opts.share, c.opts.budget)
}

// reserve accounts delta more bytes for a holding of held bytes with the
// given share of budget, and reports false, accounting nothing, when the
// growth goes past the share into budget the other connections' shares need.
func (m *memBudget) reserve(held, delta, share, budget int64) bool {
	dWithin := min(held+delta, share) - min(held, share)
	if held+delta <= share {
		m.charge(delta)
		m.within.Add(dWithin)
		return true
	}
	for {
		u := m.used.Load()
		unused := max(0, m.conns.Load()*share-m.within.Load()) // the others' shares not in use
		if u+delta+unused > budget {
			return false
		}
		if m.used.CompareAndSwap(u, u+delta) {
			m.notePeak(u + delta)
			m.within.Add(dWithin)
			return true
		}
	}
}

// releaseMsgBytes gives back held message bytes.
func (c *Connection) releaseMsgBytes(held int64) {
	c.srv.mem.release(held, c.opts.share)
}

// release gives back a holding of held bytes with the given share.
func (m *memBudget) release(held, share int64) {
	m.charge(-held)
	m.within.Add(-min(held, share))
}

// ChargeMemory accounts n bytes that the application holds for c (messages
// waiting for it, say) against the memory budget, as the server does for
// its own buffers; a negative n gives bytes back. It reports false, and
// accounts nothing, when n would take c's application holdings past its
// share into budget other connections' shares need: the application should
// then drop the data or cut the connection off. What is still charged when
// the connection ends is given back then.
func (c *Connection) ChargeMemory(n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ss := c.sending()
	if n < 0 {
		n = max(n, -ss.appHeld)
		c.srv.mem.release(-n, c.opts.share-min(c.opts.share, ss.appHeld+n))
		ss.appHeld += n
		return true
	}
	if c.state == stateClosed || !c.srv.mem.reserve(ss.appHeld, n, c.opts.share, c.opts.budget) {
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
	if !c.reserveMsg(rs.heldMsg, grown-rs.heldMsg) {
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
	c.releaseMsgBytes(rs.heldMsg)
	rs.heldMsg = 0
}

// accountOutLocked charges the queue's capacity past outAllowance as it is
// now. c.mu is held.
func (c *Connection) accountOutLocked() {
	held := int64(max(0, cap(c.out)-outAllowance))
	if held != c.outHeld {
		c.srv.mem.charge(held - c.outHeld)
		c.outHeld = held
	}
}

// overBudgetLocked reports whether c's queue makes it an offender while the
// server is over its budget. c.mu is held.
func (c *Connection) overBudgetLocked() bool {
	if c.sendState == nil || c.outHeld == 0 {
		return false
	}
	return c.outHeld > c.opts.share && c.srv.mem.used.Load() > c.opts.budget
}

// unaccount gives back what an ended connection still has charged.
func (c *Connection) unaccount() {
	if rs := c.readState; rs != nil && rs.heldMsg != 0 {
		c.releaseMsgBytes(rs.heldMsg)
		rs.heldMsg = 0
	}
	c.mu.Lock()
	if c.sendState != nil {
		c.srv.mem.charge(-c.outHeld)
		c.outHeld = 0
		c.srv.mem.release(c.appHeld, c.opts.share)
		c.appHeld = 0
	}
	c.mu.Unlock()
}

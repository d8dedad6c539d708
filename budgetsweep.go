package wsserver

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// The budget sweep: what the server does while its accounted memory is
// over MemoryBudget (see budget.go). It runs in a goroutine of its own,
// started by the growth that takes the server over the budget and ending
// once the server is within it with no connection held back. Each pass,
// every wheelTick, looks only at the connections holding more than their
// share (memBudget.heavy, kept as holdings cross the share), so a pass
// costs O(h log h) for h such connections, nothing for the well-behaved:
//
//   - over the budget, the heaviest connections stop being read, heaviest
//     first, until what they hold past their shares covers the excess;
//   - a connection held back for OverBudgetTimeout while the server stays
//     over is cut off with 1013 and an Error event, heaviest first, until
//     the cut ones' excess covers the server's;
//   - within the budget again (or once a connection is back within its
//     share), reading resumes.

// startSweep starts the budget sweep unless it runs.
func (s *Server) startSweep() {
	m := &s.mem
	if !m.sweeping.Load() && m.sweeping.CompareAndSwap(false, true) {
		go s.sweep()
	}
}

// sweep is the budget sweep's goroutine.
func (s *Server) sweep() {
	t := time.NewTicker(wheelTick)
	defer t.Stop()
	paused := make(map[*Connection]time.Time) // held back, and since when
	var heavy []*Connection
	for {
		s.mu.Lock()
		budget, grace := s.cfg.budget(), s.cfg.overBudgetTimeout
		s.mu.Unlock()
		heavy = s.sweepPass(budget, grace, paused, heavy[:0])
		clear(heavy) // no connection stays referenced between passes
		if len(paused) == 0 && s.mem.used.Load() <= budget {
			s.mem.sweeping.Store(false)
			// A growth past the budget since the check found the sweep
			// still running: carry on for it, unless another started.
			if s.mem.used.Load() <= budget || !s.mem.sweeping.CompareAndSwap(false, true) {
				return
			}
		}
		<-t.C
	}
}

// sweepPass is one pass of the sweep, with paused the connections it holds
// back; heavy is scratch space, returned for the next pass.
func (s *Server) sweepPass(budget int64, grace time.Duration, paused map[*Connection]time.Time, heavy []*Connection) []*Connection {
	m := &s.mem
	m.mu.Lock()
	for c := range m.heavy {
		heavy = append(heavy, c)
	}
	m.mu.Unlock()
	excess := func(c *Connection) int64 { return c.mem.held.Load() - c.opts.share }
	// A connection back within its share (or ended: it holds nothing)
	// is no offender: it is read again.
	for c := range paused {
		if excess(c) <= 0 {
			c.resumeForBudget()
			delete(paused, c)
		}
	}
	over := m.used.Load() - budget
	if over <= 0 {
		for c := range paused {
			c.resumeForBudget()
			delete(paused, c)
		}
		return heavy
	}
	slices.SortFunc(heavy, func(a, b *Connection) int { return cmp.Compare(excess(b), excess(a)) })
	now := time.Now()
	var covered int64
	for _, c := range heavy {
		if covered >= over {
			break
		}
		if x := excess(c); x > 0 {
			covered += x
			if _, ok := paused[c]; !ok && c.pauseForBudget() {
				paused[c] = now
			}
		}
	}
	if grace <= 0 {
		return heavy // OverBudgetTimeout 0: held back, never cut
	}
	covered = 0
	for _, c := range heavy {
		if covered >= over {
			break
		}
		since, ok := paused[c]
		x := excess(c)
		if !ok && x > 0 && !c.Connected() {
			covered += x // cut (or closing) already: its bytes are on their way back
			continue
		}
		if !ok || x <= 0 || now.Sub(since) < grace {
			continue
		}
		covered += x
		delete(paused, c)
		reason := "the server's memory budget is exhausted: the connection held " + strconv.FormatInt(x+c.opts.share, 10) +
			" bytes, over its share of " + strconv.FormatInt(c.opts.share, 10) + ", for OverBudgetTimeout (" + grace.String() + ")"
		c.cutOff(protocol.CloseTryAgainLater, reason, &Error{Code: protocol.CloseTryAgainLater, Message: reason})
	}
	return heavy
}

// pauseForBudget stops reading from c for the budget sweep, and reports
// whether it did (c is open and was not held back yet).
func (c *Connection) pauseForBudget() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen || c.mem.paused {
		return false
	}
	c.mem.paused = true
	// A goroutine reader stops after its current read (holdWhileOver); an
	// event loop stops polling the socket.
	if c.sock.Looped() && !c.throttled {
		c.throttled = true
		c.sock.SetReading(false)
	}
	return true
}

// resumeForBudget lets c be read again after the budget sweep held it back,
// unless its queue still holds it back.
func (c *Connection) resumeForBudget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mem.paused {
		return
	}
	c.mem.paused = false
	c.budgetWakeLocked()
	c.notifyLocked() // senders waiting for room look again
	if c.throttled && c.state == stateOpen && !c.overLimitLocked() {
		c.throttled = false
		if c.sock.Looped() && c.acceptData {
			c.sock.SetReading(true)
		}
	}
}

// budgetWaitLocked returns the channel a goroutine reader held back by the
// sweep waits on. c.mu is held.
func (c *Connection) budgetWaitLocked() <-chan struct{} {
	if c.mem.wake == nil {
		c.mem.wake = make(chan struct{})
	}
	return c.mem.wake
}

// budgetWakeLocked wakes a goroutine reader held back by the sweep: the
// pause ended, or the connection is closing. c.mu is held.
func (c *Connection) budgetWakeLocked() {
	if c.mem.wake != nil {
		close(c.mem.wake)
		c.mem.wake = nil
	}
}

package wsserver

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// Liveness: the checks that need time rather than data. A client that does
// not read what the server sends (a slow client) is stopped from sending
// more (its reader waits, or its event loop stops reading it) while its
// queue is over the limit, and is cut off with 1008 once its output has
// made no progress for SlowClientTimeout.
//
// The checks run from one timing wheel per server (wheel below): a
// connection that needs watching is linked into the slot of the tick it is
// due at, and each tick visits one slot, so the cost is O(1) per connection
// per check, with no timer or goroutine per connection. The wheel's
// goroutine runs only while some connection is linked in.

// wheelTick is the wheel's resolution.
const wheelTick = 100 * time.Millisecond

// wheelSlots is the number of slots: entries due further than
// wheelSlots×wheelTick ahead are passed over until their round comes.
const wheelSlots = 512

// liveState is a connection's entry in its server's wheel, made when the
// connection first needs watching. Fields marked (wheel) are guarded by the
// wheel's mu; the others by the connection's mu. Every connection of a
// server with PingInterval has one, so it is kept to 64 bytes: the ticks it
// keeps are stamps (their low 32 bits; see stamp).
type liveState struct {
	c           *Connection
	next, prev  *liveState // (wheel) the slot's list
	lastWritten int64      // bytes written when progress was last seen
	at          stamp      // (wheel) the tick it is due at
	// The tick output progress was last seen at (while stallWatch).
	lastProgress stamp
	// Heartbeats (PingInterval), set when the connection opens. activity
	// is counted by the reader; the rest is the wheel goroutine's own.
	actTick    stamp         // the tick activity was last seen at
	pingTick   stamp         // the tick the heartbeat ping was sent at
	activity   atomic.Uint32 // reads so far
	lastAct    uint32        // activity at the last visit
	stallWatch atomic.Bool   // output is being watched for progress
	linked     bool          // (wheel) in a slot's list
	hb         bool          // heartbeats are on
	pingOut    bool          // a heartbeat ping waits for an answer
}

// stamp is a wheel tick kept in a liveState: its low 32 bits. A stamp is
// never more than maxTicks away from the wheel's current tick (ticks caps
// every interval at that), so tickAt and dueBy recover the order and the
// full tick from the difference, also when the 32 bits wrap around (after
// 13.6 years of 100 ms ticks).
type stamp uint32

// maxTicks caps the intervals the wheel schedules: 2^30 ticks, 3.4 years,
// half the distance at which stamps would become ambiguous.
const maxTicks = 1 << 30

// tickAt returns the tick that s stamps: the one nearest now (a stamp may
// be a little after the tick a wheel's pass is at: watchStall and
// startHeartbeat read the clock themselves).
func tickAt(now int64, s stamp) int64 { return now - int64(int32(stamp(now)-s)) }

// dueBy reports whether the stamp s is at or before tick t.
func dueBy(s stamp, t int64) bool { return int32(s-stamp(t)) <= 0 }

// wheel is a hashed timing wheel of connections due for a liveness check.
type wheel struct {
	mu      sync.Mutex
	slots   [wheelSlots]*liveState // heads of doubly linked lists
	now     int64                  // ticks since start
	start   time.Time              // when tick 0 was
	count   int                    // entries linked
	running bool                   // the wheel's goroutine runs
	due     []*liveState           // the goroutine's scratch list
}

// tickOf returns the wheel tick of t.
func (w *wheel) tickOf(t time.Time) int64 {
	return int64(t.Sub(w.start) / wheelTick)
}

// current returns the tick now, starting the clock on first use. w.mu is held.
func (w *wheel) currentLocked() int64 {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	return w.tickOf(time.Now())
}

// ticks returns d in wheel ticks, at least one and at most maxTicks.
func ticks(d time.Duration) int64 {
	if d >= maxTicks*wheelTick {
		return maxTicks
	}
	return max(1, int64((d+wheelTick-1)/wheelTick))
}

func (w *wheel) linkLocked(l *liveState, at int64) {
	if l.linked {
		w.unlinkLocked(l)
	}
	now := w.currentLocked()
	if at <= now {
		at = now + 1
	}
	l.at = stamp(at)
	i := l.at % wheelSlots
	l.prev, l.next = nil, w.slots[i]
	if l.next != nil {
		l.next.prev = l
	}
	w.slots[i] = l
	l.linked = true
	w.count++
	if !w.running {
		w.running = true
		w.now = now
		go w.run()
	}
}

// remove unlinks l if it is linked.
func (w *wheel) remove(l *liveState) {
	w.mu.Lock()
	if l.linked {
		w.unlinkLocked(l)
	}
	w.mu.Unlock()
}

func (w *wheel) unlinkLocked(l *liveState) {
	if l.prev != nil {
		l.prev.next = l.next
	} else {
		w.slots[l.at%wheelSlots] = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	}
	l.next, l.prev, l.linked = nil, nil, false
	w.count--
}

// run visits the slots tick by tick until no entry is left.
func (w *wheel) run() {
	t := time.NewTicker(wheelTick)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if w.count == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		target := w.currentLocked()
		due := w.due[:0]
		for ; w.now < target; w.now++ {
			tick := w.now + 1
			for l := w.slots[tick%wheelSlots]; l != nil; {
				next := l.next
				if dueBy(l.at, tick) {
					w.unlinkLocked(l)
					due = append(due, l)
				}
				l = next
			}
		}
		w.mu.Unlock()
		for i, l := range due {
			l.c.liveCheck(l, target)
			due[i] = nil
		}
		w.due = due[:0]
	}
}

// live returns c's wheel entry, making it on first use. c.mu is held.
func (c *Connection) liveLocked() *liveState {
	if c.live == nil {
		c.live = &liveState{c: c}
	}
	return c.live
}

// watchStall starts watching c's output for progress, before a write that
// may block: a client that reads nothing for SlowClientTimeout is cut off.
// Once watching, it costs an atomic load.
func (c *Connection) watchStall() {
	c.mu.Lock()
	limit := c.opts.slowClientTimeout
	if limit <= 0 || c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	l := c.liveLocked()
	if l.stallWatch.Load() {
		c.mu.Unlock()
		return
	}
	l.stallWatch.Store(true)
	w := &c.srv.wheel
	w.mu.Lock()
	now := w.currentLocked()
	l.lastProgress = stamp(now)
	l.lastWritten = c.queueLocked().written
	if due := now + ticks(limit); !l.linked || !dueBy(l.at, due) {
		w.linkLocked(l, due) // an earlier visit (a heartbeat's) stays
	}
	w.mu.Unlock()
	c.mu.Unlock()
}

// liveCheck is the wheel's visit of c at tick now: it cuts off a client
// whose output made no progress for SlowClientTimeout, and schedules the
// next visit while there is something to watch.
func (c *Connection) liveCheck(l *liveState, now int64) {
	c.mu.Lock()
	if c.state == stateClosed {
		l.stallWatch.Store(false)
		c.mu.Unlock()
		return
	}
	limit := ticks(c.opts.slowClientTimeout)
	next := int64(0)
	if l.hb {
		var dead bool
		if next, dead = c.heartbeatLocked(l, now); dead {
			c.mu.Unlock()
			reason := "no pong within PongTimeout (" + c.opts.pongTimeout.String() + ")"
			c.cutOff(protocol.CloseAbnormal, reason, newError(ErrTimedOut, "connection %d: %s", c.id, reason))
			return
		}
	}
	if l.stallWatch.Load() {
		switch {
		case c.sendState == nil || c.q.queued == 0:
			l.stallWatch.Store(false) // all written: nothing to watch
		case c.q.written != l.lastWritten:
			l.lastWritten, l.lastProgress = c.q.written, stamp(now)
			next = earliest(next, now+limit)
		case now-tickAt(now, l.lastProgress) >= limit:
			l.stallWatch.Store(false)
			queued := c.q.queued
			c.mu.Unlock()
			reason := "the client does not read: " + strconv.Itoa(queued) + " bytes waited " + c.opts.slowClientTimeout.String() + " without progress"
			c.cutOff(protocol.ClosePolicyViolation, reason, &Error{Code: protocol.ClosePolicyViolation, Message: reason})
			return
		default:
			next = earliest(next, tickAt(now, l.lastProgress)+limit)
		}
	}
	c.mu.Unlock()
	if next > 0 {
		w := &c.srv.wheel
		w.mu.Lock()
		// A stall watch that began meanwhile (the heartbeat's ping being
		// written, say) may have linked l for a later visit: the earlier
		// one stays.
		if !l.linked || !dueBy(l.at, next) {
			w.linkLocked(l, next)
		}
		w.mu.Unlock()
	}
}

// earliest returns the earlier of two ticks, 0 meaning none.
func earliest(a, b int64) int64 {
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}

// heartbeatLocked is the wheel's heartbeat check of c at tick now, with c.mu held:
// after PingInterval without a read it sends a ping, and reports dead when
// PongTimeout passes after the ping without a read (a pong or anything
// else). It returns the tick of the next check.
func (c *Connection) heartbeatLocked(l *liveState, now int64) (next int64, dead bool) {
	interval, timeout := ticks(c.opts.pingInterval), ticks(c.opts.pongTimeout)
	if act := l.activity.Load(); act != l.lastAct {
		l.lastAct, l.actTick, l.pingOut = act, stamp(now), false
	}
	if l.pingOut {
		pinged := tickAt(now, l.pingTick)
		if now-pinged >= timeout {
			return 0, true
		}
		return pinged + timeout, false
	}
	if active := tickAt(now, l.actTick); now-active < interval {
		return active + interval, false
	}
	if c.state != stateOpen {
		return 0, false // closing: CloseTimeout bounds it
	}
	// The payload is the send time, as Server.Ping writes it, so that the
	// pong measures the round trip (PingRTT, Metrics).
	var buf [20]byte
	payload := strconv.AppendInt(buf[:0], time.Now().UnixNano(), 10)
	q := c.queueLocked()
	q.appendFrameLocked(protocol.OpPing, payload)
	q.scheduleFlushLocked()
	l.pingOut, l.pingTick = true, stamp(now)
	return now + timeout, false
}

// startHeartbeat puts a just-opened connection in the wheel when
// PingInterval is set, before its reader starts.
func (c *Connection) startHeartbeat() {
	if c.opts.pingInterval <= 0 {
		return
	}
	c.mu.Lock()
	l := c.liveLocked()
	l.hb = true
	w := &c.srv.wheel
	w.mu.Lock()
	now := w.currentLocked()
	l.actTick = stamp(now)
	w.linkLocked(l, now+ticks(c.opts.pingInterval))
	w.mu.Unlock()
	c.mu.Unlock()
}

// noteRead counts a read for the heartbeat. Only the reader calls it.
func (c *Connection) noteRead() {
	if c.opts.pingInterval > 0 {
		c.live.activity.Add(1) // made by startHeartbeat before the reader ran
	}
}

// unwatch takes c out of the wheel when it ends.
func (c *Connection) unwatch() {
	c.mu.Lock()
	l := c.live
	c.mu.Unlock()
	if l != nil {
		l.stallWatch.Store(false)
		c.srv.wheel.remove(l)
	}
}

// cutOff ends a connection that broke a limit: it records code and reason
// as the close the server made (Disconnected reports them), fires report as
// the one Error event of the cut (which logs it as the one Log entry of type
// Error), and closes the socket without
// waiting for the client, which is not reading. Only the first cut of a
// connection reports.
func (c *Connection) cutOff(code int, reason string, report *Error) {
	c.mu.Lock()
	c.sendingLocked()
	open := c.state == stateOpen
	if open {
		c.state = stateClosing
		c.sentCode, c.sentReason = code, reason
		c.mem.cut.Store(true)
	}
	c.wakeReaderLocked()
	c.mu.Unlock()
	if open {
		c.srv.fireError(c.id, report)
	}
	if tc := c.tlsConn(); tc != nil {
		// Before tls.Conn's Close: its close_notify alert would wait up to
		// five seconds for a client that does not read.
		tc.NetConn().Close()
	}
	c.closeSocket()
}

// overLimitLocked reports whether c must not be read now: the budget sweep
// holds it back, or its queue is over its limit. c.mu is held.
func (c *Connection) overLimitLocked() bool {
	return c.mem.paused || c.queueOverLocked()
}

// queueOverLocked reports whether c's queue holds more than its limit:
// pongs and other replies the reader queued while the client did not read.
// c.mu is held.
func (c *Connection) queueOverLocked() bool {
	return c.sendState != nil && (c.q.queued > c.opts.queueLimit || c.overBudgetLocked())
}

// holdWhileOver holds a goroutine reader while the queue is over its limit,
// so that a client that sends (pings, say) but does not read gets no more
// read until it reads; the stall watch cuts it off if it never does. It
// holds the reader too while the budget sweep holds the connection back.
func (c *Connection) holdWhileOver() {
	c.mu.Lock()
	for c.state == stateOpen {
		if c.queueOverLocked() {
			if c.q.writeErr != nil {
				break
			}
			if err := c.q.writeOrAwait(time.Time{}); err != nil {
				return // not reached: no deadline; writeOrAwait unlocked
			}
			continue
		}
		if !c.mem.paused {
			break
		}
		ch := c.budgetWaitLocked() // closed by the resume, or a close
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// throttleLocked stops an event loop's reading of c while its queue is
// over the limit, after a batch: the flusher turns it back on once it has
// written the queue down (unthrottleLocked). c.mu is held.
func (c *Connection) throttleLocked() {
	if c.throttled || c.state != stateOpen || !c.overLimitLocked() {
		return
	}
	if c.sock.Looped() {
		c.throttled = true
		c.sock.SetReading(false)
	}
}

// unthrottleLocked turns an event loop's reading of c back on once its queue
// is within its limit again. c.mu is held.
func (c *Connection) unthrottleLocked() {
	if !c.throttled || c.mem.paused || c.q.queued > c.opts.queueLimit/2 || c.overBudgetLocked() {
		return // resuming at half the limit spares a stop and start per write
	}
	c.throttled = false
	if c.sock.Looped() && c.acceptData {
		c.sock.SetReading(true)
	}
}

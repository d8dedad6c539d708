package wsserver

import (
	"context"
	"errors"
	"os"
	"time"
)

// The flush policy: who writes a connection's send queue, and when. One
// writer at a time (sendQueue.writer says who):
//
//   - the reader, after each batch of frames it handled (endBatch), so that
//     the replies to a batch go out in one write; on an event loop, which
//     must not wait on one client, with one non-blocking write (flushOnce),
//     the rest left to a flusher goroutine;
//   - a send made outside a batch: a non-blocking one starts a flusher
//     goroutine (scheduleFlushLocked), a blocking one (Timeout > 0, a
//     SendFile, a SendContext) writes the queue itself with a deadline on
//     each write (finishSendUnlock), or waits for the writer at work;
//   - a large message to an idle socket is written straight from the
//     caller's buffer before it is queued at all (writeThroughLocked);
//   - a closing connection writes what is left (flushNow), bounded by
//     CloseTimeout.

// maxWriteChunk bounds one socket write in blocking mode, so that the
// inactivity timeout restarts as data goes out.
const maxWriteChunk = 256 << 10

// monoStart anchors sendQueue.progressAt, monotonic nanoseconds since it.
var monoStart = time.Now()

// startBatch marks the start of a batch of the reader: what is queued until
// endBatch goes out in one write after it. The mark (Connection.batching)
// is not the queue's, so that a batch that queues nothing makes no queue.
func (c *Connection) startBatch() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// endBatch ends a reader batch and writes what it queued, unless a writer
// is at work already.
func (c *Connection) endBatch() {
	c.mu.Lock()
	c.batching = false
	c.throttleLocked()
	if c.sendState == nil || len(c.q.out) == 0 || !c.q.claimLocked(writerFlushing) {
		c.mu.Unlock()
		return
	}
	q := &c.q
	c.mu.Unlock()
	if c.sock.Looped() {
		q.flushOnce()
		return
	}
	q.flushLoop(0)
}

// scheduleFlushLocked makes sure someone writes the queue: the reader after
// its batch, the writer at work, or else a new flusher goroutine. c.mu is
// held.
func (q *sendQueue) scheduleFlushLocked() {
	if len(q.out) == 0 || q.c.batching || !q.claimLocked(writerFlushing) {
		return
	}
	go q.flushLoop(0)
}

// finishSendUnlock starts writing what was queued. With timeout > 0 it
// waits until the queue has written target bytes, failing after timeout
// seconds without progress; with timeout < 0 it waits without a deadline;
// with 0 it returns at once. ctx (nil: none) ending makes it give up: what
// was queued then stays queued and goes out in the background. c.mu is held
// on entry and released.
func (q *sendQueue) finishSendUnlock(timeout int, target int64, ctx context.Context) error {
	c := q.c
	if timeout == 0 {
		q.scheduleFlushLocked()
		c.mu.Unlock()
		return nil
	}
	step := time.Duration(max(timeout, 0)) * time.Second
	deadline := c.inactivityDeadline(timeout)
	gen := q.interrupts
	for q.written < target {
		if ctx != nil && ctx.Err() != nil {
			c.sock.SetWriteDeadline(time.Time{})
			q.scheduleFlushLocked()
			c.mu.Unlock()
			return ctxError(context.Cause(ctx), c.id)
		}
		if q.writeErr != nil {
			err := q.writeErr
			c.mu.Unlock()
			return &Error{Code: ErrSend.Code, Message: ErrSend.Message, Err: err}
		}
		if q.claimLocked(writerInline) {
			before := q.written
			c.mu.Unlock()
			q.flushLoop(step) // releases the writer
			c.mu.Lock()
			if q.interrupts != gen {
				// What was queued stays queued and goes out in the background.
				c.sock.SetWriteDeadline(time.Time{})
				q.scheduleFlushLocked()
				c.mu.Unlock()
				return newError(ErrInterrupted, "a send to connection %d was interrupted", c.id)
			}
			if q.written > before && q.progressAt != 0 {
				// Timeout runs from when bytes last moved (noteProgress).
				deadline = monoStart.Add(time.Duration(q.progressAt) + step)
			}
			if q.written < target && q.writeErr == nil && !deadline.IsZero() && !time.Now().Before(deadline) {
				// A write of step made no progress: the client reads nothing.
				q.scheduleFlushLocked()
				c.mu.Unlock()
				return newError(ErrTimedOut, "no data could be sent to connection %d for the Timeout period", c.id)
			}
			continue
		}
		if err := q.awaitProgress(deadline, ctx); err != nil {
			return err
		}
		if q.written < target && c.state == stateClosed && q.writeErr == nil {
			c.mu.Unlock()
			return newError(ErrNotConnected, "connection %d closed before the data was written", c.id)
		}
	}
	c.mu.Unlock()
	return nil
}

// awaitRoom waits until the queue can take a message of size bytes and no
// SendFile owns the message stream. With timeout 0 it fails at once with
// ErrWouldBlock; else it waits for progress, failing after timeout seconds
// without any (timeout < 0: no deadline of its own; ctx, if not nil, ends
// the wait). It fails with ErrNotConnected once the connection closes. c.mu
// is held on entry and on success; an error leaves it released.
func (q *sendQueue) awaitRoom(size, timeout int, ctx context.Context) error {
	c := q.c
	deadline := c.inactivityDeadline(timeout)
	for {
		if c.state != stateOpen {
			c.mu.Unlock()
			return newError(ErrNotConnected, "connection %d is closing", c.id)
		}
		if !q.streaming && q.roomLocked(size) {
			return nil
		}
		if timeout == 0 {
			return q.wouldBlockUnlock()
		}
		if err := q.awaitProgress(deadline, ctx); err != nil {
			return err
		}
		deadline = c.inactivityDeadline(timeout) // progress: an inactivity timeout
	}
}

// awaitProgress waits until the queue makes progress, the connection ends,
// deadline (zero: never) passes, or ctx (nil: none) ends. c.mu is held on
// entry and released while it waits; on success it is held again, on an
// error (ErrTimedOut, ErrInterrupted, ctx's as ctxError) it stays released.
func (q *sendQueue) awaitProgress(deadline time.Time, ctx context.Context) error {
	c := q.c
	if q.progress == nil {
		q.progress = make(chan struct{})
	}
	ch := q.progress
	gen := q.interrupts
	c.mu.Unlock()
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-ch: // progress, an Interrupt, or the end of the connection
	case <-timer:
		return newError(ErrTimedOut, "no data could be sent to connection %d for the Timeout period", c.id)
	case <-done:
		return ctxError(context.Cause(ctx), c.id)
	}
	c.mu.Lock()
	if q.interrupts != gen && !q.streaming {
		c.mu.Unlock()
		return newError(ErrInterrupted, "a send to connection %d was interrupted", c.id)
	}
	return nil
}

// writeOrAwait writes the queue when nobody else does (until it is written
// or a write fails), else waits for the writer's progress until deadline
// (zero: none). c.mu is held on entry and on success; an error (the
// deadline passed) leaves it released.
func (q *sendQueue) writeOrAwait(deadline time.Time) error {
	if q.claimLocked(writerFlushing) {
		q.c.mu.Unlock()
		q.flushLoop(0)
		q.c.mu.Lock()
		return nil
	}
	return q.awaitProgress(deadline, nil)
}

// notifyLocked wakes the goroutines waiting for c's queue to make progress,
// if it has one. c.mu is held.
func (c *Connection) notifyLocked() {
	if c.sendState != nil {
		c.q.notifyLocked()
	}
}

// notifyLocked wakes the goroutines waiting for progress. c.mu is held.
func (q *sendQueue) notifyLocked() {
	if q.progress != nil {
		close(q.progress)
		q.progress = nil
	}
}

// flushNow writes the queue before the connection closes, waiting for a
// writer already at work; bounded by CloseTimeout.
func (c *Connection) flushNow() {
	deadline := time.Now().Add(time.Duration(c.opts.closeTimeout))
	c.sock.SetCloseDeadline(deadline)
	c.mu.Lock()
	if c.sendState != nil {
		q := &c.q
		for len(q.out) > 0 && q.writeErr == nil {
			if err := q.writeOrAwait(deadline); err != nil {
				return
			}
		}
	}
	c.mu.Unlock()
}

// flushLoop writes the queue until it is empty, then releases the writer,
// which the caller claimed. timeout > 0 bounds each write; when it passes,
// the rest stays queued.
func (q *sendQueue) flushLoop(timeout time.Duration) {
	c := q.c
	for {
		c.mu.Lock()
		if len(q.out) == 0 || q.writeErr != nil {
			q.releaseLocked()
			ready := c.wantReady && q.writeErr == nil && c.state == stateOpen
			if ready {
				c.wantReady = false
				c.readyToSend = true
			}
			q.notifyLocked()
			c.mu.Unlock()
			if ready {
				c.fireReadyToSend()
			}
			return
		}
		if q.interruptRequestedLocked() {
			// Interrupt: the blocking send gives up; the rest stays queued.
			q.releaseLocked()
			q.notifyLocked()
			c.mu.Unlock()
			return
		}
		buf := q.out
		if timeout > 0 && len(buf) > maxWriteChunk {
			buf = buf[:maxWriteChunk]
		}
		c.mu.Unlock()

		n, err := q.writeQueued(buf, timeout)

		c.mu.Lock()
		q.wroteLocked(n)
		if err != nil {
			if (timeout > 0 || q.inlineLocked()) && errors.Is(err, os.ErrDeadlineExceeded) && c.sock.SurvivesDeadline() {
				// Nothing is lost: the rest stays queued for the next writer.
				q.releaseLocked()
				c.mu.Unlock()
				return
			}
			q.writeErr = err
			q.releaseLocked()
			q.notifyLocked()
			c.mu.Unlock()
			c.closeSocket() // the reader sees it and ends the connection
			return
		}
		c.mu.Unlock()
	}
}

// writeQueued writes buf, a part of the queue, for flushLoop; timeout > 0
// bounds the write (WriteTimed), else the socket's write deadline does
// (flushNow's, or an Interrupt's).
func (q *sendQueue) writeQueued(buf []byte, timeout time.Duration) (int, error) {
	c := q.c
	if timeout > 0 {
		return c.sock.WriteTimed(buf, timeout, q.interruptRequested, q.noteProgress)
	}
	n := 0
	if c.sock.CanTryWrite() {
		// Without waiting first, which is all most writes need.
		var err error
		if n, err = c.sock.TryWrite(buf); n == len(buf) || err != nil {
			return n, err
		}
	}
	// An Interrupt that came before the write could be woken by a deadline
	// (before a raw socket had its twin, say) is honoured here; one after
	// it finds the deadline to poke.
	c.mu.Lock()
	interrupted := q.interruptRequestedLocked()
	watched := c.live != nil && c.live.stallWatch.Load()
	c.mu.Unlock()
	if !watched {
		// The write may block on a client that does not read: the wheel
		// watches for progress (SlowClientTimeout).
		c.watchStall()
	}
	if interrupted {
		return n, os.ErrDeadlineExceeded
	}
	m, err := c.sock.Write(buf[n:], time.Time{})
	return n + m, err
}

// flushOnce writes the queue with one non-blocking write, for a loop that
// must not wait on one client; what does not fit goes to a flusher
// goroutine. The caller claimed the writer (writerFlushing).
func (q *sendQueue) flushOnce() {
	c := q.c
	c.mu.Lock()
	buf := q.out
	c.mu.Unlock()
	n, err := c.sock.TryWrite(buf)
	c.mu.Lock()
	q.wroteLocked(n)
	if len(q.out) > 0 && err == nil {
		// The socket is full: a goroutine waits for it, the loop goes on.
		c.mu.Unlock()
		go q.flushLoop(0)
		return
	}
	if err != nil {
		q.writeErr = err
		q.releaseLocked()
		q.notifyLocked()
		c.mu.Unlock()
		c.closeSocket()
		return
	}
	c.mu.Unlock()
	// All written: flushLoop finds the queue empty and does the bookkeeping.
	q.flushLoop(0)
}

// interruptRequested reports whether an Interrupt asks a blocking send that
// writes the queue to give up.
func (q *sendQueue) interruptRequested() bool {
	q.c.mu.Lock()
	defer q.c.mu.Unlock()
	return q.interruptRequestedLocked()
}

// noteProgress records that a blocking send's bytes moved.
func (q *sendQueue) noteProgress() {
	now := max(1, int64(time.Since(monoStart)))
	q.c.mu.Lock()
	q.progressAt = now
	q.c.mu.Unlock()
}

// inactivityDeadline returns the deadline of a wait under timeout seconds
// (zero time: no deadline).
func (c *Connection) inactivityDeadline(timeout int) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(time.Duration(timeout) * time.Second)
}

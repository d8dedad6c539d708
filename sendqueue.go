package wsserver

import (
	"context"
	"errors"
	"os"
	"slices"
	"time"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/protocol"
)

// maxWriteChunk bounds one socket write in blocking mode, so that the
// inactivity timeout restarts as data goes out.
const maxWriteChunk = 256 << 10

// Send sends data to the client as a binary message (the reference's Send).
func (s *Server) Send(id int, data []byte) error { return s.SendMessage(id, FormatBinary, data) }

// SendBytes sends data to the client as a binary message.
func (s *Server) SendBytes(id int, data []byte) error { return s.SendMessage(id, FormatBinary, data) }

// SendText sends text to the client as a text message. text must be valid
// UTF-8 (Go strings from source code are), whatever the CodePage; invalid
// text fails with ErrInvalidValue and sends nothing.
func (s *Server) SendText(id int, text string) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	return c.sendText([]byte(text))
}

// SendMessage sends data as one message of the given format: FormatText
// (data must be UTF-8), FormatBinary, FormatPing or FormatPong; FormatAutomatic
// sends binary. It copies data before it returns.
//
// With the connection's Timeout at 0, it never blocks: data is queued, and
// when the queue (OutBufferSize, or SendQueueSize bytes) cannot take it, it
// fails with ErrWouldBlock and the ReadyToSend event fires once the queue has
// drained. With Timeout > 0 it returns once the data is written, or fails with
// ErrTimedOut after Timeout seconds without progress.
func (s *Server) SendMessage(id int, format DataFormat, data []byte) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	return c.sendFormat(format, data, FormatBinary)
}

// sendFormat sends data in format f, with auto the format FormatAutomatic
// means. Text bytes are in the connection's CodePage.
func (c *Connection) sendFormat(f DataFormat, data []byte, auto DataFormat) error {
	if f == FormatAutomatic {
		f = auto
	}
	switch f {
	case FormatText:
		if c.opts.codePage != utf8CodePage {
			utf, err := fromCodePage(c.opts.codePage, data)
			if err != nil {
				return err
			}
			data = utf
		}
		return c.sendText(data)
	case FormatBinary:
		return c.send(protocol.OpBinary, data)
	case FormatPing:
		return c.sendControl(protocol.OpPing, data)
	case FormatPong:
		return c.sendControl(protocol.OpPong, data)
	}
	return newError(ErrInvalidValue, "DataFormat %d cannot be sent", f)
}

// sendText sends UTF-8 text as a text message.
func (c *Connection) sendText(data []byte) error {
	if !validText(data) {
		return newError(ErrInvalidValue, "text to send is not valid UTF-8; send it as binary")
	}
	return c.send(protocol.OpText, data)
}

// sendControl sends a ping or pong the application asked for.
func (c *Connection) sendControl(op protocol.Opcode, data []byte) error {
	if len(data) > protocol.MaxControlPayload {
		return newError(ErrInvalidValue, "a control frame carries at most 125 bytes, got %d", len(data))
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return newError(ErrNotConnected, "connection %d is closing", c.id)
	}
	c.sending()
	c.out = protocol.AppendFrame(c.out, true, op, false, data)
	c.account(2 + len(data))
	timeout := c.timeout
	return c.finishSend(timeout, c.enqueued)
}

// queueControl queues a control frame the protocol requires (a pong), even
// when the queue is over its limit.
func (c *Connection) queueControl(op protocol.Opcode, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	c.sending()
	c.out = protocol.AppendFrame(c.out, true, op, false, data)
	c.account(2 + len(data))
	c.scheduleFlushLocked()
}

// queueCloseLocked queues a close frame. c.mu is held.
func (c *Connection) queueCloseLocked(code int, reason string) {
	c.sending()
	var buf [protocol.MaxControlPayload]byte
	payload := protocol.AppendClosePayload(buf[:0], code, reason)
	c.out = protocol.AppendFrame(c.out, true, protocol.OpClose, false, payload)
	c.account(2 + len(payload))
}

// account records n newly queued bytes, and charges the queue's growth to
// the memory budget. c.mu is held.
func (c *Connection) account(n int) {
	c.queued += n
	c.enqueued += int64(n)
	c.accountOutLocked()
}

// send queues data as a message (or as the next part of a MessageLength
// message) and, in blocking mode, waits until it is written.
func (c *Connection) send(op protocol.Opcode, data []byte) error {
	return c.sendCtx(op, data, nil)
}

// sendCtx is send; with a non-nil ctx it blocks until the data is written
// or ctx ends, whatever the Timeout (SendContext).
func (c *Connection) sendCtx(op protocol.Opcode, data []byte, ctx context.Context) error {
	c.mu.Lock()
	c.sending()
	timeout := c.timeout
	if ctx != nil {
		timeout = -1 // wait without a deadline of its own: ctx has it
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Second)
	}
	// Wait while a SendFile owns the message stream or the queue cannot take
	// the message. The uncompressed size bounds the check: compressing first
	// would advance a context-takeover compressor for a message that may not
	// go.
	size := frameBytes(len(data), c.opts.maxFrameSize)
	for {
		if c.state != stateOpen {
			c.mu.Unlock()
			return newError(ErrNotConnected, "connection %d is closing", c.id)
		}
		if !c.streaming && (c.queued == 0 || c.queued+size <= c.sendLimitLocked()) {
			break
		}
		if timeout == 0 {
			return c.wouldBlockUnlock()
		}
		if err := c.awaitProgressCtx(deadline, ctx); err != nil {
			return err
		}
		deadline = c.inactivityDeadline(timeout) // progress: an inactivity timeout
	}
	// Frame the message into zbuf (compressed) or straight into out.
	begin, end := true, true
	part := data
	var rest []byte
	if c.messageLength > 0 {
		begin = !c.msgOpen
		if !begin {
			op = c.msgOp
		}
		if int64(len(data)) >= c.messageLength {
			part, rest = data[:c.messageLength], data[c.messageLength:]
		} else {
			end = false
		}
	}
	c.countOut(len(data), begin)
	compressed := c.deflater != nil && begin && end && len(part) >= c.opts.compressMin
	if compressed {
		if want := len(part)/2 + 64; cap(c.zbuf) < want && want > keepLimit {
			// A large message: start from a pooled buffer of a likely size
			// rather than growing one by doubling.
			c.zbuf = bufpool.Get(want)
		}
		c.zbuf = c.deflater.Compress(c.zbuf[:0], part)
		part = c.zbuf
	}
	if timeout == 0 && len(rest) == 0 && c.writeThrough(op, compressed, part, begin, end) {
		if c.messageLength > 0 {
			c.messageLength -= int64(len(data))
			c.msgOpen, c.msgOp = !end, op
		}
		c.bytesSent = len(data)
		c.releaseZbuf()
		c.scheduleFlushLocked()
		c.mu.Unlock()
		return nil
	}
	c.growOut(frameBytes(len(part), c.opts.maxFrameSize) + len(rest) + 16)
	before := len(c.out)
	c.out = protocol.AppendMessage(c.out, op, compressed, part, c.opts.maxFrameSize, begin, end)
	c.account(len(c.out) - before)
	if c.messageLength > 0 {
		c.messageLength -= int64(len(data) - len(rest))
		c.msgOpen, c.msgOp = !end, op
	}
	c.releaseZbuf()
	if len(rest) > 0 {
		// The data went past the end of the MessageLength message: the rest
		// is a message of its own.
		before = len(c.out)
		c.out = protocol.AppendMessage(c.out, op, false, rest, c.opts.maxFrameSize, true, true)
		c.account(len(c.out) - before)
	}
	if timeout == 0 {
		c.bytesSent = len(data)
	} else {
		c.bytesSent = 0
	}
	return c.finishSendCtx(timeout, c.enqueued, ctx)
}

// releaseZbuf returns a compression buffer a large message grew to the pool.
// c.mu is held.
func (c *Connection) releaseZbuf() {
	if cap(c.zbuf) > keepLimit {
		bufpool.Put(c.zbuf)
		c.zbuf = nil
	}
}

// writeThroughMin is the smallest payload written straight to the socket.
const writeThroughMin = 64 << 10

// maxWriteThroughFrames bounds the frames of one write-through.
const maxWriteThroughFrames = 32

// writeThrough writes a large message straight from the caller's buffer to
// an idle plaintext socket with one non-blocking writev, sparing the copy
// into the queue; only what the socket does not take is queued. It reports
// false, doing nothing, when that does not apply. c.mu is held, so no other
// send can slip in between.
func (c *Connection) writeThrough(op protocol.Opcode, compressed bool, payload []byte, begin, end bool) bool {
	maxFrame := c.opts.maxFrameSize
	frames := 1
	if maxFrame > 0 && len(payload) > maxFrame {
		frames = (len(payload) + maxFrame - 1) / maxFrame
	}
	if len(payload) < writeThroughMin || c.queued > 0 || c.flushing || !c.sock.CanTryWrite() || frames > maxWriteThroughFrames {
		return false
	}
	wt := c.wt
	if wt == nil {
		// Only connections that send large messages pay for this.
		wt = &writeThroughState{}
		c.wt = wt
	}
	vecs := wt.iov[:0]
	h := wt.hdrs[:0]
	total := 0
	for i, rest := 0, payload; i < frames; i++ {
		n := len(rest)
		if maxFrame > 0 && n > maxFrame {
			n = maxFrame
		}
		last := i == frames-1
		fop := protocol.OpContinuation
		if i == 0 && begin {
			fop = op
		}
		start := len(h)
		h = protocol.AppendHeader(h, last && end, fop, i == 0 && begin && compressed, n)
		vecs = append(vecs, h[start:len(h):len(h)], rest[:n])
		total += len(h) - start + n
		rest = rest[n:]
	}
	written, werr := c.sock.TryWritev(vecs)
	if werr != nil {
		// Leave the failure to the flusher: queue everything.
		written = 0
	}
	c.enqueued += int64(total)
	c.written += int64(written)
	c.queued += total - written
	c.growOut(total - written)
	skip := written
	for _, v := range vecs {
		if skip >= len(v) {
			skip -= len(v)
			continue
		}
		c.out = append(c.out, v[skip:]...)
		skip = 0
	}
	return true
}

// writeThroughState is the scratch space of writeThrough, kept per
// connection once it is first needed, so that writing through allocates nothing.
type writeThroughState struct {
	hdrs [maxWriteThroughFrames * protocol.MaxHeaderSize]byte
	iov  [2 * maxWriteThroughFrames][]byte
}

// growOut makes room for need more bytes in the queue, in a pooled buffer.
// While a flusher writes from the queue's array, that array must not go back
// to the pool, so it is then left to the garbage collector. c.mu is held.
func (c *Connection) growOut(need int) {
	if cap(c.out)-len(c.out) >= need {
		return
	}
	if c.flushing {
		c.out = slices.Grow(c.out, need)
	} else {
		c.out = bufpool.Grow(c.out, need)
	}
	c.accountOutLocked()
}

// frameBytes returns the bytes n payload bytes take once framed.
func frameBytes(n, maxFrame int) int {
	if maxFrame <= 0 || n <= maxFrame {
		return n + protocol.HeaderSize(n)
	}
	frames := (n + maxFrame - 1) / maxFrame
	return n + frames*protocol.HeaderSize(maxFrame)
}

// wouldBlockUnlock records a send that found the queue full, and releases
// c.mu (held on entry).
func (c *Connection) wouldBlockUnlock() error {
	c.stats.refused++
	c.bytesSent = 0
	c.readyToSend = false
	c.wantReady = true
	c.mu.Unlock()
	return ErrWouldBlock
}

// finishSend starts writing what was queued. With timeout > 0 it waits until
// the queue has written target bytes, failing after timeout seconds without
// progress; with timeout < 0 it waits without a deadline; with 0 it returns
// at once. c.mu is held and released.
func (c *Connection) finishSend(timeout int, target int64) error {
	return c.finishSendCtx(timeout, target, nil)
}

// finishSendCtx is finishSend that also gives up when ctx (nil: none) ends;
// what was queued then stays queued and goes out in the background.
func (c *Connection) finishSendCtx(timeout int, target int64, ctx context.Context) error {
	if timeout == 0 {
		c.scheduleFlushLocked()
		c.mu.Unlock()
		return nil
	}
	step := time.Duration(max(timeout, 0)) * time.Second
	deadline := c.inactivityDeadline(timeout)
	gen := c.interrupts
	for c.written < target {
		if ctx != nil && ctx.Err() != nil {
			c.sock.SetWriteDeadline(time.Time{})
			c.scheduleFlushLocked()
			c.mu.Unlock()
			return ctxError(context.Cause(ctx), c.id)
		}
		if c.writeErr != nil {
			err := c.writeErr
			c.mu.Unlock()
			return &Error{Code: ErrSend.Code, Message: ErrSend.Message, Err: err}
		}
		if !c.flushing {
			c.flushing = true
			c.inlineFlush = true
			before := c.written
			c.mu.Unlock()
			c.flushLoop(step)
			c.mu.Lock()
			c.inlineFlush = false
			c.interruptPending = false
			if c.interrupts != gen {
				// What was queued stays queued and goes out in the background.
				c.sock.SetWriteDeadline(time.Time{})
				c.scheduleFlushLocked()
				c.mu.Unlock()
				return newError(ErrInterrupted, "a send to connection %d was interrupted", c.id)
			}
			if c.written > before && !c.progressAt.IsZero() {
				// Timeout runs from when bytes last moved (noteProgress).
				deadline = c.progressAt.Add(step)
			}
			if c.written < target && c.writeErr == nil && !deadline.IsZero() && !time.Now().Before(deadline) {
				// A write of step made no progress: the client reads nothing.
				c.scheduleFlushLocked()
				c.mu.Unlock()
				return newError(ErrTimedOut, "no data could be sent to connection %d for the Timeout period", c.id)
			}
			continue
		}
		if err := c.awaitProgressCtx(deadline, ctx); err != nil {
			return err
		}
		if c.written < target && c.state == stateClosed && c.writeErr == nil {
			c.mu.Unlock()
			return newError(ErrNotConnected, "connection %d closed before the data was written", c.id)
		}
	}
	c.mu.Unlock()
	return nil
}

// awaitProgress waits until the queue makes progress, the connection ends,
// or deadline (zero: never) passes. c.mu is held on entry and released
// while it waits; on success it is held again, on an error (ErrTimedOut)
// it stays released. The deadline moves on with every progress (an
// inactivity timeout).
func (c *Connection) awaitProgress(deadline time.Time) error {
	return c.awaitProgressCtx(deadline, nil)
}

// awaitProgressCtx is awaitProgress that also returns, with ctx's error as
// ctxError, when ctx (nil: none) ends.
func (c *Connection) awaitProgressCtx(deadline time.Time, ctx context.Context) error {
	if c.progress == nil {
		c.progress = make(chan struct{})
	}
	ch := c.progress
	gen := c.interrupts
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
	if c.interrupts != gen && !c.streaming {
		c.mu.Unlock()
		return newError(ErrInterrupted, "a send to connection %d was interrupted", c.id)
	}
	return nil
}

// notifyLocked wakes the goroutines waiting for progress. c.mu is held.
func (c *Connection) notifyLocked() {
	if c.sendState != nil && c.progress != nil {
		close(c.progress)
		c.progress = nil
	}
}

// scheduleFlushLocked makes sure someone writes the queue: the reader after
// its batch, or a new flusher goroutine. c.mu is held.
func (c *Connection) scheduleFlushLocked() {
	if c.sendState == nil || c.flushing || len(c.out) == 0 || c.inBatch {
		return
	}
	c.flushing = true
	go c.flushLoop(0)
}

// endBatch ends a reader batch and writes what it queued.
func (c *Connection) endBatch() {
	c.mu.Lock()
	c.sending().inBatch = false
	c.throttleLocked()
	if c.flushing || len(c.out) == 0 {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.mu.Unlock()
	if c.sock.Looped() {
		c.flushOnce()
		return
	}
	c.flushLoop(0)
}

// flushNow writes the queue before the connection closes, waiting for a
// flusher already at work; bounded by CloseTimeout.
func (c *Connection) flushNow() {
	deadline := time.Now().Add(time.Duration(c.opts.closeTimeout))
	c.sock.SetCloseDeadline(deadline)
	c.mu.Lock()
	for c.sendState != nil && len(c.out) > 0 && c.writeErr == nil {
		if !c.flushing {
			c.flushing = true
			c.mu.Unlock()
			c.flushLoop(0)
			c.mu.Lock()
			continue
		}
		if err := c.awaitProgress(deadline); err != nil {
			return
		}
	}
	c.mu.Unlock()
}

// flushLoop writes the queue until it is empty. The caller set c.flushing.
// timeout > 0 bounds each write; when it passes, the rest stays queued.
func (c *Connection) flushLoop(timeout time.Duration) {
	for {
		c.mu.Lock()
		if len(c.out) == 0 || c.writeErr != nil {
			c.flushing = false
			ready := c.wantReady && c.writeErr == nil && c.state == stateOpen
			if ready {
				c.wantReady = false
				c.readyToSend = true
			}
			c.notifyLocked()
			c.mu.Unlock()
			if ready {
				c.fireReadyToSend()
			}
			return
		}
		if c.inlineFlush && c.interruptPending {
			// Interrupt: the blocking send gives up; the rest stays queued.
			c.interruptPending = false
			c.flushing = false
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		buf := c.out
		if timeout > 0 && len(buf) > maxWriteChunk {
			buf = buf[:maxWriteChunk]
		}
		c.mu.Unlock()

		n, err := c.writeQueued(buf, timeout)

		c.mu.Lock()
		c.wrote(n)
		if err != nil {
			if (timeout > 0 || c.inlineFlush) && errors.Is(err, os.ErrDeadlineExceeded) && c.sock.SurvivesDeadline() {
				// Nothing is lost: the rest stays queued for the next writer.
				c.flushing = false
				c.mu.Unlock()
				return
			}
			c.writeErr = err
			c.flushing = false
			c.notifyLocked()
			c.mu.Unlock()
			c.closeSocket() // the reader sees it and ends the connection
			return
		}
		c.mu.Unlock()
	}
}

// writeQueued writes buf, a part of the queue, for flushLoop; timeout > 0
// bounds the write (writeTimed), else the socket's write deadline does
// (flushNow's, or an Interrupt's).
func (c *Connection) writeQueued(buf []byte, timeout time.Duration) (int, error) {
	if timeout > 0 {
		return c.sock.WriteTimed(buf, timeout, c.interruptRequested, c.noteProgress)
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
	interrupted := c.inlineFlush && c.interruptPending
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

// wrote records that the first n bytes of the queue were written, and wakes
// those waiting for progress. c.mu is held.
func (c *Connection) wrote(n int) {
	c.queued -= n
	c.written += int64(n)
	c.unthrottleLocked()
	if n == len(c.out) {
		// All written: the buffer goes back to the shared pool, so that a
		// connection gone quiet holds none (a pooled Get per batch is cheap
		// next to its write).
		bufpool.Put(c.out)
		c.out = nil
		if c.outHeld != 0 {
			c.accountOutLocked()
		}
	} else {
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	c.notifyLocked()
}

// fireReadyToSend fires ReadyToSend, or leaves it for whoever holds the
// connection's event lock (a handler is running) to fire when it releases.
func (c *Connection) fireReadyToSend() {
	if EventDispatch(c.srv.dispatch.Load()) == DispatchQueued {
		h := c.srv.Events.OnReadyToSend
		if h != nil {
			ev := &ReadyToSendEvent{ConnectionID: c.id}
			c.srv.queue.post(func() {
				if err := protect("ReadyToSend", h, ev); err != nil {
					c.srv.reportPanic(c.id, err.(*handlerPanic))
				}
			}, false)
		}
		return
	}
	c.readyPending.Store(true)
	if c.evmu.TryLock() {
		c.unlockEvents()
	}
}

// unlockEvents releases the event lock, first firing a ReadyToSend that
// waited for it.
func (c *Connection) unlockEvents() {
	for c.readyPending.Swap(false) {
		h := c.srv.Events.OnReadyToSend
		if h == nil {
			continue
		}
		if err := protect("ReadyToSend", h, &ReadyToSendEvent{ConnectionID: c.id}); err != nil {
			c.srv.reportPanic(c.id, err.(*handlerPanic))
			c.disconnect(protocol.CloseInternalError, "internal server error")
		}
	}
	c.evmu.Unlock()
	// A ReadyToSend may have arrived between the Swap and the Unlock.
	if c.readyPending.Load() && c.evmu.TryLock() {
		c.unlockEvents()
	}
}

// flushOnce writes the queue with one non-blocking write, for a loop that
// must not wait on one client; what does not fit goes to a flusher goroutine.
// The caller set c.flushing.
func (c *Connection) flushOnce() {
	c.mu.Lock()
	buf := c.out
	c.mu.Unlock()
	n, err := c.sock.TryWrite(buf)
	c.mu.Lock()
	c.wrote(n)
	if len(c.out) > 0 && err == nil {
		// The socket is full: a goroutine waits for it, the loop goes on.
		c.mu.Unlock()
		go c.flushLoop(0)
		return
	}
	if err != nil {
		c.writeErr = err
		c.flushing = false
		c.notifyLocked()
		c.mu.Unlock()
		c.closeSocket()
		return
	}
	c.mu.Unlock()
	// All written: flushLoop finds the queue empty and does the bookkeeping.
	c.flushLoop(0)
}

// interruptRequested reports whether an Interrupt asks a blocking send to
// give up.
func (c *Connection) interruptRequested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inlineFlush && c.interruptPending
}

// noteProgress records that a blocking send's bytes moved.
func (c *Connection) noteProgress() {
	c.mu.Lock()
	c.sending().progressAt = time.Now()
	c.mu.Unlock()
}

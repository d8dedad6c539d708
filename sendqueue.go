package wsserver

import (
	"slices"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/protocol"
)

// sendQueue is a connection's outgoing queue: the one path of everything the
// server sends on the connection, whoever sends it (Send*, SendFile and
// SendStream, Broadcast, Ping and the heartbeat's pings, the reader's pongs,
// close frames, the part of the handshake's response a socket did not take
// at once). It holds:
//
//   - the queue and its accounting: the frames queued, the bytes queued,
//     ever enqueued and ever written, and the memory budget's charge for
//     the queue's buffer (chargeLocked);
//   - backpressure: a message is queued only while the queue has room for
//     it (roomLocked: SendQueueSize, or none while the connection is over
//     its memory budget), else the send fails with ErrWouldBlock
//     (wouldBlockUnlock) or, blocking, waits for progress (awaitRoom,
//     awaitProgress); control frames always go in. A reader whose replies
//     take the queue over its limit is throttled (throttleLocked after its
//     batch, unthrottleLocked as the queue drains);
//   - the message stream: a MessageLength message in progress, or a
//     SendFile or SendStream that owns the stream (claimStream);
//   - the writer and the flush policy (flush.go): who writes the queue and
//     when.
//
// The connection's mu guards every field; a method whose name ends in
// Locked needs it held and keeps it held. The queue is made with the
// connection's sendState (queueLocked) by its first send: a connection that
// stays idle after its handshake (whose response goes straight to the
// socket, sendHandshake) has none.
type sendQueue struct {
	c *Connection // the owner: its mu guards the queue, its sock is where the queue goes

	// The queue and its accounting.
	out      []byte // frames queued for writing, in a pooled buffer
	zbuf     []byte // the compressed payload of the message being queued
	queued   int    // bytes queued and not yet written
	enqueued int64  // bytes ever queued
	written  int64  // bytes ever written
	outHeld  int64  // queue bytes charged to the memory budget (chargeLocked)

	messageLength int64 // bytes still to come of a MessageLength message

	// The writer (flush.go).
	interrupts uint64 // Interrupt calls, so that waiting sends notice one
	progressAt int64  // when a blocking send's bytes last moved (monotonic ns since monoStart; 0: never)
	progress   chan struct{}
	writeErr   error
	wt         *writeThroughState // writeThrough's scratch space, once needed

	msgOp       protocol.Opcode
	msgOpen     bool        // a MessageLength message has begun
	streaming   bool        // SendFile/SendStream owns the message stream
	interrupted bool        // an Interrupt stops the SendFile/SendStream in progress
	writer      writerState // who writes the queue; see also Connection.batching
}

// writerState says who writes a connection's queue: at most one writer at a
// time, whoever claimed the state from writerIdle; everyone else queues and
// leaves the writing to it. Its transitions, all made with c.mu held, and
// only by the methods below them:
//
//	writerIdle -> writerFlushing
//	    claimLocked: a flusher goroutine (scheduleFlushLocked), the reader
//	    after its batch (endBatch), a closing connection (flushNow), a
//	    reader held while the queue is over its limit (holdWhileOver)
//	writerIdle -> writerInline
//	    claimLocked: a blocking send (finishSendUnlock) writes the queue
//	    itself, each write bounded by its Timeout
//	writerInline -> writerInlineInterrupted
//	    interruptWriterLocked: Interrupt, or the end of a SendContext's
//	    context; its blocked write is woken and it stops at its next look
//	writerFlushing, writerInline, writerInlineInterrupted -> writerIdle
//	    releaseLocked, by the writer itself as it stops (flushLoop,
//	    flushOnce): the queue is written, a write failed, a write's
//	    deadline passed, or it was interrupted
//
// While a writer is at work it writes from the queue's buffer without
// c.mu held, so that buffer must not go back to the pool (growLocked).
type writerState uint8

const (
	writerIdle              writerState = iota // nobody writes the queue
	writerFlushing                             // a flusher writes it, blocking on the client without a deadline
	writerInline                               // a blocking send writes it, with a write deadline
	writerInlineInterrupted                    // as writerInline; an Interrupt asked it to stop
)

// claimLocked makes the caller the queue's writer, as w (writerFlushing or
// writerInline), when nobody writes it; it reports whether it did. c.mu is
// held.
func (q *sendQueue) claimLocked(w writerState) bool {
	if q.writer != writerIdle {
		return false
	}
	q.writer = w
	return true
}

// releaseLocked ends the caller's turn as the queue's writer. c.mu is held.
func (q *sendQueue) releaseLocked() { q.writer = writerIdle }

// inlineLocked reports whether the writer is a blocking send. c.mu is held.
func (q *sendQueue) inlineLocked() bool {
	return q.writer == writerInline || q.writer == writerInlineInterrupted
}

// interruptWriterLocked asks a blocking send that writes the queue to give
// up, and wakes its blocked write; the unwritten rest stays queued. (A TLS
// connection cannot survive a write deadline: there the sender notices at
// its next wait.) c.mu is held.
func (q *sendQueue) interruptWriterLocked() {
	if q.inlineLocked() {
		q.writer = writerInlineInterrupted // seen by flushLoop between writes
		q.c.sock.Interrupt()
	}
}

// interruptRequestedLocked reports whether an Interrupt asks the writer, a
// blocking send, to give up. c.mu is held.
func (q *sendQueue) interruptRequestedLocked() bool {
	return q.writer == writerInlineInterrupted
}

// idleLocked reports whether the queue is empty and nobody writes it.
// c.mu is held.
func (q *sendQueue) idleLocked() bool { return q.queued == 0 && q.writer == writerIdle }

// interruptLocked makes a SendFile or SendStream in progress stop, and sends
// waiting in blocking mode return ErrInterrupted. c.mu is held.
func (q *sendQueue) interruptLocked() {
	if q.streaming {
		q.interrupted = true
	}
	q.interrupts++
	q.notifyLocked()
	q.interruptWriterLocked()
}

// queueLocked returns c's send queue, making it (with the sendState) on
// first use. c.mu is held.
func (c *Connection) queueLocked() *sendQueue { return &c.sendingLocked().q }

// queueControl queues a control frame the protocol requires (a pong), even
// when the queue is over its limit.
func (c *Connection) queueControl(op protocol.Opcode, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	q := c.queueLocked()
	q.appendFrameLocked(op, data)
	q.scheduleFlushLocked()
}

// queueCloseLocked queues a close frame. c.mu is held.
func (c *Connection) queueCloseLocked(code int, reason string) {
	var buf [protocol.MaxControlPayload]byte
	c.queueLocked().appendFrameLocked(protocol.OpClose, protocol.AppendClosePayload(buf[:0], code, reason))
}

// appendFrameLocked queues one unfragmented frame with payload: a control
// frame (ping, pong, close), which goes in whatever the queue's limit.
// c.mu is held.
func (q *sendQueue) appendFrameLocked(op protocol.Opcode, payload []byte) {
	q.out = protocol.AppendFrame(q.out, true, op, false, payload)
	q.accountLocked(2 + len(payload))
}

// appendMessageLocked queues payload as a message, or the part of one that
// begin and end say, in frames of at most maxFrame bytes (0: one frame).
// c.mu is held.
func (q *sendQueue) appendMessageLocked(op protocol.Opcode, compressed bool, payload []byte, maxFrame int, begin, end bool) {
	before := len(q.out)
	q.out = protocol.AppendMessage(q.out, op, compressed, payload, maxFrame, begin, end)
	q.accountLocked(len(q.out) - before)
}

// appendFramedLocked queues bytes that are framed already: a broadcast's
// frames, the rest of the handshake's response. c.mu is held.
func (q *sendQueue) appendFramedLocked(b []byte) {
	q.growLocked(len(b))
	q.out = append(q.out, b...)
	q.accountLocked(len(b))
}

// queueMessageLocked queues data as a message, or as the next part of a
// MessageLength message (data past that message's end is a message of its
// own), compressed when the connection compresses and the message is large
// enough. With mayWriteThrough, a large message to an idle socket is
// written straight from data (writeThroughLocked). The caller made sure
// the queue had room (awaitRoom). c.mu is held.
func (q *sendQueue) queueMessageLocked(op protocol.Opcode, data []byte, mayWriteThrough bool) {
	c := q.c
	begin, end := true, true
	part := data
	var rest []byte
	if q.messageLength > 0 {
		begin = !q.msgOpen
		if !begin {
			op = q.msgOp
		}
		if int64(len(data)) >= q.messageLength {
			part, rest = data[:q.messageLength], data[q.messageLength:]
		} else {
			end = false
		}
	}
	c.countOutLocked(len(data), begin)
	compressed := c.deflater != nil && begin && end && len(part) >= c.opts.compressMin
	if compressed {
		if want := len(part)/2 + 64; cap(q.zbuf) < want && want > keepLimit {
			// A large message: start from a pooled buffer of a likely size
			// rather than growing one by doubling.
			q.zbuf = bufpool.Get(want)
		}
		q.zbuf = c.deflater.Compress(q.zbuf[:0], part)
		part = q.zbuf
	}
	if !mayWriteThrough || len(rest) > 0 || !q.writeThroughLocked(op, compressed, part, begin, end) {
		q.growLocked(frameBytes(len(part), c.opts.maxFrameSize) + len(rest) + 16)
		q.appendMessageLocked(op, compressed, part, c.opts.maxFrameSize, begin, end)
	}
	if q.messageLength > 0 {
		q.messageLength -= int64(len(data) - len(rest))
		q.msgOpen, q.msgOp = !end, op
	}
	q.releaseZbufLocked()
	if len(rest) > 0 {
		// The data went past the end of the MessageLength message: the rest
		// is a message of its own.
		q.appendMessageLocked(op, false, rest, c.opts.maxFrameSize, true, true)
	}
}

// releaseZbufLocked returns a compression buffer a large message grew to
// the pool. c.mu is held.
func (q *sendQueue) releaseZbufLocked() {
	if cap(q.zbuf) > keepLimit {
		bufpool.Put(q.zbuf)
		q.zbuf = nil
	}
}

// accountLocked records n newly queued bytes, and charges the queue's growth
// to the memory budget. c.mu is held.
func (q *sendQueue) accountLocked(n int) {
	q.queued += n
	q.enqueued += int64(n)
	q.chargeLocked()
}

// chargeLocked charges the queue's capacity past outAllowance, as it is now,
// to the memory budget. c.mu is held.
func (q *sendQueue) chargeLocked() {
	held := int64(max(0, cap(q.out)-outAllowance))
	if held != q.outHeld {
		q.c.hold(held-q.outHeld, false)
		q.outHeld = held
	}
}

// growLocked makes room for need more bytes in the queue, in a pooled
// buffer. While a writer writes from the queue's array, that array must not
// go back to the pool, so it is then left to the garbage collector. c.mu is
// held.
func (q *sendQueue) growLocked(need int) {
	if cap(q.out)-len(q.out) >= need {
		return
	}
	if q.writer != writerIdle {
		q.out = slices.Grow(q.out, need)
	} else {
		q.out = bufpool.Grow(q.out, need)
	}
	q.chargeLocked()
}

// wroteLocked records that the first n bytes of the queue were written, and
// wakes those waiting for progress. c.mu is held.
func (q *sendQueue) wroteLocked(n int) {
	q.queued -= n
	q.written += int64(n)
	q.c.unthrottleLocked()
	if n == len(q.out) {
		// All written: the buffer goes back to the shared pool, so that a
		// connection gone quiet holds none (a pooled Get per batch is cheap
		// next to its write).
		bufpool.Put(q.out)
		q.out = nil
		if q.outHeld != 0 {
			q.chargeLocked()
		}
	} else {
		q.out = q.out[:copy(q.out, q.out[n:])]
	}
	q.notifyLocked()
}

// roomLocked reports whether the queue can take a message of size bytes:
// an empty queue always can, else up to the send limit (sendLimitLocked).
// c.mu is held.
func (q *sendQueue) roomLocked(size int) bool {
	return q.queued == 0 || q.queued+size <= q.c.sendLimitLocked()
}

// streamFreeLocked reports whether a whole message may be queued now: no
// SendFile or SendStream owns the message stream and no MessageLength
// message is in progress. c.mu is held.
func (q *sendQueue) streamFreeLocked() bool { return !q.streaming && !q.msgOpen }

// claimStream gives the message stream to a SendFile or SendStream once no
// other one, nor a MessageLength message, owns it, waiting for progress
// with timeout seconds as inactivity timeout (<= 0: none). It fails with
// ErrNotConnected once the connection closes. c.mu is held on entry and on
// success; an error leaves it released. releaseStream gives the stream back.
func (q *sendQueue) claimStream(timeout int) error {
	c := q.c
	for !q.streamFreeLocked() {
		if err := q.awaitProgress(c.inactivityDeadline(timeout), nil); err != nil {
			return err
		}
		if c.state != stateOpen {
			break
		}
	}
	if c.state != stateOpen {
		c.mu.Unlock()
		return newError(ErrNotConnected, "connection %d is closing", c.id)
	}
	q.streaming, q.interrupted = true, false
	return nil
}

// releaseStream ends a SendFile's or SendStream's ownership of the message
// stream, and wakes the sends waiting for it.
func (q *sendQueue) releaseStream() {
	q.c.mu.Lock()
	q.streaming = false
	q.notifyLocked()
	q.c.mu.Unlock()
}

// streamInterrupted reports whether an Interrupt stops the SendFile or
// SendStream that owns the message stream.
func (q *sendQueue) streamInterrupted() bool {
	q.c.mu.Lock()
	defer q.c.mu.Unlock()
	return q.interrupted
}

// wouldBlockUnlock records a send that found the queue full, and releases
// c.mu (held on entry).
func (q *sendQueue) wouldBlockUnlock() error {
	c := q.c
	c.stats.refused++
	c.bytesSent = 0
	c.readyToSend = false
	c.wantReady = true
	c.mu.Unlock()
	return ErrWouldBlock
}

// frameBytes returns the bytes n payload bytes take once framed.
func frameBytes(n, maxFrame int) int {
	if maxFrame <= 0 || n <= maxFrame {
		return n + protocol.HeaderSize(n)
	}
	frames := (n + maxFrame - 1) / maxFrame
	return n + frames*protocol.HeaderSize(maxFrame)
}

// writeThroughMin is the smallest payload written straight to the socket.
const writeThroughMin = 64 << 10

// maxWriteThroughFrames bounds the frames of one write-through.
const maxWriteThroughFrames = 32

// writeThroughLocked writes a large message straight from the caller's
// buffer to an idle plaintext socket with one non-blocking writev, sparing
// the copy into the queue; only what the socket does not take is queued. It
// reports false, doing nothing, when that does not apply. c.mu is held, so
// no other send can slip in between.
func (q *sendQueue) writeThroughLocked(op protocol.Opcode, compressed bool, payload []byte, begin, end bool) bool {
	c := q.c
	maxFrame := c.opts.maxFrameSize
	frames := 1
	if maxFrame > 0 && len(payload) > maxFrame {
		frames = (len(payload) + maxFrame - 1) / maxFrame
	}
	if len(payload) < writeThroughMin || q.queued > 0 || q.writer != writerIdle || !c.sock.CanTryWrite() || frames > maxWriteThroughFrames {
		return false
	}
	wt := q.wt
	if wt == nil {
		// Only connections that send large messages pay for this.
		wt = &writeThroughState{}
		q.wt = wt
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
	q.enqueued += int64(total)
	q.written += int64(written)
	q.queued += total - written
	q.growLocked(total - written)
	skip := written
	for _, v := range vecs {
		if skip >= len(v) {
			skip -= len(v)
			continue
		}
		q.out = append(q.out, v[skip:]...)
		skip = 0
	}
	return true
}

// writeThroughState is the scratch space of writeThroughLocked, kept per
// connection once it is first needed, so that writing through allocates
// nothing.
type writeThroughState struct {
	hdrs [maxWriteThroughFrames * protocol.MaxHeaderSize]byte
	iov  [2 * maxWriteThroughFrames][]byte
}

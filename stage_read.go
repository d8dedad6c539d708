package wsserver

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// The frame stage of a connection's byte handler: the bytes after the
// opening handshake go to the protocol reader (frameHandler), which
// delivers messages to the events.

// errPeerClosed ends the reading once the client's close frame is read.
var errPeerClosed = errors.New("wsserver: the client sent its close frame")

// frameError is the frame stage's error that ends the reading: a protocol
// violation (a *protocol.CloseError) or a handler's panic.
type frameError struct{ err error }

func (e *frameError) Error() string { return e.err.Error() }

// frameBytes is the frame stage: it feeds p to the protocol reader as one
// batch, and ends the reading on an error or the client's close frame.
func (c *Connection) frameBytes(p []byte) error {
	if err := c.feed(p); err != nil {
		return &frameError{err}
	}
	if !c.sock.Looped() {
		c.holdWhileOver() // an event loop must not block; it stops reading instead (throttleLocked)
	}
	if c.rd.Closed() {
		return errPeerClosed
	}
	return nil
}

// growthRoom returns the room to make ahead in a message buffer holding
// have bytes, for a frame with rem bytes still to come: what the frame
// announces, but no more than what has arrived so far (directMin at least),
// so that the buffer grows with the data, doubling, and a client announcing
// a huge frame gets memory only as its bytes arrive.
func growthRoom(rem uint64, have int) int {
	return int(min(rem, uint64(max(have, directMin))))
}

// directMin is the smallest frame remainder read straight into the message
// buffer.
const directMin = 32 << 10

// directRoomMin is the least free room in the message buffer a direct read
// uses before the buffer grows.
const directRoomMin = 4 << 10

// directTarget returns where the rest of a large uncompressed frame can be
// read straight into: the free end of the BufferMessage buffer, sized to the
// frame, so the payload is copied once, from the socket (OnData sees it in
// place). It returns nil when that does not apply.
func (c *Connection) directTarget() []byte {
	if c.readState == nil {
		return nil
	}
	rem := c.rd.FrameRemaining()
	if !c.wholeMessages() || rem < directMin || c.rd.MessageCompressed() || c.LineMode() {
		return nil
	}
	// Grow only when the buffer is (nearly) full: a client that stops
	// sending leaves no room reserved ahead of its data.
	if free := cap(c.msgBuf) - len(c.msgBuf); uint64(free) < min(rem, directRoomMin) {
		if c.growMsg(growthRoom(rem, len(c.msgBuf))) != nil {
			return nil // the read goes to a read buffer, and OnData fails the message
		}
	}
	n := int(min(rem, uint64(cap(c.msgBuf)-len(c.msgBuf))))
	return c.msgBuf[len(c.msgBuf) : len(c.msgBuf)+n]
}

// waitWhilePaused holds the reader, before a DataIn, while AcceptData is
// false: data read before the pause, or after it in the same read, waits
// too. What the batch queued goes out first.
func (c *Connection) waitWhilePaused() {
	if c.sock.Looped() {
		return // an event loop must not block; it stops reading instead (setReading)
	}
	for c.sock.Paused() {
		c.endBatch()
		c.sock.WaitReading()
		c.startBatch()
	}
}

// feed hands p to the protocol reader as one batch: replies queued while the
// batch is handled go out together in one write after it.
func (c *Connection) feed(p []byte) error {
	c.reading()
	c.startBatch()
	c.noteRead()
	err := c.rd.Feed(p, (*frameHandler)(c))
	c.endBatch()
	return err
}

// frameHandler is the Connection seen as the protocol reader's handler; it
// keeps the handler methods off Connection's exported method set.
type frameHandler Connection

func (h *frameHandler) OnData(op protocol.Opcode, p []byte, fin bool) error {
	c := (*Connection)(h)
	c.countIn(len(p), fin)
	if fin {
		if err := c.countMessage(); err != nil {
			return err
		}
	}
	if c.srv.Events.OnMessage == nil {
		return c.deliverData(op, p, fin)
	}
	// OnMessage gets whole messages; DataIn, when set, still gets its pieces
	// or lines as it would without OnMessage (with BufferMessage and no
	// LineMode its whole message comes from collectMessage).
	if c.srv.Events.OnDataIn != nil && (!c.opts.bufferMessage || c.lineMode.Load()) {
		if err := c.deliverData(op, p, fin); err != nil {
			return err
		}
	}
	return c.collectMessage(op, p, fin, c.opts.bufferMessage && !c.lineMode.Load())
}

// wholeMessages reports whether messages are gathered whole (BufferMessage
// or OnMessage), so that their data can be read straight into the buffer.
func (c *Connection) wholeMessages() bool {
	return c.opts.bufferMessage || c.srv.Events.OnMessage != nil
}

// deliverData delivers data to DataIn as the reference says: lines in
// LineMode, whole messages with BufferMessage, else pieces as they come.
func (c *Connection) deliverData(op protocol.Opcode, p []byte, fin bool) error {
	if c.lineMode.Load() {
		return c.deliverLines(p, fin)
	}
	format := FormatBinary
	if op == protocol.OpText {
		format = FormatText
	}
	if c.opts.bufferMessage {
		return c.collectMessage(op, p, fin, true)
	}
	if op == protocol.OpText {
		p = c.joinRunes(p, fin)
	}
	if len(p) == 0 && !fin {
		return nil
	}
	if c.midMsg {
		format = FormatAutomatic
	}
	c.midMsg = !fin
	return c.fireDataIn(format, p, fin, false)
}

// collectMessage gathers a message's pieces in msgBuf and, at its end,
// fires DataIn with the whole message when dataIn is true (BufferMessage),
// then OnMessage when set.
func (c *Connection) collectMessage(op protocol.Opcode, p []byte, fin, dataIn bool) error {
	format := FormatBinary
	if op == protocol.OpText {
		format = FormatText
	}
	if fin && len(c.msgBuf) == 0 && (cap(c.msgBuf) == 0 || len(p) == 0 || &c.msgBuf[:1][0] != &p[0]) {
		// The whole message is in this piece, in the read buffer:
		// deliver it in place, without copying it to msgBuf. (A piece
		// read in place into msgBuf goes below, which gives msgBuf's
		// buffer back. Compressed messages always come in pieces.)
		return c.fireWhole(format, p, dataIn)
	}
	if n := len(c.msgBuf); len(p) > 0 && cap(c.msgBuf) > n && &c.msgBuf[:n+1][n] == &p[0] {
		// Read in place by directTarget: the data is already there.
		c.msgBuf = c.msgBuf[:n+len(p)]
	} else {
		// The buffer grows with the data, doubling (bufpool's classes).
		if err := c.growMsg(len(p)); err != nil {
			return err
		}
		c.msgBuf = append(c.msgBuf, p...)
	}
	if !fin {
		return nil
	}
	err := c.fireWhole(format, c.msgBuf, dataIn)
	c.releaseMsg() // a connection between messages holds no buffer
	return err
}

// fireWhole fires DataIn (when dataIn) and OnMessage for a whole message.
func (c *Connection) fireWhole(format DataFormat, p []byte, dataIn bool) error {
	if dataIn {
		if err := c.fireDataIn(format, p, true, false); err != nil {
			return err
		}
	}
	h := c.srv.Events.OnMessage
	if h == nil {
		return nil
	}
	c.waitWhilePaused()
	e := &c.reading().msgEv
	*e = MessageEvent{ConnectionID: c.id, Connection: c, DataFormat: format, Data: p}
	err := call(c.srv, c, "Message", h, e)
	e.Data, e.Connection = nil, nil // the buffer goes back to the pool
	return err
}

// joinRunes keeps a UTF-8 sequence split between two pieces of a text
// message whole: it holds back an incomplete sequence at the end of p and
// puts it in front of the next piece.
func (c *Connection) joinRunes(p []byte, fin bool) []byte {
	rs := c.reading()
	if rs.carryN > 0 {
		rs.scratch = append(append(rs.scratch[:0], rs.carry[:rs.carryN]...), p...)
		p = rs.scratch
		rs.carryN = 0
	}
	if !fin {
		k := protocol.CompleteRunes(p)
		rs.carryN = copy(rs.carry[:], p[k:])
		p = p[:k]
	}
	return p
}

// deliverLines splits received data into lines for LineMode: a line ends at
// LF (a CR before it is dropped too) and DataIn gets it with EOL true; a line
// reaching MaxLineLength is delivered with EOL false. Data is one stream:
// lines may span messages, and EOM tells whether a line's last byte ended a
// message.
func (c *Connection) deliverLines(p []byte, fin bool) error {
	max := c.MaxLineLength()
	rs := c.reading()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		room := max - len(rs.lineBuf)
		if i >= 0 && i <= room {
			line := append(rs.lineBuf, p[:i]...)
			p = p[i+1:]
			line = bytes.TrimSuffix(line, []byte{'\r'})
			rs.lineBuf = line[:0]
			c.pendingLine.Store(0)
			if err := c.fireDataIn(FormatAutomatic, line, fin && len(p) == 0, true); err != nil {
				return err
			}
			continue
		}
		if len(p) < room {
			rs.lineBuf = append(rs.lineBuf, p...)
			c.pendingLine.Store(int32(len(rs.lineBuf)))
			break
		}
		line := append(rs.lineBuf, p[:room]...)
		p = p[room:]
		rs.lineBuf = line[:0]
		c.pendingLine.Store(0)
		if err := c.fireDataIn(FormatAutomatic, line, fin && len(p) == 0, false); err != nil {
			return err
		}
	}
	return nil
}

// fireDataIn fires DataIn, converting text from the CodePage when it is not UTF-8.
func (c *Connection) fireDataIn(format DataFormat, p []byte, eom, eol bool) error {
	c.waitWhilePaused()
	h := c.srv.Events.OnDataIn
	if h == nil {
		return nil
	}
	e := &c.reading().dataIn
	*e = DataInEvent{ConnectionID: c.id, DataFormat: format, TextB: p, EOM: eom, EOL: eol}
	if c.opts.codePage != utf8CodePage && c.isText(format) {
		e.utf8, e.TextB = p, toCodePage(c.opts.codePage, p)
	}
	return call(c.srv, c, "DataIn", h, e)
}

// isText reports whether a DataIn piece of format holds text: a text message
// (or its continuation), or a line in LineMode of a text message.
func (c *Connection) isText(format DataFormat) bool {
	return format == FormatText || format == FormatAutomatic && c.rd.MessageOp() == protocol.OpText
}

func (h *frameHandler) OnPing(p []byte) error {
	c := (*Connection)(h)
	if err := c.countMessage(); err != nil {
		return err
	}
	c.queueControl(protocol.OpPong, p)
	return c.firePing(p, false)
}

func (h *frameHandler) OnPong(p []byte) error {
	c := (*Connection)(h)
	c.srv.pongRTT(c, p)
	if err := c.countMessage(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.sendState != nil && c.pongWait != nil {
		close(c.pongWait)
		c.pongWait = nil
	}
	c.mu.Unlock()
	return c.firePing(p, true)
}

func (c *Connection) firePing(p []byte, response bool) error {
	h := c.srv.Events.OnPing
	if h == nil {
		return nil
	}
	e := &c.reading().pingEv
	*e = PingEvent{ConnectionID: c.id, PayloadB: p, Response: response}
	return call(c.srv, c, "Ping", h, e)
}

func (h *frameHandler) OnClose(code int, reason []byte) error {
	c := (*Connection)(h)
	c.mu.Lock()
	c.sendingLocked()
	c.peerCode, c.peerReason = code, string(reason)
	c.mu.Unlock()
	return nil
}

// keepLimit is the largest compression buffer a connection keeps for reuse;
// larger ones go back to the shared pool.
const keepLimit = 64 << 10

// closedByPeer completes a close handshake the client started or answered
// (RFC 6455 section 7.1.1): it echoes the client's code if the server has not
// sent a close frame yet, flushes, and ends the connection.
func (c *Connection) closedByPeer() (int, string) {
	c.mu.Lock()
	c.sendingLocked()
	code, reason := c.peerCode, c.peerReason
	if c.state == stateOpen {
		c.state = stateClosing
		echo := code
		if !validSendCloseCode(echo) {
			echo = protocol.CloseNoStatus
		}
		c.sentCode, c.sentReason = echo, ""
		c.queueCloseLocked(echo, "")
	}
	c.mu.Unlock()
	c.flushNow()
	return code, reason
}

// failed fails the connection after a protocol violation or a handler panic
// (RFC 6455 section 7.1.7): it sends a close frame with the matching code,
// waits briefly for the client's close, and ends the connection.
func (c *Connection) failed(err error) (int, string) {
	var ce *protocol.CloseError
	if !errors.As(err, &ce) {
		ce = c.panicClose(err)
	}
	c.fail(ce)
	c.drain()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendingLocked()
	return c.sentCode, c.sentReason
}

// panicClose turns a handler panic into close code 1011 and reports it.
func (c *Connection) panicClose(err error) *protocol.CloseError {
	var hp *handlerPanic
	if errors.As(err, &hp) {
		c.srv.reportPanic(c.id, hp)
	}
	return &protocol.CloseError{Code: protocol.CloseInternalError, Reason: "internal server error"}
}

// fail sends the close frame for ce, unless one was sent already.
func (c *Connection) fail(ce *protocol.CloseError) {
	c.mu.Lock()
	c.sendingLocked()
	if c.state == stateOpen {
		c.state = stateClosing
		c.sentCode, c.sentReason = ce.Code, ce.Reason
		c.queueCloseLocked(ce.Code, ce.Reason)
	}
	c.mu.Unlock()
	if ce.Code != protocol.CloseInternalError && !c.mem.cut.Load() {
		c.srv.fireError(c.id, &Error{Code: ce.Code, Message: ce.Reason})
	}
	c.flushNow()
}

// drain reads and discards what the client still sends, until it closes, a
// close frame or CloseTimeout, so that closing the socket does not reset a
// connection whose close frame the client has not read yet.
func (c *Connection) drain() {
	c.sock.SetReadDeadline(time.Now().Add(time.Duration(c.opts.closeTimeout)))
	c.sock.CloseWrite()
	for {
		_, err := c.sock.ReadChunk(nil, false)
		c.sock.ReleaseChunk()
		if err != nil {
			return
		}
	}
}

// readFailed ends a connection whose socket read failed: after the server's
// close frame (a timeout waiting for the reply, or the client closing the
// socket) it ends with the server's code; otherwise the connection dropped
// (1006).
func (c *Connection) readFailed(err error) (int, string) {
	c.mu.Lock()
	if c.state != stateOpen {
		defer c.mu.Unlock()
		c.sendingLocked()
		return c.sentCode, c.sentReason
	}
	c.state = stateClosed
	var writeErr error
	if c.sendState != nil {
		writeErr = c.q.writeErr
	}
	c.mu.Unlock()
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.srv.fireError(c.id, socketError(err, ErrSend))
	}
	if writeErr != nil {
		return protocol.CloseAbnormal, "connection lost: " + writeErr.Error()
	}
	return protocol.CloseAbnormal, "connection closed without a close frame"
}

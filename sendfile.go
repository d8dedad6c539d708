package wsserver

import (
	"errors"
	"io"
	"os"

	"github.com/wsserver/wsserver/internal/protocol"
)

// SendFile sends the file as one binary message, streamed in frames of
// MaxFrameSize bytes without loading it whole. It blocks until the file is
// sent (the reference's synchronous SendFile), with the connection's Timeout
// as inactivity timeout when positive. Interrupt stops it: the message ends
// early and SendFile returns ErrInterrupted.
func (s *Server) SendFile(id int, fileName string) error {
	f, err := os.Open(fileName)
	if err != nil {
		return &Error{Code: ErrSend.Code, Message: "cannot open file to send " + fileName, Err: err}
	}
	defer f.Close()
	return s.sendStream(id, f, FormatBinary)
}

// SendStream sends what r yields, until io.EOF, as one message of format
// (FormatText or FormatBinary), like SendFile. When CloseStreamAfterTransfer
// is true (the default) and r is an io.Closer, r is closed afterwards.
func (s *Server) SendStream(id int, r io.Reader, format DataFormat) error {
	s.mu.Lock()
	closeAfter := s.cfg.closeStreamAfterTransfer
	s.mu.Unlock()
	if rc, ok := r.(io.Closer); ok && closeAfter {
		defer rc.Close()
	}
	return s.sendStream(id, r, format)
}

func (s *Server) sendStream(id int, r io.Reader, format DataFormat) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	op := protocol.OpBinary
	switch format {
	case FormatText:
		op = protocol.OpText
	case FormatBinary, FormatAutomatic:
	default:
		return newError(ErrInvalidValue, "a stream is sent as text or binary, not DataFormat %d", format)
	}
	c.mu.Lock()
	q := c.queueLocked()
	timeout := c.timeout
	if err := q.claimStream(timeout); err != nil {
		return err
	}
	maxFrame := c.opts.maxFrameSize
	c.mu.Unlock()
	defer q.releaseStream()

	chunk := maxFrame
	if chunk <= 0 || chunk > 256<<10 {
		chunk = 256 << 10
	}
	buf := make([]byte, chunk)
	first := true
	for {
		n, rerr := io.ReadFull(r, buf)
		last := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !last {
			// End the message with what was read (io.Reader: use the n
			// bytes before the error), then report.
			c.queueStreamPart(op, buf[:n], first, true, maxFrame, timeout)
			return &Error{Code: ErrSend.Code, Message: "reading the data to send failed", Err: rerr}
		}
		if q.streamInterrupted() {
			c.endStream(op, first)
			return newError(ErrInterrupted, "sending to connection %d was interrupted", id)
		}
		if err := c.queueStreamPart(op, buf[:n], first, last, maxFrame, timeout); err != nil {
			if errors.Is(err, ErrInterrupted) && !last {
				// The part is queued; the message still needs its end.
				c.endStream(op, false)
			}
			return err
		}
		first = false
		if last {
			return nil
		}
	}
}

// endStream queues the end of a streamed message cut short by Interrupt,
// without waiting: an empty final frame (a whole empty message when nothing
// was sent yet), so the client sees a complete, shorter message.
func (c *Connection) endStream(op protocol.Opcode, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	c.countOutLocked(0, first)
	q := c.queueLocked()
	q.appendMessageLocked(op, false, nil, 0, first, true)
	q.scheduleFlushLocked()
}

// queueStreamPart queues a part of a streamed message, waiting for room in
// the queue, then waits until it is written.
func (c *Connection) queueStreamPart(op protocol.Opcode, p []byte, begin, end bool, maxFrame, timeout int) error {
	c.mu.Lock()
	q := c.queueLocked()
	size := frameBytes(len(p), maxFrame)
	for !q.roomLocked(size) && c.state == stateOpen && !q.interrupted {
		if err := q.awaitProgress(c.inactivityDeadline(timeout), nil); err != nil {
			return err
		}
	}
	if c.state != stateOpen {
		c.mu.Unlock()
		return newError(ErrNotConnected, "connection %d closed while sending", c.id)
	}
	c.countOutLocked(len(p), begin)
	q.appendMessageLocked(op, false, p, maxFrame, begin, end)
	if timeout == 0 {
		timeout = -1 // a stream is always sent synchronously
	}
	return q.finishSendUnlock(timeout, q.enqueued, nil)
}

package wsserver

import (
	"context"

	"github.com/wsserver/wsserver/internal/protocol"
)

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
	q := c.queueLocked()
	q.appendFrameLocked(op, data)
	return q.finishSendUnlock(c.timeout, q.enqueued, nil)
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
	q := c.queueLocked()
	timeout := c.timeout
	if ctx != nil {
		timeout = -1 // wait without a deadline of its own: ctx has it
	}
	// The uncompressed size bounds the check: compressing first would
	// advance a context-takeover compressor for a message that may not go.
	if err := q.awaitRoom(frameBytes(len(data), c.opts.maxFrameSize), timeout, ctx); err != nil {
		return err
	}
	q.queueMessageLocked(op, data, timeout == 0)
	if timeout == 0 {
		c.bytesSent = len(data)
	} else {
		c.bytesSent = 0
	}
	return q.finishSendUnlock(timeout, q.enqueued, ctx)
}

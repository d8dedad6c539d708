package wsserver

import (
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// validSendCloseCode reports whether the server may send code in a close
// frame (RFC 6455 section 7.4: not 1005, 1006 or 1015, and within the ranges
// in use).
func validSendCloseCode(code int) bool {
	return protocol.ValidReceivedCloseCode(code)
}

// disconnect starts the close handshake with code and reason (0: the
// DisconnectStatus settings). Without WaitForCloseResponse the socket closes
// as soon as the close frame is written.
func (c *Connection) disconnect(code int, reason string) {
	s := c.srv
	if code == 0 {
		s.mu.Lock()
		code, reason = s.cfg.disconnectCode, s.cfg.disconnectReason
		if !s.cfg.disconnectReasonSet {
			reason = protocol.DefaultCloseReason(code)
		}
		s.mu.Unlock()
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.sendingLocked()
	c.sentCode, c.sentReason = code, reason
	c.queueCloseLocked(code, reason)
	c.wakeReaderLocked()
	c.mu.Unlock()
	s.logf(c.id, 1, "Closing connection %d with %d %s", c.id, code, reason)
	go func() {
		c.flushNow()
		if c.opts.waitForClose {
			// The reader ends on the client's close frame or at this deadline.
			c.closeReadAfter(time.Duration(c.opts.closeTimeout))
		} else {
			c.closeSocket()
		}
	}()
}

// abort closes the socket at once, without a close handshake.
func (c *Connection) abort() {
	c.mu.Lock()
	c.sendingLocked()
	if c.state == stateOpen {
		c.state = stateClosing
		c.sentCode, c.sentReason = protocol.CloseAbnormal, "connection aborted by the server"
	}
	c.wakeReaderLocked()
	c.mu.Unlock()
	c.closeSocket()
}

// wakeReaderLocked wakes a reader that AcceptData false holds, or turns
// reading back on for an event loop, so that a closing connection reads on
// to its end. c.mu is held.
func (c *Connection) wakeReaderLocked() {
	c.budgetWakeLocked()
	if !c.acceptData || c.throttled {
		c.throttled = false
		c.setReadingLocked(true)
	}
}

// interrupt makes a SendFile or SendStream in progress stop, and sends
// waiting in blocking mode (Timeout > 0) return ErrInterrupted.
func (c *Connection) interrupt() {
	c.mu.Lock()
	c.queueLocked().interruptLocked()
	c.mu.Unlock()
}

// cleanup ends the connection's life: the socket closes, waiters wake, and
// the compression state goes back to its pools.
func (c *Connection) cleanup() {
	c.mu.Lock()
	c.state = stateClosed
	c.notifyLocked() // waiting senders see the state
	if c.sendState != nil && c.pongWait != nil {
		close(c.pongWait)
		c.pongWait = nil
	}
	if c.deflater != nil {
		c.deflater.Close()
	}
	c.mu.Unlock()
	c.unwatch()
	c.unaccount()
	// After the state: a sender that writes the socket itself (writeThrough)
	// checks it under c.mu, so it never writes a closed descriptor.
	c.sock.Close()
	if c.readState != nil && c.inflater != nil {
		c.inflater.Close()
	}
	c.endContext()
}

// closeSocket cuts the connection so that its reader ends. On an event loop
// the socket is shut down instead of closed: only the loop, once it has
// dropped the socket, may close it, or the descriptor could be reused under it.
func (c *Connection) closeSocket() { c.sock.Shutdown() }

// closeReadAfter makes the reader give up waiting for the client after d.
func (c *Connection) closeReadAfter(d time.Duration) { c.sock.CloseReadAfter(d) }

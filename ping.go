package wsserver

import (
	"strconv"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
)

// Ping sends a ping to the client. With the connection's Timeout > 0 it waits
// up to Timeout seconds for a pong and fails with ErrTimedOut without one;
// with Timeout 0 it returns once the ping is queued. Pongs fire the Ping
// event with Response true. The pong is read by the goroutine that runs the
// connection's events, so a Ping that waits for it must not be called from
// one of this connection's own event handlers (it would time out): call it
// from another goroutine, or use Timeout 0 and watch the Ping event.
func (s *Server) Ping(id int) error {
	c, err := s.Connection(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return newError(ErrNotConnected, "connection %d is closing", c.id)
	}
	timeout := c.timeout
	q := c.queueLocked()
	var wait chan struct{}
	if timeout > 0 {
		if c.pongWait == nil {
			c.pongWait = make(chan struct{})
		}
		wait = c.pongWait
	}
	payload := strconv.AppendInt(nil, time.Now().UnixNano(), 10)
	q.appendFrameLocked(protocol.OpPing, payload)
	if err := q.finishSendUnlock(timeout, q.enqueued, nil); err != nil {
		return err
	}
	if wait == nil {
		return nil
	}
	t := time.NewTimer(time.Duration(timeout) * time.Second)
	defer t.Stop()
	select {
	case <-wait:
		if !c.Connected() {
			return newError(ErrNotConnected, "connection %d closed before the pong", id)
		}
		return nil
	case <-t.C:
		return newError(ErrTimedOut, "no pong from connection %d within %d seconds", id, timeout)
	}
}

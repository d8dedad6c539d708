package wsserver

import (
	"errors"
	"strconv"
	"time"

	"github.com/wsserver/wsserver/internal/bufpool"
	"github.com/wsserver/wsserver/internal/deflate"
	"github.com/wsserver/wsserver/internal/protocol"
)

// Broadcast sends data as one message of format (FormatText or FormatBinary)
// to every open connection, or to the connections ids names. The message is
// framed once, and compressed once for all connections that negotiated
// permessage-deflate without server context takeover (the default); only
// connections that keep a compression context compress it themselves.
//
// Broadcast never blocks: a connection whose queue cannot take the message
// (or that is in the middle of a SendFile or MessageLength message) is
// skipped with ErrWouldBlock and gets ReadyToSend when its queue drains, so a
// slow client never delays the others. It returns how many connections the
// message was queued for, and the errors of the others joined (each an
// *Error naming its connection).
func (s *Server) Broadcast(format DataFormat, data []byte, ids ...int) (int, error) {
	op, err := broadcastOpcode("Broadcast", format, data)
	if err != nil {
		return 0, err
	}
	var targets []*Connection
	if len(ids) == 0 {
		targets = s.Connections()
	} else {
		for _, id := range ids {
			c, err := s.Connection(id)
			if err != nil {
				return 0, err
			}
			targets = append(targets, c)
		}
	}
	return s.broadcast(op, format, data, targets, nil)
}

// broadcastOpcode checks a message to broadcast and returns its frame opcode;
// method names the caller in the error.
func broadcastOpcode(method string, format DataFormat, data []byte) (protocol.Opcode, error) {
	switch format {
	case FormatText:
		if !validText(data) {
			return 0, newError(ErrInvalidValue, "text to broadcast is not valid UTF-8")
		}
		return protocol.OpText, nil
	case FormatBinary, FormatAutomatic:
		return protocol.OpBinary, nil
	}
	return 0, newError(ErrInvalidValue, "%s sends text or binary, not DataFormat %d", method, format)
}

// BroadcastTo is Broadcast to the given connections of s, framed and
// compressed once the same way, and never blocking. A connection that has
// closed since it was looked up is skipped with ErrNotConnected, so a caller
// may keep a list of connections (a topic's subscribers, say) and send to it
// without looking each one up again. It makes no allocation of its own when
// every connection takes the message.
func (s *Server) BroadcastTo(format DataFormat, data []byte, conns []*Connection) (int, error) {
	op, err := s.broadcastTargets("BroadcastTo", format, data, conns)
	if err != nil {
		return 0, err
	}
	return s.broadcast(op, format, data, conns, nil)
}

// broadcastTargets checks the arguments of method (BroadcastTo,
// BroadcastToFunc): a format that can be broadcast, and connections of s.
// It returns the message's opcode.
func (s *Server) broadcastTargets(method string, format DataFormat, data []byte, conns []*Connection) (protocol.Opcode, error) {
	op, err := broadcastOpcode(method, format, data)
	if err != nil {
		return 0, err
	}
	for _, c := range conns {
		if c.srv != s {
			return 0, newError(ErrInvalidConnectionID, "connection %d belongs to another Server", c.id)
		}
	}
	return op, nil
}

// broadcast queues one message for every connection of targets. A
// connection that does not take it goes to refused, or, when refused is
// nil, into the joined error.
func (s *Server) broadcast(op protocol.Opcode, format DataFormat, data []byte, targets []*Connection, refused func(*Connection, error)) (int, error) {
	if len(targets) == 0 {
		return 0, nil
	}
	start := time.Now()
	s.mu.Lock()
	maxFrame, level, compressMin := s.cfg.maxFrameSize, s.cfg.compressionLevel, s.cfg.compressMin
	s.mu.Unlock()

	plain := protocol.AppendMessage(bufpool.Get(frameBytes(len(data), maxFrame)), op, false, data, maxFrame, true, true)
	defer bufpool.Put(plain)
	var zframes []byte // the compressed form, made on first need
	var errs []error
	sent := 0
	for _, c := range targets {
		frames := plain
		switch {
		case c.opts.maxFrameSize != maxFrame:
			// Opened under another MaxFrameSize: frame it for this one.
			frames = nil
		case c.deflater == nil || len(data) < compressMin:
		case c.sharedDeflate:
			if zframes == nil {
				z := deflate.NewCompressor(deflate.Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, level)
				payload := z.Compress(bufpool.Get(len(data)/2+64), data)
				z.Close()
				zframes = protocol.AppendMessage(bufpool.Get(frameBytes(len(payload), maxFrame)), op, true, payload, maxFrame, true, true)
				bufpool.Put(payload)
				defer bufpool.Put(zframes)
			}
			frames = zframes
		default:
			// This connection keeps a compression context: only it can compress.
			frames = nil
		}
		if frames == nil {
			if err := c.sendFormat(format, data, FormatBinary); err != nil {
				errs = refuse(errs, refused, c, err)
			} else {
				sent++
			}
			continue
		}
		if err := c.queueFrames(frames, len(data)); err != nil {
			errs = refuse(errs, refused, c, err)
			continue
		}
		sent++
	}
	s.stats.broadcasts.Add(1)
	s.stats.broadcastRecipients.Add(uint64(sent))
	s.stats.broadcastNanos.Add(uint64(time.Since(start)))
	return sent, errors.Join(errs...)
}

// refuse reports a connection a broadcast could not queue for to refused,
// or adds it to errs when refused is nil.
func refuse(errs []error, refused func(*Connection, error), c *Connection, err error) []error {
	if refused != nil {
		refused(c, err)
		return errs
	}
	return append(errs, connError(c, err))
}

// connError names the connection in an error of a send to many.
func connError(c *Connection, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: "connection " + strconv.Itoa(c.id) + ": " + e.Message, Err: e.Err}
	}
	return err
}

// queueFrames queues the frames of one whole message of n payload bytes
// without blocking.
func (c *Connection) queueFrames(frames []byte, n int) error {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return newError(ErrNotConnected, "connection %d is closing", c.id)
	}
	q := c.queueLocked()
	if !q.streamFreeLocked() || !q.roomLocked(len(frames)) {
		return q.wouldBlockUnlock()
	}
	c.countOutLocked(n, true)
	q.appendFramedLocked(frames)
	q.scheduleFlushLocked()
	c.mu.Unlock()
	return nil
}

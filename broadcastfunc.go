package wsserver

// BroadcastToFunc is BroadcastTo that tells which connections did not take
// the message: it calls refused with each of them and its error
// (ErrWouldBlock for a full queue, ErrNotConnected for one closing...)
// instead of joining the errors, so that a caller that keeps the message
// for a slow client (in an outbox it sends from on ReadyToSend) knows for
// whom. The message is framed and compressed once, as by BroadcastTo;
// refused runs on the caller's goroutine, one connection at a time, with no
// lock of the server held, and may send to the connection or close it. The
// error returned is only that of the arguments (a format that cannot be
// broadcast, a connection of another Server); it returns how many
// connections the message was queued for.
func (s *Server) BroadcastToFunc(format DataFormat, data []byte, conns []*Connection, refused func(c *Connection, err error)) (int, error) {
	if refused == nil {
		return s.BroadcastTo(format, data, conns)
	}
	op, err := s.broadcastTargets("BroadcastToFunc", format, data, conns)
	if err != nil {
		return 0, err
	}
	return s.broadcast(op, format, data, conns, refused)
}

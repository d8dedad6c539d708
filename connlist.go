package wsserver

// AppendConnections appends the open connections to dst, in no particular
// order, and returns the extended slice. Unlike Connections it does not
// sort, and it allocates nothing when dst has room: for code that walks
// every connection often, such as a broadcast that picks its recipients,
// with a slice it reuses. A listed connection may close at any time after;
// sends to it then fail with ErrNotConnected.
func (s *Server) AppendConnections(dst []*Connection) []*Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		dst = append(dst, c)
	}
	return dst
}

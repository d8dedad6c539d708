//go:build !linux

package wsserver

import "testing"

// listenBacklog needs Linux's TCP_INFO for a listening socket.
func listenBacklog(t *testing.T, s *Server) int {
	t.Helper()
	t.Skip("reading a listening socket's backlog needs Linux's TCP_INFO")
	return 0
}

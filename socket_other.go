//go:build !linux

package wsserver

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// Raw sockets (socket_linux.go) serve the Linux event loops. Elsewhere every
// connection has its net.Conn (a streamSock), served by a goroutine.

// rawListener is the listener of raw sockets on Linux; listeners here are
// never one.
type rawListener struct {
	net.Listener
	rc     syscall.RawConn
	closed atomic.Bool
}

// withRawAccept returns ln: raw sockets need Linux.
func withRawAccept(ln net.Listener) net.Listener { return ln }

// acceptRawOnce is never called here: no listener is a rawListener.
func (s *Server) acceptRawOnce(syscall.RawConn) error {
	return errors.ErrUnsupported
}

//go:build !linux

package wsserver

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Raw sockets (socket_linux.go) serve the Linux event loops. Elsewhere every
// connection has its net.Conn, served by a goroutine.

// twinConn is a raw connection's net.Conn on Linux; no connection has one
// here.
type twinConn struct{ nc *net.TCPConn }

// conn returns the connection's socket as a net.Conn.
func (c *Connection) conn() net.Conn { return c.nc }

// setWriteDeadline sets the write deadline of the connection's net.Conn.
func (c *Connection) setWriteDeadline(t time.Time) { c.nc.SetWriteDeadline(t) }

// rawConn returns the connection's syscall.RawConn, nil for TLS.
func (c *Connection) rawConn() syscall.RawConn { return c.raw }

// closeConn closes the connection's socket.
func (c *Connection) closeConn() { c.nc.Close() }

// shutdownSocket ends c's socket so that its reader sees the end of the
// stream; without event loops closing it does that.
func shutdownSocket(c *Connection) { c.nc.Close() }

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

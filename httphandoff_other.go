//go:build !linux

package wsserver

import "net"

// detachConn returns c's socket as a net.Conn for the HTTP hand-off: here
// every connection has one.
func detachConn(c *Connection) (net.Conn, error) { return c.sock.detach() }

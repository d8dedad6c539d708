package wsserver

import (
	"bytes"
	"net"

	"github.com/wsserver/wsserver/internal/handshake"
)

// handOffHTTP is the event loop's form of Server.handOffHTTP: when req is
// not this server's WebSocket, it takes c off the loop and hands it, with
// the head read so far, to the HTTP listener on a goroutine of its own, and
// reports true; the loop must not touch c again.
func (p *poller) handOffHTTP(c *Connection, req *handshake.Request) bool {
	s := c.srv
	l := s.handoffFor(req)
	if l == nil {
		return false
	}
	p.drop(c)
	c.hs.timer.Stop()
	head := bytes.Clone(c.hs.buf)
	c.endHandshake()
	go s.serveHTTPConn(c, l, req, head)
	return true
}

// detachConn returns c's socket as a net.Conn of its own, for the HTTP
// hand-off (sock.detach).
func detachConn(c *Connection) (net.Conn, error) { return c.sock.detach() }

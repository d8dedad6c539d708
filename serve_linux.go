package wsserver

import (
	"strings"
	"syscall"
)

// acceptRawOnce accepts one raw socket from the listener's descriptor and
// starts serving it (see socket_linux.go).
func (s *Server) acceptRawOnce(rc syscall.RawConn) error {
	fd, sa, err := acceptRaw(rc)
	if err != nil {
		return err
	}
	s.acceptFD(fd, sa)
	return nil
}

// acceptFD starts serving a raw socket the listener accepted (see
// socket.go); it becomes a net.Conn when its handshake cannot run on a loop.
func (s *Server) acceptFD(fd int, sa syscall.Sockaddr) {
	if !s.handshakeOnLoop() {
		nc, err := fileConn(fd)
		if err != nil {
			s.fireError(0, socketError(err, ErrSend))
			return
		}
		s.accept(nc)
		return
	}
	s.wg.Add(1)
	c, ok := s.admitFD(fd, sa)
	if !ok {
		s.wg.Done()
		return
	}
	if !handOffHandshake(c) {
		go s.serveRaw(c)
	}
}

// admitFD is admit for a raw socket (see socket.go); sa is the client's address.
func (s *Server) admitFD(fd int, sa syscall.Sockaddr) (*Connection, bool) {
	host, port := sockaddrHost(sa)
	id, cfg, ok := s.admission(host, port, func(resp []byte) {
		if resp != nil {
			syscall.Write(fd, resp) // a fresh socket takes a short response whole
		}
		syscall.Close(fd)
	})
	if !ok {
		return nil, false
	}
	setFDOptions(fd, cfg)
	c := newConnection(s, id, nil, cfg)
	c.rawFD, c.fd = true, fd
	c.remoteHost, c.remotePort = host, port
	if la, err := syscall.Getsockname(fd); err == nil {
		c.localAddr, _ = sockaddrHost(la)
		if i := strings.IndexByte(c.localAddr, '%'); i >= 0 {
			c.localAddr = c.localAddr[:i] // LocalAddress has no zone, as from a net.Conn
		}
	}
	return c, true
}

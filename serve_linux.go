package wsserver

import (
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
// socket_linux.go); it becomes a net.Conn when its handshake cannot run on a
// loop.
func (s *Server) acceptFD(fd int, sa syscall.Sockaddr) {
	if s.handshakeOnLoop() {
		s.accept(newFDSock(fd, nil))
		return
	}
	nc, err := fileConn(fd)
	if err != nil {
		s.fireError(0, socketError(err, ErrSend))
		return
	}
	s.accept(newStreamSock(nc))
}

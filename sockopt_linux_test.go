package wsserver

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sockoptInt reads an integer socket option of a connection's socket.
func sockoptInt(t *testing.T, c *Connection, level, opt int) int {
	t.Helper()
	fd := c.sock.FD()
	if fd < 0 {
		t.Fatalf("connection %d is not on a TCP socket", c.id)
	}
	v, err := syscall.GetsockoptInt(fd, level, opt)
	if err != nil {
		t.Fatalf("getsockopt(%d, %d): %v", level, opt, err)
	}
	return v
}

// listenBacklog returns the backlog of the server's listening socket: for a
// socket in LISTEN state Linux reports sk_max_ack_backlog in TCP_INFO's
// tcpi_sacked.
func listenBacklog(t *testing.T, s *Server) int {
	t.Helper()
	rc := listenerConn(t, s)
	var info *unix.TCPInfo
	var gerr error
	rc.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if gerr != nil {
		t.Skipf("TCP_INFO: %v", gerr)
	}
	return int(info.Sacked)
}

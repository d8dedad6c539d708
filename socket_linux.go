package wsserver

import (
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// With EventLoop on a plaintext listener, connections are accepted as bare
// descriptors (raw sockets): an idle connection then holds no net.Conn, no
// runtime poll descriptor and no address objects, only its Connection. The
// event loops read and write the descriptor directly. Where a raw
// connection must block on its socket (a write the socket cannot take at
// once, a read on a goroutine, a deadline), a net.Conn on a duplicate of the
// descriptor, its twin, is made on first need and kept until the end.

// fdSock is a raw socket: a bare descriptor that an event loop serves. It
// makes its twin, a streamSock on a duplicate descriptor, on first need.
type fdSock struct {
	fd      int
	mu      sync.Mutex // guards closed, twinFailed and the making of twin
	closed  bool       // the descriptor was closed
	failed  bool       // making the twin failed (reported once)
	closing int64      // setCloseDeadline's deadline (Unix ns, 0: none), for a twin made later
	twin    atomic.Pointer[streamSock]
	owner   sockOwner // told when the twin cannot be made
}

// newFDSock returns the sock of the raw socket fd.
func newFDSock(fd int, owner sockOwner) *fdSock { return &fdSock{fd: fd, owner: owner} }

// twinSock returns the twin, making it on first use; nil once the socket is
// closed (or when no descriptor is left to duplicate, which is reported to
// the owner, not under mu: it may close the connection).
func (s *fdSock) twinSock() *streamSock {
	if t := s.twin.Load(); t != nil {
		return t
	}
	t, err := s.makeTwin()
	if err != nil {
		s.owner.sockFailed(err)
	}
	return t
}

// makeTwin makes the twin under mu, so that the descriptor it duplicates
// cannot be closed (and reused) meanwhile.
func (s *fdSock) makeTwin() (*streamSock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.twin.Load(); t != nil || s.closed || s.failed {
		return t, nil
	}
	nc, err := newTwin(s.fd)
	if err != nil {
		s.failed = true // reported once; the connection then fails its waits
		return nil, err
	}
	t := newStreamSock(nc)
	if s.closing != 0 {
		nc.SetWriteDeadline(time.Unix(0, s.closing))
	}
	s.twin.Store(t)
	return t, nil
}

func (s *fdSock) readChunk(target []byte, large bool) ([]byte, error) {
	if t := s.twinSock(); t != nil {
		return t.readChunk(target, large)
	}
	return nil, net.ErrClosed
}

func (s *fdSock) releaseChunk() {
	if t := s.twin.Load(); t != nil {
		t.releaseChunk()
	}
}

func (s *fdSock) canTryWrite() bool { return true }

// tryWritev writes under mu, so the descriptor cannot be closed (and reused)
// under the write.
func (s *fdSock) tryWritev(vecs [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	n, err := unix.Writev(s.fd, vecs)
	return tryResult("writev", n, err)
}

func (s *fdSock) tryWrite(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	n, err := syscall.Write(s.fd, b)
	return tryResult("write", n, err)
}

// write writes without blocking first, which is all most writes need; only
// a socket that is full waits, through its twin.
func (s *fdSock) write(b []byte, deadline time.Time) (int, error) {
	n, err := s.tryWrite(b)
	if n == len(b) || err != nil {
		return n, err
	}
	t := s.twinSock()
	if t == nil {
		return n, net.ErrClosed
	}
	m, err := t.write(b[n:], deadline)
	return n + m, err
}

// writeTimed writes without blocking first; only a socket that is full
// waits, through its twin.
func (s *fdSock) writeTimed(b []byte, timeout time.Duration, stop func() bool, progress func()) (int, error) {
	n, err := s.tryWrite(b)
	if n == len(b) || err != nil {
		return n, err
	}
	if n > 0 {
		progress()
	}
	t := s.twinSock()
	if t == nil {
		return n, net.ErrClosed
	}
	m, err := t.writeTimed(b[n:], timeout, stop, progress)
	return n + m, err
}

func (s *fdSock) setReadDeadline(d time.Time) {
	if t := s.twinSock(); t != nil {
		t.setReadDeadline(d)
	}
}

// setWriteDeadline sets the deadline of the twin, without making one:
// without a twin, no write is blocked that the deadline could concern.
func (s *fdSock) setWriteDeadline(d time.Time) {
	if t := s.twin.Load(); t != nil {
		t.setWriteDeadline(d)
	}
}

func (s *fdSock) setCloseDeadline(d time.Time) {
	s.mu.Lock()
	s.closing = d.UnixNano()
	s.mu.Unlock()
	s.setWriteDeadline(d)
}

func (s *fdSock) interrupt() { s.setWriteDeadline(time.Now()) }

func (s *fdSock) survivesDeadline() bool { return true }

// setReading turns the reading of a reader goroutine (on the twin) on or off.
// Without a twin, no reader goroutine reads it yet. (It never makes the
// twin: the caller may hold Connection.mu, and a failure would be reported.)
func (s *fdSock) setReading(on bool) {
	if t := s.twin.Load(); t != nil {
		t.setReading(on)
	}
}

func (s *fdSock) waitReading() {
	if t := s.twin.Load(); t != nil {
		t.waitReading()
	}
}

func (s *fdSock) paused() bool {
	t := s.twin.Load()
	return t != nil && t.paused()
}

func (s *fdSock) closeWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		syscall.Shutdown(s.fd, syscall.SHUT_WR)
	}
}

// shutdown shuts both directions of the socket: its reader, a loop or a
// goroutine, then sees the end of the stream and ends the connection. The
// descriptor stays open (and cannot be reused under a reader) until close.
func (s *fdSock) shutdown() {
	if t := s.twin.Load(); t != nil {
		t.setReading(true) // a paused reader goroutine goes on to see the end
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		syscall.Shutdown(s.fd, syscall.SHUT_RDWR)
	}
}

// close closes the socket and its twin, once; only the connection's last
// owner calls it, after any event loop dropped it.
func (s *fdSock) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if t := s.twin.Load(); t != nil {
		t.close()
	}
	syscall.Close(s.fd)
}

func (s *fdSock) refuse(resp []byte) {
	if resp != nil {
		syscall.Write(s.fd, resp) // a fresh socket takes a short response whole
	}
	s.close()
}

func (s *fdSock) remoteAddr() netip.AddrPort {
	sa, err := syscall.Getpeername(s.fd)
	if err != nil {
		return netip.AddrPort{}
	}
	return sockaddrAddrPort(sa)
}

func (s *fdSock) localAddr() netip.Addr {
	sa, err := syscall.Getsockname(s.fd)
	if err != nil {
		return netip.Addr{}
	}
	return sockaddrAddrPort(sa).Addr().WithZone("") // LocalAddress has no zone, as from a net.Conn
}

func (s *fdSock) setOptions(o sockOptions) { setFDOptions(s.fd, o) }
func (s *fdSock) loopFD() int              { return s.fd }
func (s *fdSock) setOwner(o sockOwner)     { s.owner = o }

func (s *fdSock) netConn() net.Conn {
	if t := s.twinSock(); t != nil {
		return t.nc
	}
	return nil
}

func (s *fdSock) tlsConn() *tls.Conn { return nil }

// detach duplicates the descriptor into a net.Conn and closes the sock's
// own (and its twin); the socket stays open through the duplicate.
func (s *fdSock) detach() (net.Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	dup, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	s.mu.Unlock()
	s.close()
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	return fileConn(dup)
}

// newTwin makes a net.Conn on a duplicate of socket fd. net.FileConn sets
// TCP_NODELAY and net's keep-alive defaults on the socket, which the two
// descriptors share: the socket's own settings are put back.
func newTwin(fd int) (*net.TCPConn, error) {
	saved := saveSockopts(fd)
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(dup), "wsserver-conn")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	saved.restore(fd)
	return nc.(*net.TCPConn), nil
}

// sockopt is a socket option setFDOptions sets.
type sockopt struct{ level, opt int }

var savedSockopts = [...]sockopt{
	{syscall.IPPROTO_TCP, syscall.TCP_NODELAY},
	{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
	{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
	{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL},
	{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT},
}

// sockopts holds the values of savedSockopts on a socket (-1: unreadable).
type sockopts [len(savedSockopts)]int

func saveSockopts(fd int) sockopts {
	var v sockopts
	for i, o := range savedSockopts {
		if v[i], _ = syscall.GetsockoptInt(fd, o.level, o.opt); v[i] < 0 {
			v[i] = -1
		}
	}
	return v
}

func (v sockopts) restore(fd int) {
	for i, o := range savedSockopts {
		if v[i] >= 0 {
			syscall.SetsockoptInt(fd, o.level, o.opt, v[i])
		}
	}
}

// rawListener is a TCP listener that can also accept raw sockets. A
// listener's own RawConn cannot wait for readability, so file, a duplicate
// of its descriptor, is what waits (in Go's network poller) and accepts.
type rawListener struct {
	net.Listener
	file   *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// withRawAccept returns ln as a rawListener, or ln itself when it is not a
// TCP listener or its descriptor cannot be duplicated.
func withRawAccept(ln net.Listener) net.Listener {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return ln
	}
	sc, err := tl.SyscallConn()
	if err != nil {
		return ln
	}
	dup := -1
	sc.Control(func(fd uintptr) { dup, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) })
	if err != nil || dup < 0 {
		return ln
	}
	f := os.NewFile(uintptr(dup), "wsserver-listener") // non-blocking: Go's poller waits on it
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return ln
	}
	return &rawListener{Listener: ln, file: f, rc: rc}
}

// Close closes the listener and its duplicate; a waiting accept returns.
func (l *rawListener) Close() error {
	l.closed.Store(true)
	l.file.Close()
	return l.Listener.Close()
}

// acceptRaw accepts one connection from the listener's descriptor, waiting
// for it in Go's network poller, as a non-blocking descriptor of its own.
func acceptRaw(rc syscall.RawConn) (int, syscall.Sockaddr, error) {
	fd := -1
	var sa syscall.Sockaddr
	var aerr error
	err := rc.Read(func(lfd uintptr) bool {
		for {
			fd, sa, aerr = syscall.Accept4(int(lfd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			if aerr != syscall.EINTR && aerr != syscall.ECONNABORTED {
				return aerr != syscall.EAGAIN
			}
		}
	})
	if err != nil {
		return -1, nil, err
	}
	if aerr != nil {
		return -1, nil, os.NewSyscallError("accept4", aerr)
	}
	return fd, sa, nil
}

// fileConn turns a raw descriptor into a net.Conn that owns it.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "wsserver-conn")
	nc, err := net.FileConn(f) // a duplicate; f's descriptor closes below
	f.Close()
	return nc, err
}

// sockaddrAddrPort returns the address and port of a socket address, as
// net gives them (an IPv4-mapped IPv6 address as IPv4, a zone by name).
func sockaddrAddrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.ZoneId != 0 && a.Is6() {
			zone := strconv.Itoa(int(sa.ZoneId))
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
			a = a.WithZone(zone)
		}
		return netip.AddrPortFrom(a, uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// setFDOptions applies TcpNoDelay, the keep-alive settings (with net's
// defaults for accepted connections: probes after 15 s idle, every 15 s, 9
// of them) and the buffer sizes to a raw socket, as setSocketOptions does
// to a net.Conn.
func setFDOptions(fd int, o sockOptions) {
	nodelay := 0
	if o.noDelay {
		nodelay = 1
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, nodelay)
	idle, interval := 15, 15
	if o.keepAliveIdle > 0 {
		idle = int((o.keepAliveIdle + time.Second - 1) / time.Second)
	}
	if o.keepAliveInterval > 0 {
		interval = int((o.keepAliveInterval + time.Second - 1) / time.Second)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, idle)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, interval)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9)
	if o.readBuffer > 0 {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.readBuffer)
	}
	if o.writeBuffer > 0 {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, o.writeBuffer)
	}
}

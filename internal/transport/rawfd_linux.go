package transport

import (
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// With EventLoop on a plaintext listener, connections are accepted as bare
// descriptors (raw sockets): an idle connection then holds no net.Conn, no
// runtime poll descriptor and no address objects. The event loops read and
// write the descriptor directly. Where a raw connection must block on its
// socket (a write the socket cannot take at once, a read on a goroutine, a
// deadline), a net.Conn on a duplicate of the descriptor, its twin, is made
// on first need and kept until the end.

// fdConn is a raw socket: 64 bytes, the whole cost of an idle one in
// this package (with its entry in the Engine's table).
type fdConn struct {
	reading                            // fd is the socket; mu also guards flagClosed, flagFailed and the making of twin
	twin    atomic.Pointer[streamConn] // made on first need
	closing int64                      // SetCloseDeadline's deadline (Unix ns, 0: none), for a twin made later
}

// NewFD returns the Conn of the raw socket fd, which it owns.
func NewFD(fd int) Conn {
	s := &fdConn{}
	s.fd = int32(fd)
	return s
}

func (s *fdConn) Bind(h Handler) { s.h = h }

// twinConn returns the twin, making it on first use; nil once the socket is
// closed (or when no descriptor is left to duplicate, which is reported to
// the handler, not under mu: it may close the connection).
func (s *fdConn) twinConn() *streamConn {
	if t := s.twin.Load(); t != nil {
		return t
	}
	t, err := s.makeTwin()
	if err != nil && s.h != nil {
		s.h.Failed(err)
	}
	return t
}

// makeTwin makes the twin under mu, so that the descriptor it duplicates
// cannot be closed (and reused) meanwhile.
func (s *fdConn) makeTwin() (*streamConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.twin.Load(); t != nil || s.is(flagClosed|flagFailed) {
		return t, nil
	}
	nc, err := newTwin(int(s.fd))
	if err != nil {
		s.mark(flagFailed, true) // reported once; the connection then fails its waits
		return nil, err
	}
	t := NewStream(nc).(*streamConn)
	if s.closing != 0 {
		nc.SetWriteDeadline(time.Unix(0, s.closing))
	}
	s.twin.Store(t)
	return t, nil
}

func (s *fdConn) ReadChunk(target []byte, large bool) ([]byte, error) {
	if t := s.twinConn(); t != nil {
		return t.ReadChunk(target, large)
	}
	return nil, net.ErrClosed
}

func (s *fdConn) ReleaseChunk() {
	if t := s.twin.Load(); t != nil {
		t.ReleaseChunk()
	}
}

func (s *fdConn) CanTryWrite() bool { return true }

// TryWritev writes under mu, so the descriptor cannot be closed (and
// reused) under the write.
func (s *fdConn) TryWritev(vecs [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.is(flagClosed) {
		return 0, net.ErrClosed
	}
	n, err := unix.Writev(int(s.fd), vecs)
	return tryResult("writev", n, err)
}

func (s *fdConn) TryWrite(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.is(flagClosed) {
		return 0, net.ErrClosed
	}
	n, err := syscall.Write(int(s.fd), b)
	return tryResult("write", n, err)
}

// Write writes without blocking first, which is all most writes need; only
// a socket that is full waits, through its twin.
func (s *fdConn) Write(b []byte, deadline time.Time) (int, error) {
	n, err := s.TryWrite(b)
	if n == len(b) || err != nil {
		return n, err
	}
	t := s.twinConn()
	if t == nil {
		return n, net.ErrClosed
	}
	m, err := t.Write(b[n:], deadline)
	return n + m, err
}

// WriteTimed writes without blocking first; only a socket that is full
// waits, through its twin.
func (s *fdConn) WriteTimed(b []byte, timeout time.Duration, stop func() bool, progress func()) (int, error) {
	n, err := s.TryWrite(b)
	if n == len(b) || err != nil {
		return n, err
	}
	if n > 0 {
		progress()
	}
	t := s.twinConn()
	if t == nil {
		return n, net.ErrClosed
	}
	m, err := t.WriteTimed(b[n:], timeout, stop, progress)
	return n + m, err
}

// SetWriteDeadline sets the deadline of the twin, without making one:
// without a twin, no write is blocked that the deadline could concern.
func (s *fdConn) SetWriteDeadline(d time.Time) {
	if t := s.twin.Load(); t != nil {
		t.SetWriteDeadline(d)
	}
}

func (s *fdConn) SetCloseDeadline(d time.Time) {
	s.mu.Lock()
	s.closing = d.UnixNano()
	s.mu.Unlock()
	s.SetWriteDeadline(d)
}

func (s *fdConn) Interrupt()             { s.SetWriteDeadline(time.Now()) }
func (s *fdConn) SurvivesDeadline() bool { return true }

func (s *fdConn) SetReadDeadline(d time.Time) {
	if t := s.twinConn(); t != nil {
		t.SetReadDeadline(d)
	}
}

func (s *fdConn) CloseReadAfter(d time.Duration) {
	if s.looped() {
		time.AfterFunc(d, s.Shutdown)
		return
	}
	s.SetReadDeadline(time.Now().Add(d))
}

func (s *fdConn) SetReading(on bool) { s.setReading(on) }
func (s *fdConn) WaitReading()       { s.waitReading() }
func (s *fdConn) Paused() bool       { return s.paused() }
func (s *fdConn) Looped() bool       { return s.looped() }

func (s *fdConn) CloseWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.is(flagClosed) {
		syscall.Shutdown(int(s.fd), syscall.SHUT_WR)
	}
}

// Shutdown shuts both directions of the socket: its reader, a loop or a
// goroutine, then sees the end of the stream. The descriptor stays open
// (and cannot be reused under a reader) until Close.
func (s *fdConn) Shutdown() {
	s.shutDown()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.is(flagClosed) {
		syscall.Shutdown(int(s.fd), syscall.SHUT_RDWR)
	}
}

// Close closes the socket and its twin, once.
func (s *fdConn) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.is(flagClosed) {
		return
	}
	s.mark(flagClosed, true)
	if t := s.twin.Load(); t != nil {
		t.Close()
	}
	syscall.Close(int(s.fd))
}

func (s *fdConn) Refuse(resp []byte) {
	if resp != nil {
		syscall.Write(int(s.fd), resp) // a fresh socket takes a short response whole
	}
	s.Close()
}

func (s *fdConn) RemoteAddr() netip.AddrPort {
	sa, err := syscall.Getpeername(int(s.fd))
	if err != nil {
		return netip.AddrPort{}
	}
	return sockaddrAddrPort(sa)
}

func (s *fdConn) LocalAddr() netip.Addr {
	sa, err := syscall.Getsockname(int(s.fd))
	if err != nil {
		return netip.Addr{}
	}
	return sockaddrAddrPort(sa).Addr().WithZone("") // as from a net.Conn
}

func (s *fdConn) SetOptions(o Options) { setFDOptions(int(s.fd), o) }
func (s *fdConn) FD() int              { return int(s.fd) }
func (s *fdConn) TLS() *tls.Conn       { return nil }

func (s *fdConn) NetConn() net.Conn {
	if t := s.twinConn(); t != nil {
		return t.nc
	}
	return nil
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
// of them) and the buffer sizes to a raw socket, as streamConn.SetOptions
// does to a net.Conn.
func setFDOptions(fd int, o Options) {
	nodelay := 0
	if o.NoDelay {
		nodelay = 1
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, nodelay)
	idle, interval := 15, 15
	if o.KeepAliveIdle > 0 {
		idle = int((o.KeepAliveIdle + time.Second - 1) / time.Second)
	}
	if o.KeepAliveInterval > 0 {
		interval = int((o.KeepAliveInterval + time.Second - 1) / time.Second)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, idle)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, interval)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9)
	if o.ReadBuffer > 0 {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.ReadBuffer)
	}
	if o.WriteBuffer > 0 {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, o.WriteBuffer)
	}
}

// Raw reports whether c is a raw socket and whether it made its twin (a
// net.Conn on a duplicate descriptor, for waits off the loop): for tests
// and diagnostics.
func Raw(c Conn) (raw, twin bool) {
	f, ok := c.(*fdConn)
	return ok, ok && f.twin.Load() != nil
}

// Detach duplicates the descriptor into a net.Conn and closes the Conn's
// own (and its twin); the socket stays open through the duplicate.
func (s *fdConn) Detach() (net.Conn, error) {
	s.mu.Lock()
	if s.is(flagClosed) {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	dup, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	s.mu.Unlock()
	s.Close()
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(dup), "wsserver-conn")
	nc, err := net.FileConn(f) // a duplicate; f's descriptor closes below
	f.Close()
	return nc, err
}

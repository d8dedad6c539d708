package wsserver

import (
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
// runtime poll descriptor and no address objects, only its Connection. The
// event loops read and write the descriptor directly. Where a raw
// connection must block on its socket (a write the socket cannot take at
// once, a read on a goroutine, a deadline), a net.Conn on a duplicate of the
// descriptor, its twin, is made on first need and kept until the end.

// twinConn is the net.Conn of a raw connection, on a duplicate descriptor.
type twinConn struct {
	nc *net.TCPConn
	rc syscall.RawConn
}

// conn returns the connection's socket as a net.Conn.
func (c *Connection) conn() net.Conn {
	if !c.rawFD {
		return c.nc
	}
	if t := c.twinConn(); t != nil {
		return t.nc
	}
	return closedConn{}
}

// setWriteDeadline sets the write deadline of the connection's net.Conn,
// without making a raw socket's twin: without one, no write is blocked that
// the deadline could concern. Safe with c.mu held.
func (c *Connection) setWriteDeadline(t time.Time) {
	if !c.rawFD {
		c.nc.SetWriteDeadline(t)
	} else if tw := c.twin.Load(); tw != nil {
		tw.nc.SetWriteDeadline(t)
	}
}

// rawConn returns the connection's syscall.RawConn, nil for TLS.
func (c *Connection) rawConn() syscall.RawConn {
	if !c.rawFD {
		return c.raw
	}
	if t := c.twinConn(); t != nil {
		return t.rc
	}
	return nil
}

// twinConn returns the twin of a raw connection, making it on first use; nil
// once the socket is closed (or when no descriptor is left to duplicate,
// which is reported as an Error event).
func (c *Connection) twinConn() *twinConn {
	if t := c.twin.Load(); t != nil {
		return t
	}
	t, err := c.makeTwin()
	if err != nil {
		c.srv.fireError(c.id, socketError(err, ErrSend)) // not under fdmu: the handler may close c
	}
	return t
}

// makeTwin makes the twin under fdmu, so that the descriptor it duplicates
// cannot be closed (and reused) meanwhile.
func (c *Connection) makeTwin() (*twinConn, error) {
	c.fdmu.Lock()
	defer c.fdmu.Unlock()
	if t := c.twin.Load(); t != nil || c.fdClosed || c.twinFailed {
		return t, nil
	}
	t, err := newTwin(c.fd)
	if err != nil {
		c.twinFailed = true // reported once; the connection then fails its waits
		return nil, err
	}
	c.twin.Store(t)
	return t, nil
}

// newTwin makes a net.Conn on a duplicate of socket fd. net.FileConn sets
// TCP_NODELAY and net's keep-alive defaults on the socket, which the two
// descriptors share: the socket's own settings are put back.
func newTwin(fd int) (*twinConn, error) {
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
	tc := nc.(*net.TCPConn)
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return nil, err
	}
	return &twinConn{nc: tc, rc: rc}, nil
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

// closeConn closes the connection's socket, once; only the connection's
// last owner calls it (finish or abandon), after any event loop dropped it.
func (c *Connection) closeConn() {
	if !c.rawFD {
		c.nc.Close()
		return
	}
	c.fdmu.Lock()
	defer c.fdmu.Unlock()
	if c.fdClosed {
		return
	}
	c.fdClosed = true
	if t := c.twin.Load(); t != nil {
		t.nc.Close()
	}
	syscall.Close(c.fd)
}

// shutdownSocket shuts both directions of c's socket: its reader, a loop or
// a goroutine, then sees the end of the stream and ends the connection. The
// descriptor stays open (and cannot be reused under a reader) until closeConn.
func shutdownSocket(c *Connection) {
	if !c.rawFD {
		// On an event loop: a plain TCP socket, whose RawConn handOff used.
		c.raw.Control(func(fd uintptr) { syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
		return
	}
	c.fdmu.Lock()
	defer c.fdmu.Unlock()
	if !c.fdClosed {
		syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	}
}

// closedConn is the net.Conn of a raw connection whose socket is closed.
type closedConn struct{}

func (closedConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (closedConn) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (closedConn) Close() error                     { return nil }
func (closedConn) LocalAddr() net.Addr              { return nil }
func (closedConn) RemoteAddr() net.Addr             { return nil }
func (closedConn) SetDeadline(time.Time) error      { return net.ErrClosed }
func (closedConn) SetReadDeadline(time.Time) error  { return net.ErrClosed }
func (closedConn) SetWriteDeadline(time.Time) error { return net.ErrClosed }

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

// sockaddrHost returns the host and port of a socket address, written as
// net writes them (an IPv4-mapped IPv6 address as IPv4, a zone by name).
func sockaddrHost(sa syscall.Sockaddr) (string, int) {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr).String(), sa.Port
	case *syscall.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.ZoneId != 0 && a.Is6() {
			zone := strconv.Itoa(int(sa.ZoneId))
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
			a = a.WithZone(zone)
		}
		return a.String(), sa.Port
	}
	return "", 0
}

// setFDOptions applies TcpNoDelay, the keep-alive settings (with net's
// defaults for accepted connections: probes after 15 s idle, every 15 s, 9
// of them) and the buffer sizes to a raw socket, as setSocketOptions does
// to a net.Conn.
func setFDOptions(fd int, cfg *settings) {
	nodelay := 0
	if cfg.tcpNoDelay {
		nodelay = 1
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, nodelay)
	idle, interval := 15, 15
	if cfg.keepAliveTime > 0 {
		idle = (cfg.keepAliveTime + 999) / 1000
	}
	if cfg.keepAliveInterval > 0 {
		interval = (cfg.keepAliveInterval + 999) / 1000
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, idle)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, interval)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9)
	if cfg.inBufferSize > 0 {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, cfg.inBufferSize)
	}
	if cfg.outBufferSize > 0 {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, cfg.outBufferSize)
	}
}

package transport

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenOptions are the settings of a listening socket.
type ListenOptions struct {
	Backlog         int
	BindExclusively bool // false: SO_REUSEPORT, several listeners share the port
	UseIPv6         int  // 0: IPv4 only, 1: IPv6 only, 2: both
	ReadBuffer      int  // SO_RCVBUF, 0: the system's
	WriteBuffer     int  // SO_SNDBUF
}

// Listen opens a TCP listening socket on addr:port by hand, so that the
// backlog, SO_REUSEPORT, IPV6_V6ONLY and the buffer sizes reach the kernel
// as set. Its errors are *os.SyscallError values; an IPv6 address with
// UseIPv6 2 where IPv6 is not available falls back to IPv4.
func Listen(addr netip.Addr, port int, o ListenOptions) (net.Listener, error) {
	family := syscall.AF_INET
	if addr.Is6() {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil && family == syscall.AF_INET6 && o.UseIPv6 == 2 {
		addr, family = netip.IPv4Unspecified(), syscall.AF_INET
		fd, err = syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	}
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (net.Listener, error) {
		syscall.Close(fd)
		return nil, os.NewSyscallError(op, err)
	}
	// SO_REUSEADDR lets a restarted server bind over connections in TIME_WAIT;
	// on Linux it never lets two listeners share a port. SO_REUSEPORT does,
	// and is what BindExclusively=false asks for.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if !o.BindExclusively {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if family == syscall.AF_INET6 {
		v6only := 0
		if o.UseIPv6 == 1 {
			v6only = 1
		}
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only); err != nil {
			return fail("setsockopt", err)
		}
	}
	if o.ReadBuffer > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.ReadBuffer); err != nil {
			return fail("setsockopt", err)
		}
	}
	if o.WriteBuffer > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, o.WriteBuffer); err != nil {
			return fail("setsockopt", err)
		}
	}
	var sa syscall.Sockaddr
	if family == syscall.AF_INET {
		sa = &syscall.SockaddrInet4{Port: port, Addr: addr.As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: port, Addr: addr.As16()}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := syscall.Listen(fd, o.Backlog); err != nil {
		return fail("listen", err)
	}
	f := os.NewFile(uintptr(fd), "wsserver-listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return ln, nil
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

// RawAccept returns ln as a listener that Accept can take raw sockets
// from, or ln itself when it is not a TCP listener or its descriptor
// cannot be duplicated.
func RawAccept(ln net.Listener) net.Listener {
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

// SyscallConn returns the RawConn of the listening socket (not of its
// duplicate), as a *net.TCPListener's.
func (l *rawListener) SyscallConn() (syscall.RawConn, error) {
	return l.Listener.(*net.TCPListener).SyscallConn()
}

// Close closes the listener and its duplicate; a waiting accept returns.
func (l *rawListener) Close() error {
	l.closed.Store(true)
	l.file.Close()
	return l.Listener.Close()
}

// accept accepts one connection from ln: a raw socket when raw is set and
// ln came from RawAccept, else a stream. It fails with net.ErrClosed once
// ln is closed.
func accept(ln net.Listener, raw bool) (Conn, error) {
	rl, ok := ln.(*rawListener)
	if !ok || !raw {
		nc, err := ln.Accept()
		if err != nil {
			if ok && rl.closed.Load() {
				return nil, net.ErrClosed
			}
			return nil, err
		}
		return NewStream(nc), nil
	}
	fd, err := AcceptFD(ln)
	if err != nil {
		return nil, err
	}
	return NewFD(fd), nil
}

// AcceptFD accepts one connection from ln, which came from RawAccept, as a
// non-blocking descriptor of its own, waiting for it in Go's network poller.
func AcceptFD(ln net.Listener) (int, error) {
	rl, ok := ln.(*rawListener)
	if !ok {
		return -1, errors.ErrUnsupported
	}
	fd := -1
	var aerr error
	err := rl.rc.Read(func(lfd uintptr) bool {
		for {
			fd, _, aerr = syscall.Accept4(int(lfd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			if aerr != syscall.EINTR && aerr != syscall.ECONNABORTED {
				return aerr != syscall.EAGAIN
			}
		}
	})
	if err != nil || rl.closed.Load() {
		if rl.closed.Load() {
			return -1, net.ErrClosed
		}
		return -1, err
	}
	if aerr != nil {
		return -1, os.NewSyscallError("accept4", aerr)
	}
	return fd, nil
}

// CanAcceptRaw reports whether ln came from RawAccept.
func CanAcceptRaw(ln net.Listener) bool {
	_, ok := ln.(*rawListener)
	return ok
}

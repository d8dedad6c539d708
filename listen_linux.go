package wsserver

import (
	"net"
	"net/netip"
	"os"
	"syscall"
)

// listen opens the listening socket by hand, so that ConnectionBacklog,
// BindExclusively, UseIPv6 and the buffer sizes reach the kernel as set.
func listen(host string, port, backlog int, cfg *settings) (net.Listener, error) {
	addr, family, err := listenAddr(host, cfg.useIPv6)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil && family == syscall.AF_INET6 && cfg.useIPv6 == 2 {
		// UseIPv6=2 falls back to IPv4 where IPv6 is not available.
		addr, family = netip.IPv4Unspecified(), syscall.AF_INET
		fd, err = syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	}
	if err != nil {
		return nil, socketError(os.NewSyscallError("socket", err), ErrSend)
	}
	fail := func(op string, err error) (net.Listener, error) {
		syscall.Close(fd)
		return nil, socketError(os.NewSyscallError(op, err), ErrSend)
	}
	// SO_REUSEADDR lets a restarted server bind over connections in TIME_WAIT;
	// on Linux it never lets two listeners share a port. SO_REUSEPORT does,
	// and is what BindExclusively=false asks for.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if !cfg.bindExclusively {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if family == syscall.AF_INET6 {
		v6only := 0
		if cfg.useIPv6 == 1 {
			v6only = 1
		}
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only); err != nil {
			return fail("setsockopt", err)
		}
	}
	if cfg.inBufferSize > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, cfg.inBufferSize); err != nil {
			return fail("setsockopt", err)
		}
	}
	if cfg.outBufferSize > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, cfg.outBufferSize); err != nil {
			return fail("setsockopt", err)
		}
	}
	var sa syscall.Sockaddr
	if family == syscall.AF_INET {
		sa = &syscall.SockaddrInet4{Port: port, Addr: addr.As4()}
	} else {
		a6 := &syscall.SockaddrInet6{Port: port, Addr: addr.As16()}
		sa = a6
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	f := os.NewFile(uintptr(fd), "wsserver-listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, socketError(err, ErrSend)
	}
	return ln, nil
}

// soReusePort is SO_REUSEPORT on Linux.
const soReusePort = 0xf

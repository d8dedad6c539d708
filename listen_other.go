//go:build !linux

package wsserver

import (
	"net"
	"net/netip"
	"runtime"
	"syscall"
)

// listen opens the listening socket with the net package: on this system
// ConnectionBacklog is the system's default (net uses the kernel's
// maximum), and the buffer sizes are applied to each accepted connection
// (setSocketOptions). BindExclusively=False (SO_REUSEPORT) is Linux only.
func listen(host string, port, backlog int, cfg *settings) (net.Listener, error) {
	if !cfg.bindExclusively {
		return nil, newError(ErrNotSupported, "BindExclusively=False (SO_REUSEPORT) is implemented on Linux only, not on %s", runtime.GOOS)
	}
	addr, family, err := listenAddr(host, cfg.useIPv6)
	if err != nil {
		return nil, err
	}
	network := "tcp4"
	switch {
	case family == syscall.AF_INET6 && cfg.useIPv6 == 2:
		network = "tcp" // both families where the system allows it
	case family == syscall.AF_INET6:
		network = "tcp6"
	}
	ln, err := net.Listen(network, netip.AddrPortFrom(addr, uint16(port)).String())
	if err != nil {
		return nil, socketError(err, ErrSend)
	}
	return ln, nil
}

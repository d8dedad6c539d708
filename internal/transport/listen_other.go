//go:build !linux

package transport

import (
	"errors"
	"net"
	"net/netip"
)

// ListenOptions are the settings of a listening socket.
type ListenOptions struct {
	Backlog         int
	BindExclusively bool // false: SO_REUSEPORT, Linux only
	UseIPv6         int  // 0: IPv4 only, 1: IPv6 only, 2: both
	ReadBuffer      int
	WriteBuffer     int
}

// Listen opens a TCP listening socket on addr:port with the net package:
// on this system the backlog is the system's default (net uses the
// kernel's maximum), and the buffer sizes are applied to each accepted
// connection. BindExclusively=false fails with errors.ErrUnsupported.
func Listen(addr netip.Addr, port int, o ListenOptions) (net.Listener, error) {
	if !o.BindExclusively {
		return nil, errors.ErrUnsupported
	}
	network := "tcp4"
	switch {
	case addr.Is6() && o.UseIPv6 == 2:
		network = "tcp" // both families where the system allows it
	case addr.Is6():
		network = "tcp6"
	}
	return net.Listen(network, netip.AddrPortFrom(addr, uint16(port)).String())
}

// RawAccept returns ln: raw sockets need Linux.
func RawAccept(ln net.Listener) net.Listener { return ln }

// accept accepts one connection from ln, as a stream.
func accept(ln net.Listener, raw bool) (Conn, error) {
	nc, err := ln.Accept()
	if err != nil {
		return nil, err
	}
	return NewStream(nc), nil
}

// CanAcceptRaw reports false: raw sockets need Linux.
func CanAcceptRaw(net.Listener) bool { return false }

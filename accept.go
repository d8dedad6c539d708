package wsserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/wsserver/wsserver/internal/transport"
)

// Listen opens the listening socket StartListening would open, on
// LocalHost:LocalPort with ConnectionBacklog and the BindExclusively,
// UseIPv6, InBufferSize and OutBufferSize settings, and returns it without
// accepting on it. It is for serving the Server through net/http: pass the
// listener to http.Server.Serve with a handler that hands upgrade requests to
// ServeHTTP, and the settings still reach the socket. The caller owns the
// listener: Listening stays false and StopListening does not close it. It
// fails like StartListening, with 10048 when the port is in use.
func (s *Server) Listen() (net.Listener, error) {
	s.mu.Lock()
	cfg := s.cfg
	host, port, backlog := s.localHost, s.localPort, s.backlog
	s.mu.Unlock()
	return listen(host, port, backlog, &cfg)
}

// useIPv6Hint says, per UseIPv6 value, which value would fit another family.
var useIPv6Hint = [...]string{
	0: "UseIPv6=0 is IPv4 only: set UseIPv6=1 for IPv6, 2 for both",
	1: "UseIPv6=1 is IPv6 only: set UseIPv6=0 for IPv4, 2 for both",
	2: "UseIPv6=2 takes either family",
}

// listen opens the listening socket (transport.Listen), so that
// ConnectionBacklog, BindExclusively, UseIPv6 and the buffer sizes reach
// the kernel as set where the system allows it.
func listen(host string, port, backlog int, cfg *settings) (net.Listener, error) {
	addr, err := listenAddr(host, cfg.useIPv6)
	if err != nil {
		return nil, err
	}
	ln, err := transport.Listen(addr, port, transport.ListenOptions{
		Backlog:         backlog,
		BindExclusively: cfg.bindExclusively,
		UseIPv6:         cfg.useIPv6,
		ReadBuffer:      cfg.inBufferSize,
		WriteBuffer:     cfg.outBufferSize,
	})
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, newError(ErrNotSupported, "BindExclusively=False (SO_REUSEPORT) is implemented on Linux only, not on %s", runtime.GOOS)
	}
	if err != nil {
		return nil, socketError(err, ErrSend)
	}
	return ln, nil
}

// listenAddr resolves LocalHost for the address family UseIPv6 selects.
func listenAddr(host string, useIPv6 int) (netip.Addr, error) {
	if host == "" {
		if useIPv6 == 0 {
			return netip.IPv4Unspecified(), nil
		}
		return netip.IPv6Unspecified(), nil
	}
	var ips []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{a.Unmap()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err != nil {
			return netip.Addr{}, &Error{Code: 11001, Message: socketMessages[11001], Err: err}
		}
		ips = found
	}
	for _, a := range ips {
		a = a.Unmap()
		switch {
		case a.Is4() && useIPv6 != 1:
			return a, nil
		case a.Is6() && useIPv6 != 0:
			return a, nil
		}
	}
	return netip.Addr{}, &Error{Code: 10047, Message: socketMessages[10047],
		Err: errors.New("LocalHost " + host + " has no address of the family UseIPv6 selects (" + useIPv6Hint[useIPv6] + ")")}
}

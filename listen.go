package wsserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
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

// listenAddr resolves LocalHost for the address family UseIPv6 selects.
func listenAddr(host string, useIPv6 int) (netip.Addr, int, error) {
	if host == "" {
		if useIPv6 == 0 {
			return netip.IPv4Unspecified(), syscall.AF_INET, nil
		}
		return netip.IPv6Unspecified(), syscall.AF_INET6, nil
	}
	var ips []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{a.Unmap()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err != nil {
			return netip.Addr{}, 0, &Error{Code: 11001, Message: socketMessages[11001], Err: err}
		}
		ips = found
	}
	for _, a := range ips {
		a = a.Unmap()
		switch {
		case a.Is4() && useIPv6 != 1:
			return a, syscall.AF_INET, nil
		case a.Is6() && useIPv6 != 0:
			return a, syscall.AF_INET6, nil
		}
	}
	return netip.Addr{}, 0, &Error{Code: 10047, Message: socketMessages[10047],
		Err: errors.New("LocalHost " + host + " has no address of the family UseIPv6 selects (" + useIPv6Hint[useIPv6] + ")")}
}

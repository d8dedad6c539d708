package wsserver

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

func TestConfig_BindExclusively(t *testing.T) {
	checkGoroutines(t)
	first := New()
	if _, err := first.Config("BindExclusively=False"); err != nil {
		t.Fatal(err)
	}
	startServer(t, first)
	port := first.LocalPort()

	// Default True: the port is taken, 10048 (EADDRINUSE).
	busy := New()
	busy.SetLocalHost("127.0.0.1")
	busy.SetLocalPort(port)
	err := busy.StartListening()
	if err == nil {
		busy.Shutdown()
		t.Fatal("a second server bound the port with BindExclusively=True")
	}
	if !errors.Is(err, &Error{Code: 10048}) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("busy port: %v, want 10048 wrapping EADDRINUSE", err)
	}

	// False on both: the second server shares the port.
	second := New()
	second.Config("BindExclusively=false")
	second.SetLocalHost("127.0.0.1")
	second.SetLocalPort(port)
	if err := second.StartListening(); err != nil {
		t.Fatalf("second server with BindExclusively=False: %v", err)
	}
	second.Shutdown()
}

// acceptedConn opens a gorilla client and returns the server's Connection.
func acceptedConn(t *testing.T, setup func(*Server)) *Connection {
	t.Helper()
	h := newHarness(t, setup)
	_, id := h.dial(t, "/", nil)
	return h.conn(t, id)
}

func TestConfig_TcpNoDelay(t *testing.T) {
	c := acceptedConn(t, nil)
	if v := sockoptInt(t, c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY); v != 0 {
		t.Fatalf("TCP_NODELAY = %d with TcpNoDelay False (Nagle on)", v)
	}
	c = acceptedConn(t, func(s *Server) { s.Config("TcpNoDelay=True") })
	if v := sockoptInt(t, c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY); v != 1 {
		t.Fatalf("TCP_NODELAY = %d with TcpNoDelay True", v)
	}
}

func TestConfig_KeepAliveTimeAndInterval(t *testing.T) {
	c := acceptedConn(t, func(s *Server) {
		s.Config("KeepAliveTime=3000")
		s.Config("KeepAliveInterval=2000")
	})
	if v := sockoptInt(t, c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); v != 1 {
		t.Fatalf("SO_KEEPALIVE = %d", v)
	}
	if v := sockoptInt(t, c, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE); v != 3 {
		t.Fatalf("TCP_KEEPIDLE = %d s, want 3 (KeepAliveTime=3000 ms)", v)
	}
	if v := sockoptInt(t, c, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL); v != 2 {
		t.Fatalf("TCP_KEEPINTVL = %d s, want 2 (KeepAliveInterval=2000 ms)", v)
	}
}

func TestConfig_InBufferSizeAndOutBufferSize(t *testing.T) {
	c := acceptedConn(t, func(s *Server) {
		s.Config("InBufferSize=65536")
		s.Config("OutBufferSize=32768")
	})
	// Linux doubles the value asked for, for its bookkeeping.
	if v := sockoptInt(t, c, syscall.SOL_SOCKET, syscall.SO_RCVBUF); v < 65536 || v > 2*65536 {
		t.Fatalf("SO_RCVBUF = %d with InBufferSize=65536", v)
	}
	if v := sockoptInt(t, c, syscall.SOL_SOCKET, syscall.SO_SNDBUF); v < 32768 || v > 2*32768 {
		t.Fatalf("SO_SNDBUF = %d with OutBufferSize=32768", v)
	}
}

// ipv6Loopback skips the test when ::1 is not available.
func ipv6Loopback(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback ::1 is not available: %v", err)
	}
	ln.Close()
}

// listenerV6Only reads IPV6_V6ONLY of the server's listening socket.
func listenerV6Only(t *testing.T, s *Server) int {
	t.Helper()
	rc := listenerConn(t, s)
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func TestConfig_UseIPv6(t *testing.T) {
	checkGoroutines(t)
	start := func(host, useIPv6 string) (*Server, error) {
		s := New()
		if _, err := s.Config("UseIPv6=" + useIPv6); err != nil {
			t.Fatal(err)
		}
		s.SetLocalHost(host)
		err := s.StartListening()
		if err == nil {
			t.Cleanup(func() { s.Shutdown() })
		}
		return s, err
	}
	// 0, IPv4 only: an IPv6 LocalHost has no address of the family (10047).
	if _, err := start("::1", "0"); wsErrCode(err) != 10047 {
		t.Fatalf("UseIPv6=0 on ::1: %v, want 10047", err)
	}
	if _, err := start("127.0.0.1", "1"); wsErrCode(err) != 10047 {
		t.Fatalf("UseIPv6=1 on 127.0.0.1: %v, want 10047", err)
	}
	s, err := start("127.0.0.1", "2") // both: IPv4 addresses still work
	if err != nil {
		t.Fatalf("UseIPv6=2 on 127.0.0.1: %v", err)
	}
	s.Shutdown()

	t.Run("::1", func(t *testing.T) {
		ipv6Loopback(t)
		// Linux makes a socket bound to a specific IPv6 address, such as ::1,
		// IPv6-only whatever IPV6_V6ONLY says; telling 1 from 2 by the socket
		// takes a listener on "::", which these tests do not open.
		for _, tc := range []struct {
			useIPv6 string
			v6only  int
		}{{"1", 1}, {"2", 1}} {
			ids := make(chan int, 1)
			s, err := start("::1", tc.useIPv6)
			if err != nil {
				t.Fatalf("UseIPv6=%s on ::1: %v", tc.useIPv6, err)
			}
			s.Events.OnConnected = func(e *ConnectedEvent) { ids <- e.ConnectionID }
			if got := listenerV6Only(t, s); got != tc.v6only {
				t.Fatalf("UseIPv6=%s: IPV6_V6ONLY = %d, want %d", tc.useIPv6, got, tc.v6only)
			}
			url := "ws://[::1]:" + strconv.Itoa(s.LocalPort())
			conn, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Fatalf("UseIPv6=%s: dial %s: %v", tc.useIPv6, url, err)
			}
			c, err := s.Connection(wiretest.Receive(t, ids, "Connected"))
			if err != nil {
				t.Fatal(err)
			}
			if c.RemoteHost() != "::1" || c.LocalAddress() != "::1" {
				t.Fatalf("RemoteHost %q, LocalAddress %q; want ::1", c.RemoteHost(), c.LocalAddress())
			}
			conn.Close()
			s.Shutdown()
		}
	})
}

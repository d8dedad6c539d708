package wsserver

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests of AllowedOrigins (issue 9): cross-site WebSocket hijacking is
// refused before WebSocketOpenRequest, with 403 and a Log entry, on every
// transport, by default.

func TestAllowedOrigins_Policy(t *testing.T) {
	cases := []struct {
		policy, origin, host string
		tls                  bool
		want                 bool
	}{
		// Requests without Origin come from programs, not pages.
		{SameOrigin, "", "example.com", false, true},
		// RFC 6454 same origin: host and port, each scheme's default port.
		{SameOrigin, "http://example.com", "example.com", false, true},
		{SameOrigin, "http://EXAMPLE.com", "example.COM", false, true},
		{SameOrigin, "http://example.com", "example.com:80", false, true},
		{SameOrigin, "http://example.com:80", "example.com", false, true},
		{SameOrigin, "http://example.com:8080", "example.com:8080", false, true},
		{SameOrigin, "http://example.com:8081", "example.com:8080", false, false},
		{SameOrigin, "http://example.com", "example.com:8080", false, false},
		{SameOrigin, "http://example.com:8080", "example.com", false, false},
		{SameOrigin, "http://evil.example", "example.com", false, false},
		{SameOrigin, "http://example.com.evil.example", "example.com", false, false},
		{SameOrigin, "http://127.0.0.1:8080", "127.0.0.1:8080", false, true},
		{SameOrigin, "http://localhost:8080", "127.0.0.1:8080", false, false},
		{SameOrigin, "http://[::1]:8080", "[::1]:8080", false, true},
		{SameOrigin, "http://[::1]", "[::1]", false, true},
		// A plaintext connection behind a proxy that ends TLS.
		{SameOrigin, "https://example.com", "example.com", false, true},
		{SameOrigin, "https://example.com:443", "example.com:443", false, true},
		{SameOrigin, "https://example.com", "example.com:80", false, false},
		// TLS: the Host without a port is 443, and the page must be https.
		{SameOrigin, "https://example.com", "example.com", true, true},
		{SameOrigin, "https://example.com:8443", "example.com:8443", true, true},
		{SameOrigin, "http://example.com:8443", "example.com:8443", true, false},
		{SameOrigin, "http://example.com", "example.com", true, false},
		// Not web origins.
		{SameOrigin, "null", "example.com", false, false},
		{SameOrigin, "file://", "example.com", false, false},
		{SameOrigin, "chrome-extension://example.com", "example.com", false, false},
		{SameOrigin, "http://user@example.com", "example.com", false, false},
		{SameOrigin, "not a url", "example.com", false, false},
		// Patterns match host[:port], or scheme://host[:port].
		{"app.example.com", "https://app.example.com", "ws.example.com", false, true},
		{"app.example.com", "https://app.example.com:8443", "ws.example.com", false, false},
		{"app.example.com:*", "https://app.example.com:8443", "ws.example.com", false, true},
		{"*.example.com", "https://a.example.com", "ws.example.com", false, true},
		{"*.example.com", "https://example.com", "ws.example.com", false, false},
		{"*.example.com", "https://a.example.com.evil.test", "ws.example.com", false, false},
		{"https://*.example.com", "https://a.example.com", "x", false, true},
		{"https://*.example.com", "http://a.example.com", "x", false, false},
		{"https://app.example.com/", "https://app.example.com", "x", false, true},
		{"*://app.example.com", "http://app.example.com", "x", false, true},
		{"localhost:300?", "http://localhost:3001", "x", false, true},
		{"localhost:300?", "http://localhost:30011", "x", false, false},
		{"localhost:30[0-4]0", "http://localhost:3040", "x", false, true},
		{"[::1]:*", "http://[::1]:8080", "x", false, true},
		{"http://[::1]:8080", "http://[::1]:8080", "x", false, true},
		{"[::1]:*", "http://1:8080", "x", false, false},
		// Lists: any entry allows.
		{"same-origin, https://app.example.com", "https://app.example.com", "ws.example.com", false, true},
		{"same-origin, https://app.example.com", "http://ws.example.com", "ws.example.com", false, true},
		{"same-origin, https://app.example.com", "http://evil.example", "ws.example.com", false, false},
		{"*", "http://evil.example", "example.com", false, true},
		{"*", "null", "example.com", false, true},
	}
	for _, tc := range cases {
		p, err := parseOriginPolicy(tc.policy)
		if err != nil {
			t.Fatalf("parseOriginPolicy(%q): %v", tc.policy, err)
		}
		if got := p.allows(tc.origin, tc.host, tc.tls); got != tc.want {
			t.Errorf("AllowedOrigins=%s: Origin %q, Host %q, TLS %v: allowed %v, want %v", tc.policy, tc.origin, tc.host, tc.tls, got, tc.want)
		}
	}
}

func TestAllowedOrigins_Config(t *testing.T) {
	s := New()
	if v, err := s.Config("AllowedOrigins"); err != nil || v != SameOrigin {
		t.Fatalf("default AllowedOrigins = %q, %v; want %q", v, err, SameOrigin)
	}
	setConfig(t, s, "AllowedOrigins= Same-Origin ,HTTPS://App.Example.com,, *.example.org ")
	if v, _ := s.Config("AllowedOrigins"); v != "same-origin, https://app.example.com, *.example.org" {
		t.Fatalf("AllowedOrigins reads back %q", v)
	}
	for _, bad := range []string{"", " , ", "[", "https://[a", "example.com/path", "://x", "https://", "user@example.com", "exa mple.com"} {
		_, err := s.Config("AllowedOrigins=" + bad)
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("AllowedOrigins=%q: %v, want ErrInvalidValue (301)", bad, err)
		}
	}
	if v, _ := s.Config("AllowedOrigins"); v != "same-origin, https://app.example.com, *.example.org" {
		t.Fatalf("a refused value changed AllowedOrigins to %q", v)
	}
}

// originLog collects Log messages and counts WebSocketOpenRequest events.
type originLog struct {
	mu       sync.Mutex
	logs     []string
	requests int
}

func (l *originLog) setup(s *Server) {
	s.Events.OnLog = func(e *LogEvent) {
		l.mu.Lock()
		l.logs = append(l.logs, e.Message)
		l.mu.Unlock()
	}
	s.Events.OnWebSocketOpenRequest = func(*WebSocketOpenRequestEvent) {
		l.mu.Lock()
		l.requests++
		l.mu.Unlock()
	}
}

func (l *originLog) state() (logs string, requests int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.logs, "\n"), l.requests
}

// originHandshake sends an opening handshake with the given Host and Origin
// over conn and returns the response status.
func originHandshake(t *testing.T, conn net.Conn, host, origin string) int {
	t.Helper()
	defer conn.Close()
	var key [16]byte
	rand.Read(key[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", base64.StdEncoding.EncodeToString(key[:]))
	if origin != "" {
		fmt.Fprintf(&b, "Origin: %s\r\n", origin)
	}
	b.WriteString("\r\n")
	conn.SetDeadline(time.Now().Add(waitLimit))
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAllowedOrigins_EveryTransport sends forged Origin headers to each
// transport: the listener's goroutines, the event loop's handshake, TLS,
// and ServeHTTP over plain and TLS net/http. By default a page from another
// origin gets 403 without reaching WebSocketOpenRequest, and the refusal is
// logged; its own origin and a request without Origin pass; a listed
// origin passes.
func TestAllowedOrigins_EveryTransport(t *testing.T) {
	env := newTLSEnv(t)
	type server struct {
		addr   string
		scheme string // of the page on the same origin: http or https
		dial   func(t *testing.T) net.Conn
	}
	tcp := func(addr string) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn {
			c, err := net.DialTimeout("tcp", addr, waitLimit)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	overTLS := func(addr string, conf *tls.Config) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLimit}, "tcp", addr, conf)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	transports := []struct {
		name  string
		start func(t *testing.T, setup func(*Server)) server
	}{
		{"listener", func(t *testing.T, setup func(*Server)) server {
			h := newHarness(t, setup)
			return server{h.addr, "http", tcp(h.addr)}
		}},
		{"event loop", func(t *testing.T, setup func(*Server)) server {
			h := newHarness(t, func(s *Server) {
				setConfig(t, s, "EventLoop=True")
				setup(s)
			})
			return server{h.addr, "http", tcp(h.addr)}
		}},
		{"TLS", func(t *testing.T, setup func(*Server)) server {
			h := env.start(t, setup)
			return server{h.addr, "https", overTLS(h.addr, env.client())}
		}},
		{"ServeHTTP", func(t *testing.T, setup func(*Server)) server {
			h := newHTTPHarness(t, setup)
			return server{h.addr, "http", tcp(h.addr)}
		}},
		{"ServeHTTP TLS", func(t *testing.T, setup func(*Server)) server {
			checkGoroutines(t)
			s := New()
			setup(s)
			ts := httptest.NewUnstartedServer(s)
			ts.EnableHTTP2 = false
			ts.StartTLS()
			t.Cleanup(ts.Close)
			t.Cleanup(func() { s.Shutdown() })
			conf := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			conf.NextProtos = nil
			addr := ts.Listener.Addr().String()
			return server{addr, "https", overTLS(addr, conf)}
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			l := &originLog{}
			srv := tr.start(t, l.setup)
			self := srv.scheme + "://" + srv.addr
			for _, forged := range []string{"http://evil.example", srv.scheme + "://localhost:" + strings.Split(srv.addr, ":")[1], "null", "http://" + srv.addr + ".evil.example"} {
				if st := originHandshake(t, srv.dial(t), srv.addr, forged); st != http.StatusForbidden {
					t.Errorf("Origin %q: status %d, want 403", forged, st)
				}
			}
			if srv.scheme == "https" {
				if st := originHandshake(t, srv.dial(t), srv.addr, "http://"+srv.addr); st != http.StatusForbidden {
					t.Errorf("an http page on a TLS server: status %d, want 403", st)
				}
			}
			logs, requests := l.state()
			if requests != 0 {
				t.Errorf("WebSocketOpenRequest fired %d times for refused origins", requests)
			}
			if !strings.Contains(logs, `Origin "http://evil.example" is not allowed`) {
				t.Errorf("no Log entry names the refused origin:\n%s", logs)
			}
			for _, ok := range []string{self, ""} {
				if st := originHandshake(t, srv.dial(t), srv.addr, ok); st != http.StatusSwitchingProtocols {
					t.Errorf("Origin %q: status %d, want 101", ok, st)
				}
			}
		})
		t.Run(tr.name+"/listed", func(t *testing.T) {
			srv := tr.start(t, func(s *Server) { setConfig(t, s, "AllowedOrigins=same-origin, https://app.example.test") })
			if st := originHandshake(t, srv.dial(t), srv.addr, "https://app.example.test"); st != http.StatusSwitchingProtocols {
				t.Errorf("a listed origin: status %d, want 101", st)
			}
			if st := originHandshake(t, srv.dial(t), srv.addr, "https://evil.example"); st != http.StatusForbidden {
				t.Errorf("an unlisted origin: status %d, want 403", st)
			}
		})
		t.Run(tr.name+"/any", func(t *testing.T) {
			srv := tr.start(t, func(s *Server) { setConfig(t, s, "AllowedOrigins=*") })
			if st := originHandshake(t, srv.dial(t), srv.addr, "http://evil.example"); st != http.StatusSwitchingProtocols {
				t.Errorf("AllowedOrigins=*: status %d, want 101", st)
			}
		})
	}
}

// FuzzAllowedOrigins feeds arbitrary AllowedOrigins values, Origin and Host
// headers to the policy: parsing never panics and fails only with 301; an
// accepted value reads back as a value that parses to the same policy; and
// checking a request never panics, "*" allows everything, and a request
// without Origin always passes.
func FuzzAllowedOrigins(f *testing.F) {
	for _, seed := range [][3]string{
		{"same-origin", "http://example.com", "example.com"},
		{"same-origin, https://*.example.com", "https://a.example.com:8443", "example.com:8443"},
		{"*.example.com, localhost:*", "http://localhost:3000", "[::1]:80"},
		{"[a-", "http://[::1", "["},
		{"https://", "null", ""},
		{"*://x?[!a]", "ws://x1", "x1:"},
		{",,,", "http://user:pw@host", "host"},
		{"\\", "http://a%zz", "a:99999"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, value, origin, host string) {
		p, err := parseOriginPolicy(value)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != ErrInvalidValue.Code {
				t.Fatalf("parseOriginPolicy(%q): %v, want a 301 *Error", value, err)
			}
			return
		}
		again, err := parseOriginPolicy(p.text)
		if err != nil {
			t.Fatalf("%q reads back as %q, which does not parse: %v", value, p.text, err)
		}
		if again.text != p.text {
			t.Fatalf("%q reads back as %q, then as %q", value, p.text, again.text)
		}
		for _, isTLS := range []bool{false, true} {
			got := p.allows(origin, host, isTLS)
			if again.allows(origin, host, isTLS) != got {
				t.Fatalf("%q and its read-back %q disagree on Origin %q Host %q", value, p.text, origin, host)
			}
			if (p.any || origin == "") && !got {
				t.Fatalf("AllowedOrigins=%q refused Origin %q", p.text, origin)
			}
		}
	})
}

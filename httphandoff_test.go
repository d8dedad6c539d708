package wsserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Issue 12: one listening socket serves WebSockets and plain HTTP. The
// server's own listener reads each request head; the WebSocket upgrades it
// takes stay on its transport (goroutine or EventLoop), the rest go to an
// http.Server through HTTPListener, with keep-alive, HEAD, bodies and the
// same head limits.

// handoffServer is a started Server whose HTTPListener an http.Server
// serves with a small mux: /hello, /echo (the body back), /other (a second
// Server's ServeHTTP, for upgrades the first does not take).
type handoffServer struct {
	*harness
	other *Server // the WebSocket server behind /other
	hs    *http.Server
}

func startHandoff(t *testing.T, loop string, setup func(s *Server)) *handoffServer {
	t.Helper()
	hs := &http.Server{}
	var ln net.Listener
	h := newHarness(t, func(s *Server) {
		if _, err := s.Config("EventLoop=" + loop); err != nil {
			t.Skipf("EventLoop=%s: %v", loop, err)
		}
		setConfig(t, s, "BufferMessage=True")
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
		if setup != nil {
			setup(s)
		}
		ln = s.HTTPListener(func(path string) bool { return path != "/other" })
	})
	return serveHandoff(t, h, hs, ln)
}

func serveHandoff(t *testing.T, h *harness, hs *http.Server, ln net.Listener) *handoffServer {
	t.Helper()
	other := New()
	setConfig(t, other, "BufferMessage=True")
	other.Events.OnDataIn = func(e *DataInEvent) {
		other.SendMessage(e.ConnectionID, e.DataFormat, append([]byte("other:"), e.TextB...))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Remote", r.RemoteAddr)
		fmt.Fprintf(w, "hello %s", r.Method)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Write(b)
	})
	mux.Handle("/other", other)
	hs.Handler = mux
	h.s.ConfigureHTTPServer(hs)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http.Server.Serve: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		other.ShutdownContext(ctx)
	})
	return &handoffServer{harness: h, other: other, hs: hs}
}

// httpConn is a client connection that sends request heads by hand.
type httpConn struct {
	net.Conn
	br *bufio.Reader
}

func (h *handoffServer) httpDial(t *testing.T) *httpConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", h.addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitLimit))
	return &httpConn{Conn: nc, br: bufio.NewReader(nc)}
}

// do writes raw (a request) and reads the response to a request of method.
func (c *httpConn) do(t *testing.T, method, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	return c.response(t, method)
}

func (c *httpConn) response(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, string(body)
}

func eachLoop(t *testing.T, f func(t *testing.T, loop string)) {
	for _, loop := range []string{"False", "True"} {
		t.Run("EventLoop="+loop, func(t *testing.T) { f(t, loop) })
	}
}

func TestHTTPListener_PlainRequestsKeepAliveHeadAndBody(t *testing.T) {
	eachLoop(t, func(t *testing.T, loop string) {
		h := startHandoff(t, loop, nil)
		c := h.httpDial(t)
		resp, body := c.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || body != "hello GET" {
			t.Fatalf("GET /hello: %d %q", resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("X-Remote"), c.LocalAddr().String(); got != want {
			t.Errorf("the handler saw RemoteAddr %q, want the client's %q", got, want)
		}
		// Keep-alive: the next requests on the same connection.
		resp, body = c.do(t, "HEAD", "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("hello HEAD")) {
			t.Fatalf("HEAD /hello: %d, Content-Length %d, body %q", resp.StatusCode, resp.ContentLength, body)
		}
		// A body in the same segment as the head, then one sent after it.
		resp, body = c.do(t, "POST", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde")
		if resp.StatusCode != 200 || body != "abcde" {
			t.Fatalf("POST /echo: %d %q", resp.StatusCode, body)
		}
		big := strings.Repeat("z", 100<<10)
		resp, body = c.do(t, "POST", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\n\r\n"+big)
		if resp.StatusCode != 200 || body != big {
			t.Fatalf("POST /echo of 100 KiB: %d, %d bytes back", resp.StatusCode, len(body))
		}
		if n := h.s.ConnectionCount(); n != 0 {
			t.Errorf("ConnectionCount = %d with only HTTP clients, want 0", n)
		}
		// A new connection whose first request has a body, pipelined with a second.
		c2 := h.httpDial(t)
		resp, body = c2.do(t, "POST", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || body != "xyz" {
			t.Fatalf("first POST: %d %q", resp.StatusCode, body)
		}
		resp, body = c2.response(t, "GET")
		if resp.StatusCode != 200 || body != "hello GET" {
			t.Fatalf("pipelined GET: %d %q", resp.StatusCode, body)
		}
	})
}

func TestHTTPListener_WebSocketsStayWithTheServer(t *testing.T) {
	eachLoop(t, func(t *testing.T, loop string) {
		h := startHandoff(t, loop, nil)
		// An HTTP client first, on its own connection, kept open.
		c := h.httpDial(t)
		if resp, _ := c.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("GET /hello: %d", resp.StatusCode)
		}
		ws, id := h.dial(t, "/ws", nil)
		if err := ws.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, msg := readMessage(t, ws); string(msg) != "hi" {
			t.Fatalf("echo = %q", msg)
		}
		if got := h.conn(t, id).RequestURI(); got != "/ws" {
			t.Errorf("RequestURI = %q", got)
		}
		// An upgrade the filter declines goes to the handler: here another
		// Server's ServeHTTP.
		d := websocket.Dialer{HandshakeTimeout: waitLimit}
		other, resp, err := d.Dial(h.url+"/other", nil)
		if err != nil {
			t.Fatalf("dial /other: %v", err)
		}
		resp.Body.Close()
		defer other.Close()
		other.WriteMessage(websocket.TextMessage, []byte("x"))
		if _, msg := readMessage(t, other); string(msg) != "other:x" {
			t.Fatalf("/other answered %q", msg)
		}
		if h.s.ConnectionCount() != 1 || h.other.ConnectionCount() != 1 {
			t.Errorf("connections: %d on the server, %d on the other; want 1 and 1", h.s.ConnectionCount(), h.other.ConnectionCount())
		}
	})
}

// The Origin check of the WebSocket server is unchanged: a page of another
// origin is refused with 403 by the server itself, not handed off.
func TestHTTPListener_OriginCheckUnchanged(t *testing.T) {
	eachLoop(t, func(t *testing.T, loop string) {
		h := startHandoff(t, loop, nil)
		for _, path := range []string{"/ws", "/other"} {
			d := websocket.Dialer{HandshakeTimeout: waitLimit}
			_, resp, err := d.Dial(h.url+path, http.Header{"Origin": {"http://evil.example"}})
			if err == nil || resp == nil || resp.StatusCode != 403 {
				t.Fatalf("%s from another origin: err %v, resp %v; want 403", path, err, resp)
			}
			resp.Body.Close()
		}
		h.dial(t, "/ws", http.Header{"Origin": {"http://" + h.addr}})
	})
}

// The first request's head is read by the server: larger than
// MaxRequestHeadSize, it gets 431 as a WebSocket request would; one that
// never ends is cut at HandshakeTimeout. Later requests on a keep-alive
// connection are bounded by the http.Server (ConfigureHTTPServer).
func TestHTTPListener_HeadLimits(t *testing.T) {
	eachLoop(t, func(t *testing.T, loop string) {
		h := startHandoff(t, loop, func(s *Server) {
			setConfig(t, s, "MaxRequestHeadSize=4096", "HandshakeTimeout=2")
		})
		if h.hs.MaxHeaderBytes != 4096 {
			t.Errorf("ConfigureHTTPServer set MaxHeaderBytes %d, want 4096", h.hs.MaxHeaderBytes)
		}
		c := h.httpDial(t)
		resp, _ := c.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 5000)+"\r\n\r\n")
		if resp.StatusCode != 431 {
			t.Fatalf("a 5 KB head: %d, want 431", resp.StatusCode)
		}
		// A head that never ends: the connection is closed, unanswered.
		slow := h.httpDial(t)
		io.WriteString(slow, "GET /hello HTTP/1.1\r\nHost: x\r\n")
		if n, err := io.Copy(io.Discard, slow); err != nil || n != 0 {
			t.Fatalf("a head that never ends: %d bytes, %v; want the connection closed", n, err)
		}
		// On a kept-alive connection the http.Server applies its limit:
		// MaxHeaderBytes, with the few KiB of slack net/http allows.
		k := h.httpDial(t)
		if resp, _ := k.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
		io.WriteString(k, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 20000)+"\r\n\r\n")
		// net/http closes the connection with the head unread: the status
		// is what can be read for sure.
		resp, err := http.ReadResponse(k.br, nil)
		if err != nil {
			t.Fatalf("reading the response to a 20 KB head: %v", err)
		}
		if resp.StatusCode != 431 {
			t.Fatalf("a 20 KB head after keep-alive: %d, want 431", resp.StatusCode)
		}
	})
}

// A handed-off connection no longer counts against MaxConnections.
func TestHTTPListener_HandedOffConnectionsDoNotCount(t *testing.T) {
	eachLoop(t, func(t *testing.T, loop string) {
		h := startHandoff(t, loop, func(s *Server) { setConfig(t, s, "MaxConnections=1") })
		for range 3 {
			c := h.httpDial(t)
			if resp, _ := c.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
				t.Fatalf("GET: %d", resp.StatusCode)
			}
		}
		ws, _ := h.dial(t, "/ws", nil)
		ws.WriteMessage(websocket.TextMessage, []byte("still room"))
		if _, msg := readMessage(t, ws); string(msg) != "still room" {
			t.Fatalf("echo = %q", msg)
		}
	})
}

// Once the listener is closed, requests to hand off get 503 and WebSockets
// still open.
func TestHTTPListener_ClosedAnswers503(t *testing.T) {
	eachLoop(t, func(t *testing.T, loop string) {
		h := startHandoff(t, loop, nil)
		h.hs.Close()
		c := h.httpDial(t)
		resp, _ := c.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 503 {
			t.Fatalf("GET after the listener closed: %d, want 503", resp.StatusCode)
		}
		h.dial(t, "/ws", nil)
	})
}

// Over TLS (UseSSL) the server does the TLS handshake and hands off the
// decrypted stream; a Server's ServeHTTP taking a handed-off upgrade still
// knows the connection is TLS.
func TestHTTPListener_TLS(t *testing.T) {
	env := newTLSEnv(t)
	var ln net.Listener
	h := env.start(t, func(s *Server) {
		setConfig(t, s, "BufferMessage=True")
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
		ln = s.HTTPListener(func(path string) bool { return path != "/other" })
	})
	hsrv := serveHandoff(t, h, &http.Server{}, ln)
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLimit}, "tcp", h.addr, env.client())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitLimit))
	c := &httpConn{Conn: nc, br: bufio.NewReader(nc)}
	for range 2 {
		if resp, body := c.do(t, "GET", "GET /hello HTTP/1.1\r\nHost: server.test\r\n\r\n"); resp.StatusCode != 200 || body != "hello GET" {
			t.Fatalf("GET over TLS: %d %q", resp.StatusCode, body)
		}
	}
	ws, _, _ := wssOpen(t, h, env.client())
	ws.WriteMessage(websocket.TextMessage, []byte("tls"))
	if _, msg := readMessage(t, ws); string(msg) != "tls" {
		t.Fatalf("wss echo = %q", msg)
	}
	other, err := wssDial(t, h.url+"/other", env.client())
	if err != nil {
		t.Fatalf("wss /other: %v", err)
	}
	other.WriteMessage(websocket.TextMessage, []byte("y"))
	if _, msg := readMessage(t, other); string(msg) != "other:y" {
		t.Fatalf("/other answered %q", msg)
	}
	conns := hsrv.other.Connections()
	if len(conns) != 1 || conns[0].TLS() == nil {
		t.Fatalf("the other server's connection over a handed-off TLS stream: %v, want one with TLS state", conns)
	}
}

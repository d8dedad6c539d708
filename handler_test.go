package wsserver

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of the Server as an http.Handler (ServeHTTP) in a net/http server:
// the same events, settings and Connections as with StartListening.

// httpHarness is a Server mounted at /ws of an httptest.Server whose other
// paths answer "plain".
type httpHarness struct {
	s    *Server
	srv  *httptest.Server
	url  string // ws://127.0.0.1:port/ws
	addr string
	ids  chan int
}

func newHTTPHarness(t *testing.T, setup func(*Server)) *httpHarness {
	t.Helper()
	checkGoroutines(t)
	s := New()
	if setup != nil {
		setup(s)
	}
	h := &httpHarness{s: s, ids: make(chan int, 100)}
	user := s.Events.OnConnected
	s.Events.OnConnected = func(e *ConnectedEvent) {
		if user != nil {
			user(e)
		}
		h.ids <- e.ConnectionID
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") })
	h.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(h.srv.Close)          // runs after the Shutdown below
	t.Cleanup(func() {
		s.Shutdown()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Errorf("connections still running after Shutdown")
		}
	})
	h.addr = h.srv.Listener.Addr().String()
	h.url = "ws://" + h.addr + "/ws"
	return h
}

func (h *httpHarness) nextID(t *testing.T) int { return wiretest.Receive(t, h.ids, "Connected") }

func (h *httpHarness) dial(t *testing.T, query string) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
	conn, _, err := d.Dial(h.url+query, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", h.url+query, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, h.nextID(t)
}

// httpGet fetches url without keeping connections.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: waitLimit}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHTTP_UpgradeEventsAndEcho(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHTTPHarness(t, func(s *Server) {
		s.Config("BufferMessage=true")
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) { ev.Add("ConnectionRequest %s", e.Address) }
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { ev.Add("Open %s", e.RequestURI) }
		s.Events.OnDataIn = func(e *DataInEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB) }
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d %d %s", e.ConnectionID, e.StatusCode, e.Description)
		}
	})
	conn, id := h.dial(t, "?room=1")
	list := ev.WaitFor(t, "Open /ws?room=1")
	if list[0] != "ConnectionRequest 127.0.0.1" {
		t.Fatalf("events %q", list)
	}
	c, err := h.s.Connection(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.RequestURI() != "/ws?room=1" || c.Host() != h.addr || c.RemoteHost() != "127.0.0.1" {
		t.Fatalf("RequestURI %q Host %q RemoteHost %q", c.RequestURI(), c.Host(), c.RemoteHost())
	}
	if !strings.Contains(c.Extensions(), "permessage-deflate") {
		t.Fatalf("Extensions %q: compression not negotiated", c.Extensions())
	}
	for _, msg := range []string{"hello", strings.Repeat("big ", 100000)} {
		conn.WriteMessage(websocket.TextMessage, []byte(msg))
		if _, p := readMessage(t, conn); string(p) != msg {
			t.Fatalf("echo of %d bytes came back as %d", len(msg), len(p))
		}
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "done"))
	readClose(t, conn)
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 4000 done", id))
	// The rest of the mux is untouched.
	if code, body := httpGet(t, "http://"+h.addr+"/other"); code != 200 || body != "plain" {
		t.Fatalf("other path: %d %q", code, body)
	}
}

func TestServeHTTP_NotAnUpgradeRequest(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHTTPHarness(t, func(s *Server) {
		s.Events.OnConnectionRequest = func(e *ConnectionRequestEvent) { ev.Add("ConnectionRequest") }
	})
	code, body := httpGet(t, "http://"+h.addr+"/ws")
	if code != http.StatusBadRequest || !strings.Contains(body, "Upgrade") {
		t.Fatalf("plain GET of the WebSocket path: %d %q, want 400 naming the Upgrade header", code, body)
	}
	if got := ev.Snapshot(); len(got) != 0 {
		t.Fatalf("events for a plain GET: %q", got)
	}
}

func TestServeHTTP_WebSocketOpenRequest401(t *testing.T) {
	h := newHTTPHarness(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
			e.StatusCode = 401
			e.ResponseHeaders = `WWW-Authenticate: Basic realm="Secure Realm"`
		}
	})
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, resp, err := d.Dial(h.url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("handshake succeeded")
	}
	if resp == nil || resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Secure Realm"` {
		t.Fatalf("dial: %v, response %v", err, resp)
	}
}

func TestServeHTTP_BytesAfterTheRequestHead(t *testing.T) {
	got := make(chan string, 1)
	h := newHTTPHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) { got <- e.Text() }
	})
	// The first frame arrives in the same write as the request: net/http
	// has buffered it, and the connection must still see it.
	rc := rawDial(t, h.addr, wiretest.Options{Path: "/ws", Extra: wiretest.Client(true, opText, []byte("early")).Bytes()})
	if rc.Resp.StatusCode != 101 {
		t.Fatalf("status %d", rc.Resp.StatusCode)
	}
	h.nextID(t)
	if s := wiretest.Receive(t, got, "DataIn"); s != "early" {
		t.Fatalf("DataIn %q", s)
	}
}

func TestServeHTTP_ShutdownClosesConnections(t *testing.T) {
	h := newHTTPHarness(t, nil)
	conn, _ := h.dial(t, "")
	h.s.Shutdown()
	if code, _ := readClose(t, conn); code != 1000 {
		t.Fatalf("close code %d", code)
	}
	wiretest.WaitUntil(t, "Connections to empty", func() bool { return h.s.ConnectionCount() == 0 })
}

func TestServeHTTP_MaxConnections(t *testing.T) {
	h := newHTTPHarness(t, func(s *Server) { s.Config("MaxConnections=1") })
	h.dial(t, "")
	wantCode(t, "MaxConnections after ServeHTTP", configErr(h.s, "MaxConnections=5"), ErrMaxConnectionsLocked)
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	conn, resp, err := d.Dial(h.url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("a second client was accepted with MaxConnections=1")
	}
	if resp == nil || resp.StatusCode != 503 {
		t.Fatalf("second client: %v, %v; want 503", err, resp)
	}
}

func TestServeHTTP_ConnectionRequestAcceptFalse(t *testing.T) {
	h := newHTTPHarness(t, func(s *Server) {
		s.Config("BlockedClients=127.*")
	})
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	if conn, _, err := d.Dial(h.url, nil); err == nil {
		conn.Close()
		t.Fatal("a blocked client was accepted")
	}
	if n := h.s.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections", n)
	}
}

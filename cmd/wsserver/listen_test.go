package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Issue 12: the command accepts on the library's own listener. WebSocket
// clients of the mode never pass through net/http (no hijacked net.Conn
// behind each, and the handshake read on the event loops with EventLoop);
// the page, /healthz, /metrics and /events are handed to the command's
// http.Server on the same port, with keep-alive.
func TestListener_WebSocketsBypassNetHTTP(t *testing.T) {
	for _, loop := range []string{"True", "False"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			var seen atomic.Int64 // connections net/http served
			ta := startAppWith(t, func(a *app) {
				a.http.ConnState = func(_ net.Conn, st http.ConnState) {
					if st == http.StateNew {
						seen.Add(1)
					}
				}
			}, "--config", "EventLoop="+loop)
			for i := range 5 {
				c := dial(t, ta.ws)
				c.WriteMessage(websocket.TextMessage, []byte("m"))
				if _, msg := read(t, c); string(msg) != "m" {
					t.Fatalf("client %d: echo %q", i, msg)
				}
			}
			if n := seen.Load(); n != 0 {
				t.Fatalf("net/http served %d connections for 5 WebSocket clients, want 0", n)
			}
			// One kept-alive connection: the page, /healthz, then the page's HEAD.
			nc, err := net.DialTimeout("tcp", strings.TrimPrefix(ta.base, "http://"), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(nc)
			for _, req := range []struct{ method, path, want string }{
				{"GET", "/", "<!doctype html"},
				{"GET", "/healthz", `"status":"ok"`},
				{"HEAD", "/", ""},
			} {
				io.WriteString(nc, req.method+" "+req.path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
				resp, err := http.ReadResponse(br, &http.Request{Method: req.method})
				if err != nil {
					t.Fatalf("%s %s: %v", req.method, req.path, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(body)), strings.ToLower(req.want)) {
					t.Fatalf("%s %s: %d %.80q %v", req.method, req.path, resp.StatusCode, body, err)
				}
			}
			if n := seen.Load(); n != 1 {
				t.Fatalf("net/http served %d connections for one kept-alive HTTP client, want 1", n)
			}
			if n := ta.srv.ConnectionCount(); n != 5 {
				t.Fatalf("ConnectionCount = %d, want the 5 WebSocket clients", n)
			}
		})
	}
}

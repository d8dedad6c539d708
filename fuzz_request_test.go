package wsserver

import (
	"testing"

	"github.com/wsserver/wsserver/internal/handshake"
)

// FuzzConnectionRequest feeds request heads that the handshake parser
// accepts to the *http.Request built for Connection.Request on the
// server's listener: it never panics and always gives a request with the
// head's method and a URL, also when net/http would refuse the head.
func FuzzConnectionRequest(f *testing.F) {
	f.Add([]byte("GET /chat?room=1 HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("GET * HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET http://x/y HTTP/1.1\r\nHost: \r\nX: \x01\r\n\r\n"))
	f.Add([]byte("GET /%zz HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		req, _, err := handshake.Parse(head)
		if err != nil {
			return
		}
		c := &Connection{srv: New(), remoteHost: "127.0.0.1", remotePort: 1}
		c.mu.Lock()
		r := c.buildRequest(req)
		c.mu.Unlock()
		if r == nil || r.URL == nil || r.Header == nil || r.Context() == nil {
			t.Fatalf("built %+v from %q", r, head)
		}
		if r.Method != req.Method {
			t.Fatalf("method %q, head's %q", r.Method, req.Method)
		}
		c.endContext()
	})
}

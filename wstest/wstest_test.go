package wstest_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/wsserver/wsserver"
	"github.com/wsserver/wsserver/wstest"
)

func ctxLimit(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoServer returns a Server that echoes each message and closes with
// 4001 when told "bye".
func echoServer() *wsserver.Server {
	s := wsserver.New()
	s.Events.OnMessage = func(e *wsserver.MessageEvent) {
		if e.Text() == "bye" {
			s.DisconnectWithCode(e.ConnectionID, 4001, "see you")
			return
		}
		s.SendMessage(e.ConnectionID, e.DataFormat, e.Data)
	}
	return s
}

// dialers are the three ways to reach a Server: its own listener
// (goroutine and EventLoop), net/http over loopback, and an in-memory pipe.
func dialers(t *testing.T) map[string]func(ctx context.Context, path string, o *wstest.Options) (*wstest.Conn, error) {
	m := map[string]func(context.Context, string, *wstest.Options) (*wstest.Conn, error){}
	for _, loop := range []bool{false, true} {
		s := echoServer()
		s.Configure(wsserver.WithEventLoop(loop))
		s.SetLocalHost("127.0.0.1")
		if err := s.StartListening(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.ShutdownContext(context.Background()) })
		url := "ws://127.0.0.1:" + strconv.Itoa(s.LocalPort())
		m["listener/EventLoop="+strconv.FormatBool(loop)] = func(ctx context.Context, path string, o *wstest.Options) (*wstest.Conn, error) {
			return wstest.Dial(ctx, url+path, o)
		}
	}
	hs := echoServer()
	srv := httptest.NewServer(hs)
	t.Cleanup(func() { hs.ShutdownContext(context.Background()); srv.Close() })
	m["net/http"] = func(ctx context.Context, path string, o *wstest.Options) (*wstest.Conn, error) {
		return wstest.Dial(ctx, "ws"+srv.URL[len("http"):]+path, o)
	}
	ps := echoServer()
	t.Cleanup(func() { ps.ShutdownContext(context.Background()) })
	m["pipe"] = func(ctx context.Context, path string, o *wstest.Options) (*wstest.Conn, error) {
		return wstest.DialHandler(ctx, ps, path, o)
	}
	return m
}

// The client sends and receives whole messages, answers and sends pings,
// and closes with a code, on every way of serving.
func TestConn_EchoPingClose(t *testing.T) {
	for name, dial := range dialers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxLimit(t)
			c, err := dial(ctx, "/echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.WriteText("hello"); err != nil {
				t.Fatal(err)
			}
			if got, err := c.ReadText(ctx); err != nil || got != "hello" {
				t.Fatalf("echo: %q %v", got, err)
			}
			big := make([]byte, 300000)
			for i := range big {
				big[i] = byte(i)
			}
			c.WriteBinary(big)
			m, err := c.ReadMessage(ctx)
			if err != nil || m.Type != wstest.Binary || string(m.Data) != string(big) {
				t.Fatalf("binary echo: type %d, %d bytes, %v", m.Type, len(m.Data), err)
			}
			// Fragments make one message.
			c.WriteFrame(false, 1, []byte("a"))
			c.WriteFrame(true, 0, []byte("b"))
			if got, err := c.ReadText(ctx); err != nil || got != "ab" {
				t.Fatalf("fragmented echo: %q %v", got, err)
			}
			if err := c.Ping(ctx, []byte("p")); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			ce, err := c.Close(1000, "done")
			if err != nil || ce.Code != 1000 {
				t.Fatalf("Close: %v %v, want the server's 1000", ce, err)
			}
		})
	}
}

// A close the server starts reaches ReadMessage as a *CloseError with its
// code and reason.
func TestConn_ServerClose(t *testing.T) {
	for name, dial := range dialers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxLimit(t)
			c, err := dial(ctx, "/", nil)
			if err != nil {
				t.Fatal(err)
			}
			c.WriteText("bye")
			_, err = c.ReadMessage(ctx)
			var ce *wstest.CloseError
			if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "see you" {
				t.Fatalf("ReadMessage after the server's close: %v, want 4001 see you", err)
			}
			c.Abort()
		})
	}
}

// A refused handshake is a *HandshakeError with the status.
func TestDial_Refused(t *testing.T) {
	s := wsserver.New()
	s.Events.OnWebSocketOpenRequest = func(e *wsserver.WebSocketOpenRequestEvent) { e.StatusCode = 403 }
	defer s.ShutdownContext(context.Background())
	_, err := wstest.DialHandler(ctxLimit(t), s, "/", nil)
	var he *wstest.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("got %v, want a HandshakeError with 403", err)
	}
	// Headers (the Host too) and subprotocols reach the server.
	s2 := wsserver.New()
	got := make(chan string, 1)
	s2.Events.OnWebSocketOpenRequest = func(e *wsserver.WebSocketOpenRequestEvent) {
		got <- e.HostHeader + " " + e.OriginHeader + " " + e.SubProtocols
		e.SubProtocols = "chat"
	}
	defer s2.ShutdownContext(context.Background())
	c, err := wstest.DialHandler(ctxLimit(t), s2, "/", &wstest.Options{Header: http.Header{"Host": {"example.test"}, "Origin": {"http://example.test"}}, Subprotocols: []string{"chat", "v2"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "example.test http://example.test chat, v2" {
		t.Fatalf("server saw %q", g)
	}
	if c.Subprotocol() != "chat" {
		t.Fatalf("Subprotocol() = %q", c.Subprotocol())
	}
	c.Close(1000, "")
}

// The client is strict: a masked frame from the server (RFC 6455 section
// 5.1) fails the connection with 1002 and an error that says why.
func TestConn_RejectsMaskedServerFrame(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer nc.Close()
		key := r.Header.Get("Sec-WebSocket-Key")
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept(key) + "\r\n\r\n")
		brw.Write([]byte{0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1}) // masked "x"
		brw.Flush()
		bufio.NewReader(nc).ReadByte() // wait for the client's close
	})
	c, err := wstest.DialHandler(ctxLimit(t), h, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadMessage(ctxLimit(t))
	if err == nil || !contains(err.Error(), "masked") {
		t.Fatalf("got %v, want an error about a masked frame", err)
	}
	c.Abort()
}

package wsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
	"github.com/wsserver/wsserver/wstest"
)

// The tests of issue 14's Go-native API: each runs on the three ways a
// connection is served: its own goroutine, an event loop, and net/http.

// servingWay serves a Server one way and dials it with the wstest client.
type servingWay struct {
	name string
	// start serves s (whose events and settings are set) and returns a
	// dial function for a path with extra headers.
	start func(t *testing.T, s *Server) func(path string, hdr http.Header) (*wstest.Conn, error)
}

// wsURL turns an http:// URL into ws://.
func wsURL(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

var transports = []servingWay{
	{"goroutine", func(t *testing.T, s *Server) func(string, http.Header) (*wstest.Conn, error) {
		url := startServer(t, s)
		return func(path string, hdr http.Header) (*wstest.Conn, error) {
			return wstest.Dial(context.Background(), url+path, &wstest.Options{Header: hdr})
		}
	}},
	{"EventLoop", func(t *testing.T, s *Server) func(string, http.Header) (*wstest.Conn, error) {
		if _, err := s.Config("EventLoop=True"); err != nil {
			t.Fatal(err)
		}
		url := startServer(t, s)
		return func(path string, hdr http.Header) (*wstest.Conn, error) {
			return wstest.Dial(context.Background(), url+path, &wstest.Options{Header: hdr})
		}
	}},
	{"net/http", func(t *testing.T, s *Server) func(string, http.Header) (*wstest.Conn, error) {
		// Middleware stores a value in the request's context, as auth
		// middleware does.
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "from middleware")))
		}))
		t.Cleanup(func() {
			s.ShutdownContext(context.Background())
			hs.Close()
		})
		return func(path string, hdr http.Header) (*wstest.Conn, error) {
			return wstest.Dial(context.Background(), wsURL(hs.URL)+path, &wstest.Options{Header: hdr})
		}
	}},
}

type ctxKey struct{}

// eachTransport runs f once per transport, each with a new Server that
// setup prepares before it is served.
func eachTransport(t *testing.T, setup func(s *Server), f func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			checkGoroutines(t)
			s := New()
			setup(s)
			dialer := tr.start(t, s)
			var conns []*wstest.Conn
			var mu sync.Mutex
			t.Cleanup(func() {
				mu.Lock()
				defer mu.Unlock()
				for _, c := range conns {
					c.Abort()
				}
			})
			f(t, s, func(path string, hdr http.Header) *wstest.Conn {
				t.Helper()
				c, err := dialer(path, hdr)
				if err != nil {
					t.Fatalf("dial %s: %v", path, err)
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				return c
			})
		})
	}
}

func ctxWait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// Issue 14: OnMessage delivers each message whole, whatever its framing, and
// a 200,000-byte message is one OnMessage call (not three DataIn pieces);
// DataIn still fires per piece beside it, as the reference says.
func TestOnMessage_WholeMessages(t *testing.T) {
	type got struct {
		format DataFormat
		data   string
		pieces int
	}
	var mu sync.Mutex
	pieces := 0
	msgs := make(chan got, 10)
	eachTransport(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) {
			mu.Lock()
			pieces++
			mu.Unlock()
		}
		s.Events.OnMessage = func(e *MessageEvent) {
			mu.Lock()
			n := pieces
			pieces = 0
			mu.Unlock()
			if e.Connection == nil || e.Connection.ID() != e.ConnectionID {
				t.Errorf("MessageEvent.Connection %v for ConnectionID %d", e.Connection, e.ConnectionID)
			}
			msgs <- got{e.DataFormat, string(e.Data), n}
			s.SendMessage(e.ConnectionID, e.DataFormat, e.Data) // echo
		}
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		mu.Lock()
		pieces = 0
		mu.Unlock()
		c := dial("/", nil)
		ctx := ctxWait(t)
		// A text message in three frames.
		c.WriteFrame(false, 1, []byte("frag-1 "))
		c.WriteFrame(false, 0, []byte("frag-2 "))
		c.WriteFrame(true, 0, []byte("frag-3"))
		m := wiretest.Receive(t, msgs, "OnMessage of a fragmented message")
		if m.format != FormatText || m.data != "frag-1 frag-2 frag-3" || m.pieces < 3 {
			t.Fatalf("OnMessage got %v %q after %d DataIn pieces; want text \"frag-1 frag-2 frag-3\" after 3", m.format, m.data, m.pieces)
		}
		if got, err := c.ReadText(ctx); err != nil || got != "frag-1 frag-2 frag-3" {
			t.Fatalf("echo: %q, %v", got, err)
		}
		// A 200,000-byte binary message: more than one read.
		big := bytes.Repeat([]byte("0123456789"), 20000)
		c.WriteBinary(big)
		m = wiretest.Receive(t, msgs, "OnMessage of 200,000 bytes")
		if m.format != FormatBinary || m.data != string(big) {
			t.Fatalf("OnMessage got %v with %d bytes, want binary with %d", m.format, len(m.data), len(big))
		}
		echo, err := c.ReadMessage(ctx)
		if err != nil || echo.Type != wstest.Binary || !bytes.Equal(echo.Data, big) {
			t.Fatalf("echo of 200,000 bytes: %d bytes, %v", len(echo.Data), err)
		}
		if _, err := c.Close(1000, "done"); err != nil {
			t.Fatal(err)
		}
	})
}

// Issue 14: OnMessage is bounded by MaxMessageSize: a larger message closes
// the connection with 1009 and never reaches the handler.
func TestOnMessage_MaxMessageSize(t *testing.T) {
	eachTransport(t, func(s *Server) {
		s.Configure(WithMaxMessageSize(1000))
		s.Events.OnMessage = func(e *MessageEvent) {
			if len(e.Data) > 1000 {
				t.Errorf("OnMessage got %d bytes over MaxMessageSize", len(e.Data))
			}
		}
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		c := dial("/", nil)
		c.WriteFrame(false, 2, make([]byte, 600))
		c.WriteFrame(true, 0, make([]byte, 600))
		_, err := c.ReadMessage(ctxWait(t))
		var ce *wstest.CloseError
		if !errors.As(err, &ce) || ce.Code != 1009 {
			t.Fatalf("after 1200 bytes with MaxMessageSize 1000: %v, want close 1009", err)
		}
	})
}

// Issue 14: a value stored on the connection is reachable from every event:
// set in WebSocketOpenRequest, read in Connected, OnMessage, DataIn (via
// Server.Value) and Disconnected.
func TestConnectionValue_ReachableFromEveryEvent(t *testing.T) {
	type user struct{ name string }
	seen := make(chan string, 20)
	eachTransport(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) {
			e.Connection.SetValue(&user{name: strings.TrimPrefix(e.RequestURI, "/as/")})
		}
		s.Events.OnConnected = func(e *ConnectedEvent) {
			seen <- "Connected " + e.Connection.Value().(*user).name
		}
		s.Events.OnDataIn = func(e *DataInEvent) {
			seen <- "DataIn " + s.Value(e.ConnectionID).(*user).name
		}
		s.Events.OnMessage = func(e *MessageEvent) {
			seen <- "Message " + e.Connection.Value().(*user).name
		}
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			seen <- "Disconnected " + e.Connection.Value().(*user).name
		}
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		c := dial("/as/ada", nil)
		c.WriteText("hi")
		c.Close(1000, "")
		for _, want := range []string{"Connected ada", "DataIn ada", "Message ada", "Disconnected ada"} {
			if got := wiretest.Receive(t, seen, want); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		if v := s.Value(12345); v != nil {
			t.Fatalf("Value of an unknown connection: %v", v)
		}
		wantCode(t, "SetValue(unknown)", s.SetValue(12345, 1), ErrInvalidConnectionID)
	})
}

// Issue 14: WebSocketOpenRequest and Connected reach the upgrade request as
// an *http.Request (net/http's own under ServeHTTP, with the middleware's
// context values; built from the head on the server's listener), and it is
// gone afterwards.
func TestConnectionRequest_DuringOpen(t *testing.T) {
	type seen struct {
		event, path, query, cookie, remote, mw string
		ctxOK                                  bool
	}
	ch := make(chan seen, 10)
	after := make(chan bool, 10)
	record := func(event string, c *Connection) {
		r := c.Request()
		if r == nil {
			ch <- seen{event: event + ": nil request"}
			return
		}
		ck, _ := r.Cookie("session")
		sv := seen{event: event, path: r.URL.Path, query: r.URL.Query().Get("room"), remote: r.RemoteAddr, ctxOK: r.Context() != nil}
		if ck != nil {
			sv.cookie = ck.Value
		}
		if v, ok := r.Context().Value(ctxKey{}).(string); ok {
			sv.mw = v
		}
		ch <- sv
	}
	eachTransport(t, func(s *Server) {
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { record("WebSocketOpenRequest", e.Connection) }
		s.Events.OnConnected = func(e *ConnectedEvent) { record("Connected", e.Connection) }
		s.Events.OnMessage = func(e *MessageEvent) { after <- e.Connection.Request() == nil }
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		c := dial("/chat?room=go", http.Header{"Cookie": {"session=s3cr3t"}})
		for _, ev := range []string{"WebSocketOpenRequest", "Connected"} {
			got := wiretest.Receive(t, ch, ev)
			if got.event != ev || got.path != "/chat" || got.query != "go" || got.cookie != "s3cr3t" || !strings.HasPrefix(got.remote, "127.0.0.1:") || !got.ctxOK {
				t.Fatalf("%s: request seen as %+v", ev, got)
			}
			if strings.Contains(t.Name(), "net/http") && got.mw != "from middleware" {
				t.Fatalf("%s under net/http: the middleware's context value is %q", ev, got.mw)
			}
		}
		c.WriteText("later")
		if gone := wiretest.Receive(t, after, "OnMessage"); !gone {
			t.Fatal("Request() is still there after Connected")
		}
		c.Close(1000, "")
	})
}

// Issue 14: a connection's Context is cancelled when the connection ends,
// with a cause that says so; under net/http it carries the request
// context's values, though ServeHTTP has returned.
func TestConnectionContext_CancelledWhenConnectionEnds(t *testing.T) {
	ctxs := make(chan context.Context, 4)
	eachTransport(t, func(s *Server) {
		s.Events.OnConnected = func(e *ConnectedEvent) { ctxs <- e.Connection.Context() }
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		c := dial("/", nil)
		ctx := wiretest.Receive(t, ctxs, "Connected")
		if ctx.Err() != nil {
			t.Fatalf("the context of an open connection is done: %v", ctx.Err())
		}
		if strings.Contains(t.Name(), "net/http") && ctx.Value(ctxKey{}) != "from middleware" {
			t.Fatalf("under net/http the connection's context lacks the request's values")
		}
		c.Close(1000, "")
		select {
		case <-ctx.Done():
		case <-time.After(waitLimit):
			t.Fatal("the connection's context was not cancelled when it ended")
		}
		if !errors.Is(context.Cause(ctx), errConnectionEnded) {
			t.Fatalf("cause %v", context.Cause(ctx))
		}
	})
}

// Issue 14: SendJSON sends a text message of JSON; MessageEvent.Reader reads
// a message with a decoder; MessageWriter streams one message out in pieces.
func TestSendJSON_Reader_MessageWriter(t *testing.T) {
	type point struct{ X, Y int }
	eachTransport(t, func(s *Server) {
		s.Events.OnMessage = func(e *MessageEvent) {
			var p point
			if err := json.NewDecoder(e.Reader()).Decode(&p); err != nil {
				t.Errorf("decoding %q: %v", e.Data, err)
				return
			}
			id := e.ConnectionID
			// Not from the handler: MessageWriter blocks until written.
			go func() {
				if err := s.SendJSON(id, point{p.X * 2, p.Y * 2}); err != nil {
					t.Errorf("SendJSON: %v", err)
				}
				w, err := s.MessageWriter(id, FormatText)
				if err != nil {
					t.Errorf("MessageWriter: %v", err)
					return
				}
				for _, part := range []string{"one ", "two ", "three"} {
					if _, err := io.WriteString(w, part); err != nil {
						t.Errorf("Write: %v", err)
					}
				}
				if err := w.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
		}
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		c := dial("/", nil)
		ctx := ctxWait(t)
		c.WriteText(`{"X":1,"Y":2}`)
		if got, err := c.ReadText(ctx); err != nil || got != `{"X":2,"Y":4}` {
			t.Fatalf("SendJSON: %q, %v", got, err)
		}
		if got, err := c.ReadText(ctx); err != nil || got != "one two three" {
			t.Fatalf("MessageWriter: %q, %v", got, err)
		}
		wantCode(t, "SendJSON(a channel)", s.SendJSON(s.Connections()[0].ID(), make(chan int)), ErrInvalidValue)
		c.Close(1000, "")
	})
}

// Issue 14: SendContext waits until the data is written and gives up when
// its context ends, with 10004 for a cancellation and 10060 for a deadline
// (errors.Is also matches the context's error), like Timeout does.
func TestSendContext_HonoursCancellation(t *testing.T) {
	for _, loop := range []string{"False", "True"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("EventLoop=" + loop)
				s.Config("SendQueueSize=65536")
			})
			r, id := h.rawOpen(t, wiretest.Options{Control: smallRcvBuf}) // a client that reads nothing
			_ = r
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			err := h.s.SendContext(cancelled, id, FormatBinary, []byte("x"))
			wantCode(t, "SendContext(cancelled)", err, ErrInterrupted)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("errors.Is(%v, context.Canceled) is false", err)
			}
			// Fill the socket and the queue until a send must wait, then let
			// the context's deadline end it.
			chunk := make([]byte, 256<<10)
			deadline := time.Now().Add(waitLimit)
			for i := 0; ; i++ {
				if time.Now().After(deadline) || i > 10000 {
					t.Fatal("the socket never filled")
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				err = h.s.SendContext(ctx, id, FormatBinary, chunk)
				cancel()
				if err != nil {
					break
				}
			}
			wantCode(t, "SendContext to a full socket", err, ErrTimedOut)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("errors.Is(%v, context.DeadlineExceeded) is false", err)
			}
			if c, cerr := h.s.Connection(id); cerr != nil || !c.Connected() {
				t.Fatalf("the connection did not survive a SendContext that gave up: %v", cerr)
			}
		})
	}
}

// Issue 14: on the server's own TLS listener (UseSSL), the request built
// for WebSocketOpenRequest and Connected carries the TLS state, and
// Connection.TLS reports it for the connection's life.
func TestConnectionRequest_TLSState(t *testing.T) {
	env := newTLSEnv(t)
	type seen struct {
		event      string
		serverName string
		version    uint16
	}
	ch := make(chan seen, 4)
	h := env.start(t, func(s *Server) {
		rec := func(event string, c *Connection) {
			r := c.Request()
			if r == nil || r.TLS == nil || c.TLS() == nil {
				ch <- seen{event: event + " without TLS state"}
				return
			}
			ch <- seen{event, r.TLS.ServerName, c.TLS().Version}
		}
		s.Events.OnWebSocketOpenRequest = func(e *WebSocketOpenRequestEvent) { rec("WebSocketOpenRequest", e.Connection) }
		s.Events.OnConnected = func(e *ConnectedEvent) { rec("Connected", e.Connection) }
	})
	_, state, _ := wssOpen(t, h, env.client())
	for _, ev := range []string{"WebSocketOpenRequest", "Connected"} {
		got := wiretest.Receive(t, ch, ev)
		if got.event != ev || got.serverName != "server.test" || got.version != state.Version {
			t.Fatalf("%s: %+v, want server.test and version %#x", ev, got, state.Version)
		}
	}
}

// Issue 14: SendContext through net/http gives up on a client that reads
// nothing when its context's deadline passes, as on the server's listener.
func TestSendContext_NetHTTP(t *testing.T) {
	checkGoroutines(t)
	s := New()
	s.Config("SendQueueSize=65536")
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.ShutdownContext(context.Background())
		hs.Close()
	})
	rawDial(t, strings.TrimPrefix(hs.URL, "http://"), wiretest.Options{Control: smallRcvBuf}) // reads nothing
	wiretest.WaitUntil(t, "the connection opens", func() bool { return s.ConnectionCount() == 1 })
	id := s.Connections()[0].ID()
	chunk := make([]byte, 256<<10)
	deadline := time.Now().Add(waitLimit)
	var err error
	for i := 0; err == nil; i++ {
		if time.Now().After(deadline) || i > 10000 {
			t.Fatal("the socket never filled")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = s.SendContext(ctx, id, FormatBinary, chunk)
		cancel()
	}
	wantCode(t, "SendContext to a full socket", err, ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("errors.Is(%v, context.DeadlineExceeded) is false", err)
	}
}

// Issue 14: OnMessage beside the reference's other deliveries: with
// BufferMessage DataIn gets the whole message first; in LineMode DataIn gets
// lines while OnMessage still gets the whole message; a compressed message
// (permessage-deflate) arrives whole too.
func TestOnMessage_BesideBufferMessageLineModeAndDeflate(t *testing.T) {
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	done := make(chan struct{}, 10)
	for _, loop := range []string{"False", "True"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("EventLoop=" + loop)
				s.Events.OnDataIn = func(e *DataInEvent) { add("DataIn " + e.Text()) }
				s.Events.OnMessage = func(e *MessageEvent) {
					add("Message " + e.Text())
					done <- struct{}{}
				}
			})
			reset := func() []string {
				mu.Lock()
				defer mu.Unlock()
				l := log
				log = nil
				return l
			}
			check := func(what string, want ...string) {
				t.Helper()
				wiretest.Receive(t, done, what)
				if got := reset(); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Fatalf("%s: events %q, want %q", what, got, want)
				}
			}
			reset()

			// BufferMessage: DataIn whole, then OnMessage.
			h.s.Config("BufferMessage=True")
			c1, _ := h.dial(t, "/", nil)
			c1.WriteMessage(1, []byte("whole"))
			check("BufferMessage", "DataIn whole", "Message whole")

			// LineMode: DataIn per line, OnMessage whole.
			h.s.Config("BufferMessage=False")
			c2, id2 := h.dial(t, "/", nil)
			h.s.ChangeLineMode(id2, true)
			c2.WriteMessage(1, []byte("a\nb\n"))
			check("LineMode", "DataIn a", "DataIn b", "Message a\nb\n")

			// permessage-deflate: a compressed message arrives whole.
			d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
			c3, resp, err := d.Dial(h.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c3.Close()
			if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Fatal("permessage-deflate not negotiated")
			}
			h.nextID(t)
			msg := strings.Repeat("compressible ", 5000)
			c3.WriteMessage(1, []byte(msg))
			wiretest.Receive(t, done, "compressed message")
			got := reset()
			if len(got) == 0 || got[len(got)-1] != "Message "+msg {
				t.Fatalf("the compressed message did not reach OnMessage whole (%d events)", len(got))
			}
		})
	}
}

// Issue 14: a panic in OnMessage is caught like any handler's: Error
// reports it and the connection closes with 1011.
func TestOnMessage_PanicClosesWith1011(t *testing.T) {
	eachTransport(t, func(s *Server) {
		s.Events.OnMessage = func(e *MessageEvent) { panic("boom") }
	}, func(t *testing.T, s *Server, dial func(string, http.Header) *wstest.Conn) {
		c := dial("/", nil)
		c.WriteText("x")
		_, err := c.ReadMessage(ctxWait(t))
		var ce *wstest.CloseError
		if !errors.As(err, &ce) || ce.Code != 1011 {
			t.Fatalf("after a panic in OnMessage: %v, want close 1011", err)
		}
	})
}

// Issue 14: with OnMessage alone, a compressed message is inflated in one
// pass (the whole-message inflater) and arrives whole.
func TestOnMessage_DeflateWithoutDataIn(t *testing.T) {
	for _, loop := range []string{"False", "True"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			h := newHarness(t, func(s *Server) {
				s.Config("EventLoop=" + loop)
				s.Events.OnMessage = func(e *MessageEvent) { s.SendMessage(e.ConnectionID, e.DataFormat, e.Data) }
			})
			d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
			c, _, err := d.Dial(h.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, n := range []int{10, 5000, 300000} {
				msg := strings.Repeat("compressible ", n)
				c.WriteMessage(websocket.TextMessage, []byte(msg))
				if typ, got := readMessage(t, c); typ != websocket.TextMessage || string(got) != msg {
					t.Fatalf("echo of %d bytes: type %d, %d bytes", len(msg), typ, len(got))
				}
			}
		})
	}
}

package wsserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Interop tests with the github.com/coder/websocket client: messages of
// every kind and size, compression with and without context takeover,
// ping/pong and every way a connection closes.

// coderClient is a coder connection with the socket under it, for tests
// that write raw bytes.
type coderClient struct {
	*websocket.Conn
	resp *http.Response
	mu   sync.Mutex
	nc   net.Conn
}

// dialCoder opens a coder client; it is closed when the test ends.
func dialCoder(t *testing.T, h *harness, opts *websocket.DialOptions) (*coderClient, int) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	cc := &coderClient{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		cc.mu.Lock()
		cc.nc = nc
		cc.mu.Unlock()
		return nc, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	opts.HTTPClient = &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, h.url, opts)
	if err != nil {
		t.Fatalf("coder dial: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	cc.Conn, cc.resp = conn, resp
	return cc, h.nextID(t)
}

func ctxLimit(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// coderEcho starts a server that echoes whole messages (BufferMessage).
func coderEcho(t *testing.T, setup func(*Server)) *harness {
	return newHarness(t, func(s *Server) {
		s.Config("BufferMessage=true")
		s.Events.OnDataIn = func(e *DataInEvent) {
			if err := s.SendMessage(e.ConnectionID, e.DataFormat, e.TextB); err != nil {
				t.Errorf("echo: %v", err)
			}
		}
		if setup != nil {
			setup(s)
		}
	})
}

// roundTrip writes a message and reads the echo.
func roundTrip(t *testing.T, c *coderClient, typ websocket.MessageType, msg []byte) {
	t.Helper()
	roundTripWithin(t, c, typ, msg, waitLimit)
}

// roundTripWithin is roundTrip with its own bound, for messages whose
// round trip takes long under the race detector on a busy machine.
func roundTripWithin(t *testing.T, c *coderClient, typ websocket.MessageType, msg []byte, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	gotTyp, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if gotTyp != typ || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes type %v came back as %d bytes type %v", len(msg), typ, len(got), gotTyp)
	}
}

func TestCoder_TextAndBinary(t *testing.T) {
	h := coderEcho(t, nil)
	c, _ := dialCoder(t, h, nil)
	roundTrip(t, c, websocket.MessageText, []byte("hello, coder ✓"))
	roundTrip(t, c, websocket.MessageBinary, []byte{0, 1, 2, 0xFF})
	roundTrip(t, c, websocket.MessageText, nil)
	roundTrip(t, c, websocket.MessageBinary, bytes.Repeat([]byte{7}, 70000))
}

func TestCoder_FragmentedWriter(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDataIn = func(e *DataInEvent) { ev.Add("%s", dataIn(e)) }
	})
	c, id := dialCoder(t, h, nil)
	ctx := ctxLimit(t)
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"frag-1 ", "frag-2 ", "frag-3"} {
		if _, err := w.Write([]byte(part)); err != nil { // one frame each
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // the final, empty frame
		t.Fatal(err)
	}
	got := ev.WaitMatch(t, "the last piece", func(s string) bool { return strings.HasSuffix(s, "eom=true eol=false") })
	var text strings.Builder
	for i, e := range got {
		var format int
		var piece string
		var eom bool
		fmt.Sscanf(e, "%d %q eom=%t", &format, &piece, &eom)
		text.WriteString(piece)
		if (i == 0) != (format == 1) || (i > 0 && format != 0) {
			t.Fatalf("piece %d has DataFormat %d; want 1 first, then 0: %q", i, format, got)
		}
		if eom != (i == len(got)-1) {
			t.Fatalf("EOM on piece %d of %d: %q", i, len(got), got)
		}
	}
	if text.String() != "frag-1 frag-2 frag-3" {
		t.Fatalf("pieces add up to %q", text.String())
	}
	if len(got) < 3 {
		t.Fatalf("a message of 4 frames fired DataIn %d times", len(got))
	}
	// And the server's fragmented message is one message for coder.
	h.s.Config(fmt.Sprintf("MessageLength[%d]=6", id))
	h.s.SendText(id, "abc")
	h.s.SendText(id, "def")
	if typ, p, err := c.Read(ctx); err != nil || typ != websocket.MessageText || string(p) != "abcdef" {
		t.Fatalf("coder read %v %q %v", typ, p, err)
	}
}

func TestCoder_16MiB(t *testing.T) {
	h := coderEcho(t, nil)
	c, _ := dialCoder(t, h, nil)
	msg := bytes.Repeat([]byte("sixteen mebibytes "), (16<<20)/18+1)[:16<<20]
	// 32 MiB each way under the race detector: 12 s on an idle 2-core
	// machine, more than waitLimit when other tests load it.
	roundTripWithin(t, c, websocket.MessageBinary, msg, time.Minute)
	roundTripWithin(t, c, websocket.MessageText, msg, time.Minute)
}

func TestCoder_Compression(t *testing.T) {
	for _, mode := range []websocket.CompressionMode{websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover} {
		for _, serverNoTakeover := range []bool{true, false} {
			name := fmt.Sprintf("mode=%d/ServerNoContextTakeover=%v", mode, serverNoTakeover)
			t.Run(name, func(t *testing.T) {
				h := coderEcho(t, func(s *Server) {
					s.Config(fmt.Sprintf("ServerNoContextTakeover=%v", serverNoTakeover))
				})
				c, id := dialCoder(t, h, &websocket.DialOptions{CompressionMode: mode, CompressionThreshold: 64})
				ext := c.resp.Header.Get("Sec-WebSocket-Extensions")
				if !strings.HasPrefix(ext, "permessage-deflate") {
					t.Fatalf("extensions %q: permessage-deflate not negotiated", ext)
				}
				wantServerNoTakeover := serverNoTakeover || mode == websocket.CompressionNoContextTakeover
				if strings.Contains(ext, "server_no_context_takeover") != wantServerNoTakeover {
					t.Fatalf("extensions %q", ext)
				}
				if got := h.conn(t, id).Extensions(); got != ext {
					t.Fatalf("Extensions() = %q, response said %q", got, ext)
				}
				// Similar messages in a row: with context takeover each one
				// refers back to the one before.
				for i := range 5 {
					msg := []byte(strings.Repeat(fmt.Sprintf("compressible message %d; ", i%2), 200))
					roundTrip(t, c, websocket.MessageText, msg)
				}
				roundTrip(t, c, websocket.MessageBinary, bytes.Repeat([]byte{0}, 1<<20))
				roundTrip(t, c, websocket.MessageText, []byte("short"))
			})
		}
	}
}

func TestCoder_PingPong(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnPing = func(e *PingEvent) { ev.Add("Ping response=%v", e.Response) }
	})
	c, id := dialCoder(t, h, nil)
	ctx := c.CloseRead(ctxLimit(t)) // a reader, which coder needs to see pongs and answer pings
	// The client pings: the server answers and reports it.
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("coder Ping: %v", err)
	}
	ev.WaitFor(t, "Ping response=false")
	// The server pings, waiting for the pong (Timeout > 0).
	h.conn(t, id).SetTimeout(5)
	if err := h.s.Ping(id); err != nil {
		t.Fatalf("server Ping: %v", err)
	}
	ev.WaitFor(t, "Ping response=true")
}

func TestCoder_ClientCloses(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Events.OnDisconnected = func(e *DisconnectedEvent) {
			ev.Add("Disconnected %d %d %q", e.ConnectionID, e.StatusCode, e.Description)
		}
	})
	for _, tc := range []struct {
		code   websocket.StatusCode
		reason string
	}{
		{websocket.StatusNormalClosure, "bye"},
		{websocket.StatusGoingAway, "navigating away"},
		{websocket.StatusPolicyViolation, ""},
		{3000, "library code"},
		{4999, "application code"},
	} {
		c, id := dialCoder(t, h, nil)
		// coder's Close waits for the server's close frame.
		if err := c.Close(tc.code, tc.reason); err != nil {
			t.Fatalf("close %d: %v", tc.code, err)
		}
		ev.WaitFor(t, fmt.Sprintf("Disconnected %d %d %q", id, tc.code, tc.reason))
	}
	// Dropping the connection without a close frame: 1006.
	c, id := dialCoder(t, h, nil)
	c.CloseNow()
	ev.WaitPrefix(t, fmt.Sprintf("Disconnected %d 1006 ", id))
}

// coderCloseStatus reads until the connection fails and returns the close
// frame coder received.
func coderCloseStatus(t *testing.T, c *coderClient) websocket.CloseError {
	t.Helper()
	ctx := ctxLimit(t)
	for range 1000 {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: %v; want a close frame", err)
		}
		return ce
	}
	t.Fatal("no close frame")
	return websocket.CloseError{}
}

func TestCoder_ServerDisconnectStatus(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Config("DisconnectStatusCode=4001")
		s.Config("DisconnectStatusDescription=down for maintenance")
	})
	c, id := dialCoder(t, h, nil)
	h.s.Disconnect(id)
	if ce := coderCloseStatus(t, c); ce.Code != 4001 || ce.Reason != "down for maintenance" {
		t.Fatalf("coder got close %d %q", ce.Code, ce.Reason)
	}
	// An explicit code and reason.
	c2, id2 := dialCoder(t, h, nil)
	h.s.DisconnectWithCode(id2, 1008, "policy")
	if ce := coderCloseStatus(t, c2); ce.Code != websocket.StatusPolicyViolation || ce.Reason != "policy" {
		t.Fatalf("coder got close %d %q, want 1008 \"policy\"", ce.Code, ce.Reason)
	}
}

func TestCoder_ShutdownDefaultCode(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := dialCoder(t, h, nil)
	c2, _ := dialCoder(t, h, nil)
	h.s.Shutdown()
	for _, cc := range []*coderClient{c, c2} {
		if ce := coderCloseStatus(t, cc); ce.Code != websocket.StatusNormalClosure || ce.Reason != "Normal closure" {
			t.Fatalf("coder got close %d %q, want 1000 \"Normal closure\"", ce.Code, ce.Reason)
		}
	}
}

func TestCoder_ProtocolError1002(t *testing.T) {
	ev := wiretest.NewRecorder()
	h := newHarness(t, func(s *Server) {
		s.Config("CloseTimeout=0.3")
		s.Events.OnDisconnected = func(e *DisconnectedEvent) { ev.Add("Disconnected %d %d", e.ConnectionID, e.StatusCode) }
	})
	c, id := dialCoder(t, h, nil)
	// A frame with a reserved opcode, written under coder.
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	nc.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := nc.Write(wiretest.Client(true, 0x3, []byte("reserved")).Bytes()); err != nil {
		t.Fatal(err)
	}
	if ce := coderCloseStatus(t, c); ce.Code != websocket.StatusProtocolError {
		t.Fatalf("coder got close %d %q, want 1002", ce.Code, ce.Reason)
	}
	ev.WaitFor(t, fmt.Sprintf("Disconnected %d 1002", id))
}

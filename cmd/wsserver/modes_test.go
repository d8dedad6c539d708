package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestEchoTypes(t *testing.T) {
	ta := startApp(t)
	c := dial(t, ta.ws)
	for _, m := range []struct {
		typ  int
		data []byte
	}{
		{websocket.TextMessage, []byte("hello, мир")},
		{websocket.BinaryMessage, []byte{0, 1, 2, 255}},
		{websocket.TextMessage, nil},
		{websocket.BinaryMessage, bytes.Repeat([]byte{7}, 300000)},
	} {
		if err := c.WriteMessage(m.typ, m.data); err != nil {
			t.Fatal(err)
		}
		typ, got := read(t, c)
		if typ != m.typ || !bytes.Equal(got, m.data) {
			t.Fatalf("echo of %d bytes (type %d) came back as %d bytes (type %d)", len(m.data), m.typ, len(got), typ)
		}
	}
}

// TestEchoBackpressure sends far more than the send queue holds to a client
// that does not read yet: every message must come back, in order. On its
// own goroutine the server's reader blocks while it writes its replies; on
// the event loop it cannot, so echoes wait in the outbox and reading pauses.
func TestEchoBackpressure(t *testing.T) {
	for _, loop := range []string{"False", "True"} {
		t.Run("EventLoop="+loop, func(t *testing.T) {
			ta := startApp(t, "--config", "SendQueueSize=65536", "--config", "EnablePermessageDeflate=false", "--config", "EventLoop="+loop)
			c := dial(t, ta.ws)
			const n, size = 400, 64 << 10 // 25 MiB
			msg := func(i int) []byte {
				b := bytes.Repeat([]byte{byte(i)}, size)
				binary.BigEndian.PutUint32(b, uint32(i))
				return b
			}
			wrote := make(chan error, 1)
			go func() {
				for i := range n {
					if err := c.WriteMessage(websocket.BinaryMessage, msg(i)); err != nil {
						wrote <- err
						return
					}
				}
				wrote <- nil
			}()
			time.Sleep(300 * time.Millisecond) // let the queues fill; not needed for correctness
			for i := range n {
				typ, got := read(t, c)
				if typ != websocket.BinaryMessage || !bytes.Equal(got, msg(i)) {
					t.Fatalf("message %d: got %d bytes starting %x", i, len(got), got[:min(8, len(got))])
				}
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			t.Logf("%d echoes waited for ReadyToSend", ta.deferred.Load())
		})
	}
}

func TestBroadcast(t *testing.T) {
	ta := startApp(t, "broadcast")
	a, b, c := dial(t, ta.ws), dial(t, ta.ws), dial(t, ta.ws)
	eventually(t, "three connections are registered", func() bool { return ta.registered() == 3 })
	a.WriteMessage(websocket.TextMessage, []byte("from a"))
	for _, conn := range []*websocket.Conn{b, c} {
		if _, got := read(t, conn); string(got) != "from a" {
			t.Fatalf("got %q, want %q", got, "from a")
		}
	}
	// a did not get its own message: the next thing it reads is b's.
	b.WriteMessage(websocket.BinaryMessage, []byte("from b"))
	if typ, got := read(t, a); typ != websocket.BinaryMessage || string(got) != "from b" {
		t.Fatalf("a got %q (type %d), want b's binary message", got, typ)
	}
	if _, got := read(t, c); string(got) != "from b" {
		t.Fatalf("c got %q", got)
	}
}

// TestBroadcastSlowReceiver checks that a receiver that does not read gets
// every message, in order, once it does, and that the dashboard's slowest
// queues and /metrics show what waits for it meanwhile.
func TestBroadcastSlowReceiver(t *testing.T) {
	ta := startApp(t, "--config", "SendQueueSize=65536", "--config", "EnablePermessageDeflate=false", "broadcast")
	sender, slow := dial(t, ta.ws), dial(t, ta.ws)
	eventually(t, "two connections are registered", func() bool { return ta.registered() == 2 })
	const n = 200
	for i := range n {
		if err := sender.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("%d:%s", i, strings.Repeat("x", 32<<10)))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "some message waits for ReadyToSend", func() bool { return ta.deferred.Load() > 0 })
	// Issue 12: the dashboard's slowest queues (/events) and /metrics show
	// what waits for the slow receiver.
	if q := value(t, scrape(t, ta.base), "wsserver_outbox_bytes"); q <= 0 {
		t.Errorf("wsserver_outbox_bytes = %v while messages wait", q)
	}
	u := readUpdate(t, dial(t, strings.Replace(ta.ws, "/ws", "/events", 1)))
	if len(u.Slowest) == 0 || u.Slowest[0].ID != ta.srv.Connections()[1].ID() || u.Slowest[0].Queued <= 0 {
		t.Errorf("slowest queues in the watcher's update: %+v", u.Slowest)
	}
	for i := range n {
		_, got := read(t, slow)
		if want := fmt.Sprintf("%d:", i); !strings.HasPrefix(string(got), want) {
			t.Fatalf("message %d starts %q", i, got[:min(10, len(got))])
		}
	}
}

func TestStatic(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("my own page"), 0o644); err != nil {
		t.Fatal(err)
	}
	ta := startApp(t, "--static", dir)
	if got := get(t, ta.base+"/"); got != "my own page" {
		t.Fatalf("/ = %q", got)
	}
	if got := get(t, ta.base+pagePrefix); !strings.Contains(got, "<title>wsserver</title>") {
		t.Fatalf("%s is not the built-in page", pagePrefix)
	}
	// The WebSocket stays beside the files, at /ws and on any other path.
	for _, url := range []string{ta.ws, strings.TrimSuffix(ta.ws, "/ws") + "/anything"} {
		c := dial(t, url)
		c.WriteMessage(websocket.TextMessage, []byte("still echoing"))
		if _, got := read(t, c); string(got) != "still echoing" {
			t.Fatalf("%s: %q", url, got)
		}
	}
}

func TestConfigReachesServer(t *testing.T) {
	ta := startApp(t, "--config", "MaxFrameSize=1000", "--config", "LogLevel=3", "--timeout", "4", "--max-connections", "7")
	for name, want := range map[string]string{"MaxFrameSize": "1000", "LogLevel": "3", "MaxConnections": "7"} {
		if got, err := ta.srv.Config(name); err != nil || got != want {
			t.Errorf("Config(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if ta.srv.DefaultTimeout() != 4 {
		t.Errorf("DefaultTimeout %d, want 4", ta.srv.DefaultTimeout())
	}
	if ta.level.Level() != slogLevel(3) {
		t.Errorf("slog level %v, want %v", ta.level.Level(), slogLevel(3))
	}
	// Frames of at most 1000 bytes still carry a whole message.
	c := dial(t, ta.ws)
	c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("y", 5000)))
	if _, got := read(t, c); len(got) != 5000 {
		t.Fatalf("got %d bytes", len(got))
	}
}

// TestMaxConnections checks that a client past --max-connections is refused.
func TestMaxConnections(t *testing.T) {
	ta := startApp(t, "--max-connections", "1")
	dial(t, ta.ws)
	eventually(t, "the first connection is registered", func() bool { return ta.registered() == 1 })
	_, resp, err := websocket.DefaultDialer.Dial(ta.ws, nil)
	if err == nil {
		t.Fatal("a second connection was accepted")
	}
	if resp != nil && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// Issue 12: in broadcast mode a client that asks for the wsserver.sender
// subprotocol learns who sent each message (a JSON envelope); the others
// get the messages as they came.
func TestBroadcastSender(t *testing.T) {
	ta := startApp(t, "broadcast")
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"other", senderProtocol}}
	watcher, resp, err := d.Dial(ta.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer watcher.Close()
	if watcher.Subprotocol() != senderProtocol {
		t.Fatalf("selected subprotocol %q", watcher.Subprotocol())
	}
	plain := dial(t, ta.ws)
	a := dial(t, ta.ws)
	eventually(t, "three connections are registered", func() bool { return ta.registered() == 3 })
	pg := getPage(t, ta.base+"/connections")
	fromID := pg.Connections[2].ID

	a.WriteMessage(websocket.TextMessage, []byte("hi"))
	a.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	for i, want := range []string{`{"from":%d,"type":"text","data":"hi"}`, `{"from":%d,"type":"binary","data":"AAEC"}`} {
		typ, got := read(t, watcher)
		if typ != websocket.TextMessage || string(got) != fmt.Sprintf(want, fromID) {
			t.Errorf("envelope %d: type %d %s", i, typ, got)
		}
	}
	if typ, got := read(t, plain); typ != websocket.TextMessage || string(got) != "hi" {
		t.Errorf("plain client: %d %q", typ, got)
	}
	if typ, got := read(t, plain); typ != websocket.BinaryMessage || !bytes.Equal(got, []byte{0, 1, 2}) {
		t.Errorf("plain client: %d %x", typ, got)
	}
}

// TestIdleKeepAliveClosed_Issue11 plays the row "HTTP keep-alive connections
// after one plain GET, then silence": the command's http.Server closes them
// after HandshakeTimeout (--config), and a slow request head too.
func TestIdleKeepAliveClosed_Issue11(t *testing.T) {
	app := startApp(t, "--config", "HandshakeTimeout=0.5")
	addr := strings.TrimPrefix(app.base, "http://")
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // a whole request, then silence
		"GET / HTTP/1.1\r\nHost: x\r\n",     // a head that never ends
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, nc) // the response, if any, then EOF
		if err != nil {
			t.Errorf("after %q: the server did not close the connection: %v", req, err)
		}
	}
}

// TestHeartbeatDefaults_Issue11 checks that the command turns heartbeats on
// by default (--ping-interval 30s, --pong-timeout 30s) and that the flags
// reach the library's settings.
func TestHeartbeatDefaults_Issue11(t *testing.T) {
	for _, tt := range []struct {
		args           []string
		interval, pong string
	}{
		{nil, "30", "30"},
		{[]string{"--ping-interval", "5s", "--pong-timeout", "2.5s"}, "5", "2.5"},
		{[]string{"--ping-interval", "0"}, "0", "30"},
	} {
		app := startApp(t, tt.args...)
		got, _ := app.srv.Config("PingInterval")
		pong, _ := app.srv.Config("PongTimeout")
		if got != tt.interval || pong != tt.pong {
			t.Errorf("%q: PingInterval %s, PongTimeout %s; want %s, %s", tt.args, got, pong, tt.interval, tt.pong)
		}
	}
}

// Issue 12 ("choose the best transport by default where it is safe"): the
// command serves from the event loops by default where the library has
// them (Linux), and starts with a goroutine per connection elsewhere rather
// than refusing to start; --timeout (sends that wait) keeps the goroutines.
func TestDefaultTransport(t *testing.T) {
	want := "False"
	if runtime.GOOS == "linux" {
		want = "True"
	}
	ta := startApp(t)
	if got, _ := ta.srv.Config("EventLoop"); got != want {
		t.Errorf("by default EventLoop=%s on %s, want %s", got, runtime.GOOS, want)
	}
	c := dial(t, ta.ws)
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, got := read(t, c); string(got) != "hi" {
		t.Fatalf("echo: %q", got)
	}
	if got, _ := startApp(t, "--timeout", "5").srv.Config("EventLoop"); got != "False" {
		t.Errorf("with --timeout EventLoop=%s, want False", got)
	}
}

// Issue 12 (the page's editable subprotocol): the echo server selects the
// first subprotocol a client offers, since browsers fail a connection
// whose server selects none of those they asked for; a client that offers
// none gets none.
func TestEchoSelectsFirstSubprotocol(t *testing.T) {
	ta := startApp(t)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"chat.v2", "chat.v1"}}
	c, resp, err := d.Dial(ta.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer c.Close()
	if c.Subprotocol() != "chat.v2" {
		t.Errorf("selected %q, want chat.v2", c.Subprotocol())
	}
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, got := read(t, c); string(got) != "hi" {
		t.Fatalf("echo: %q", got)
	}
	if plain := dial(t, ta.ws); plain.Subprotocol() != "" {
		t.Errorf("a client that offered none got %q", plain.Subprotocol())
	}
}

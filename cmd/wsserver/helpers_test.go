package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testApp is the command's app serving on 127.0.0.1 with a free port.
type testApp struct {
	*app
	base string // http://127.0.0.1:PORT
	ws   string // ws://127.0.0.1:PORT/ws
	logs *syncBuffer
}

// startApp parses args (plus --port 0 and --host 127.0.0.1), starts the app
// and shuts it down when the test ends.
func startApp(t *testing.T, args ...string) *testApp {
	t.Helper()
	return startAppWith(t, nil, args...)
}

// startAppWith is startApp that lets prepare change the app before it serves.
func startAppWith(t *testing.T, prepare func(a *app), args ...string) *testApp {
	t.Helper()
	o, err := parseArgs(append([]string{"--host", "127.0.0.1", "--port", "0", "--stats", "0"}, args...))
	if err != nil {
		t.Fatalf("parseArgs(%q): %v", args, err)
	}
	logs := &syncBuffer{}
	level := new(slog.LevelVar)
	a, err := newApp(o, newLogger(logs, level, o.logFormat), level)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	if prepare != nil {
		prepare(a)
	}
	addr, err := a.listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := a.serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	root, _, ws := a.urls(addr)
	return &testApp{app: a, base: strings.TrimSuffix(root, "/"), ws: ws, logs: logs}
}

// dial connects a gorilla client to url and closes it when the test ends.
func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return c
}

// read reads one message, failing the test after 10 seconds.
func read(t *testing.T, c *websocket.Conn) (int, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, msg
}

// readClose reads until the server's close frame and returns its code and reason.
func readClose(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 100000 {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("expected a close frame, got %v", err)
	}
	t.Fatal("no close frame after 100000 messages")
	return 0, ""
}

// eventually polls cond every 20 ms for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// registered returns how many connections the command has seen open (its
// Connected handler has run) and not yet closed (its Disconnected handler
// has run).
func (ta *testApp) registered() int {
	f := ta.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.accepted.Load()
	for _, k := range f.closes {
		n -= k
	}
	return int(n)
}

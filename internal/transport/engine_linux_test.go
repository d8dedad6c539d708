package transport

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that keeps what it is fed.
type recorder struct {
	mu    sync.Mutex
	data  []byte
	ended chan error
}

func newRecorder() *recorder { return &recorder{ended: make(chan error, 1)} }

func (r *recorder) Bytes(p []byte) error {
	r.mu.Lock()
	r.data = append(r.data, p...)
	r.mu.Unlock()
	return nil
}

func (r *recorder) ReadTarget() ([]byte, bool) { return nil, false }
func (r *recorder) Ended(err error)            { r.ended <- err }
func (r *recorder) Failed(err error)           {}

func (r *recorder) got() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.data)
}

// pair returns the two ends of a loopback TCP connection: the server's as
// a Conn (raw when raw is set), the client's as a net.Conn.
func pair(t *testing.T, raw bool) (Conn, net.Conn) {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := RawAccept(tl)
	defer ln.Close()
	client, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := Accept(ln, raw)
	if err != nil {
		t.Fatal(err)
	}
	return c, client
}

// waitStopped waits until e's loops, left without connections, have
// stopped (within about idleWait).
func waitStopped(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		running := 0
		for _, p := range e.pollers {
			if p != nil {
				running++
			}
		}
		e.mu.Unlock()
		if running == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("an engine's loops did not stop after their last connection")
}

// TestEngine_ServeFeedsTheHandler checks the event loop transport (issue
// 10): a socket an Engine serves has its bytes fed to its handler, the end
// of the stream reaches Ended on a goroutine, and the loop, left without
// connections, stops (TestMain's leak check sees it gone).
func TestEngine_ServeFeedsTheHandler(t *testing.T) {
	for _, raw := range []bool{true, false} {
		var e Engine
		c, client := pair(t, raw)
		r := newRecorder()
		c.Bind(r)
		if !e.Serve(c, 0) {
			t.Fatalf("raw %v: Serve refused a plain TCP socket", raw)
		}
		if !c.Looped() {
			t.Fatalf("raw %v: Looped is false on a loop", raw)
		}
		client.Write([]byte("hello"))
		deadline := time.Now().Add(10 * time.Second)
		for r.got() != "hello" && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if r.got() != "hello" {
			t.Fatalf("raw %v: the handler got %q", raw, r.got())
		}
		client.Close()
		select {
		case err := <-r.ended:
			if !errors.Is(err, io.EOF) {
				t.Errorf("raw %v: Ended(%v), want io.EOF", raw, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("raw %v: Ended never ran", raw)
		}
		if c.Looped() {
			t.Errorf("raw %v: still Looped after its reading ended", raw)
		}
		c.Close()
		waitStopped(t, &e)
	}
}

// TestEngine_TwoEnginesShareNothing checks that two Engines (two Servers)
// keep their own loops and tables: a socket on one is unknown to the other.
func TestEngine_TwoEnginesShareNothing(t *testing.T) {
	var a, b Engine
	c, client := pair(t, true)
	r := newRecorder()
	c.Bind(r)
	if !a.Serve(c, 0) {
		t.Fatal("Serve refused a raw socket")
	}
	fd := int32(c.FD())
	if a.table.get(fd) == nil {
		t.Fatal("the engine serving the socket has no entry for it")
	}
	if b.table.get(fd) != nil || b.pollers != nil {
		t.Fatal("an engine that serves nothing knows the other's socket")
	}
	client.Close()
	<-r.ended
	c.Close()
	waitStopped(t, &a)
}

// TestRead_GoroutineReader checks the reader goroutine transport: Read
// feeds the handler, waits while reading is off, and ends with Ended.
func TestRead_GoroutineReader(t *testing.T) {
	c, client := pair(t, false)
	r := newRecorder()
	c.Bind(r)
	c.SetReading(false)
	done := make(chan bool, 1)
	go func() { done <- Read(c, r) }()
	client.Write([]byte("held"))
	if !c.Paused() {
		t.Fatal("Paused is false after SetReading(false)")
	}
	c.SetReading(true)
	deadline := time.Now().Add(10 * time.Second)
	for r.got() != "held" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r.got() != "held" {
		t.Fatalf("the handler got %q", r.got())
	}
	client.Close()
	if <-done {
		t.Error("Read yielded instead of ending")
	}
	if err := <-r.ended; !errors.Is(err, io.EOF) {
		t.Errorf("Ended(%v), want io.EOF", err)
	}
	c.Close()
}

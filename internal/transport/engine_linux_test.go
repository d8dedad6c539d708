package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// recorder is a Handler that keeps what it is fed. It opens the
// connection once it has been fed openAt bytes (0: open from the start),
// and records on which reader each Bytes ran.
type recorder struct {
	mu     sync.Mutex
	data   []byte
	openAt int
	c      Conn   // the Conn it reads, to ask Looped
	loops  []bool // per Bytes: whether a loop ran it
	ended  chan error
}

func newRecorder() *recorder { return &recorder{ended: make(chan error, 1)} }

func (r *recorder) Bytes(p []byte) error {
	r.mu.Lock()
	r.data = append(r.data, p...)
	if r.c != nil {
		r.loops = append(r.loops, r.c.Looped())
	}
	r.mu.Unlock()
	return nil
}

func (r *recorder) Opened() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.data) >= r.openAt
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
	c, err := accept(ln, raw)
	if err != nil {
		t.Fatal(err)
	}
	return c, client
}

// hangUp ends a test's connection: the client hangs up, the handler's
// Ended arrives, the server's end closes, and e's loops stop.
func hangUp(t *testing.T, e *Engine, c Conn, client net.Conn, r *recorder) {
	t.Helper()
	client.Close()
	<-r.ended
	c.Close()
	waitStopped(t, e)
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
		e.Serve(c, Policy{EventLoop: true})
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
	a.Serve(c, Policy{EventLoop: true})
	fd := int32(c.FD())
	if a.table.get(fd) == nil {
		t.Fatal("the engine serving the socket has no entry for it")
	}
	if b.table.get(fd) != nil || b.pollers != nil {
		t.Fatal("an engine that serves nothing knows the other's socket")
	}
	hangUp(t, &a, c, client, r)
}

// TestServe_GoroutineReader checks the reader goroutine transport: without
// EventLoop, Serve reads on the calling goroutine, feeds the handler, waits
// while reading is off, and ends with Ended.
func TestServe_GoroutineReader(t *testing.T) {
	var e Engine
	c, client := pair(t, false)
	r := newRecorder()
	c.Bind(r)
	c.SetReading(false)
	done := make(chan bool, 1)
	go func() { e.Serve(c, Policy{}); done <- c.Looped() }()
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
	if err := <-r.ended; !errors.Is(err, io.EOF) {
		t.Errorf("Ended(%v), want io.EOF", err)
	}
	if <-done {
		t.Error("a connection served without EventLoop is on a loop")
	}
	c.Close()
}

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServe_MovesToALoopOnceOpened checks Serve's decision for a
// connection whose first stage may block (issue 10: no transport decision
// outside the Engine): with EventLoop, a reader goroutine (the caller's)
// reads it until its handler has opened it, then an event loop reads the
// rest, and Serve returns.
func TestServe_MovesToALoopOnceOpened(t *testing.T) {
	var e Engine
	c, client := pair(t, false)
	r := newRecorder()
	r.openAt, r.c = len("hello"), c
	c.Bind(r)
	served := make(chan struct{})
	go func() { e.Serve(c, Policy{EventLoop: true}); close(served) }()
	client.Write([]byte("hello"))
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return once the handler had opened the connection")
	}
	if !c.Looped() {
		t.Fatal("an opened connection with EventLoop is not on a loop")
	}
	client.Write([]byte(" world"))
	waitFor(t, "the loop fed the rest", func() bool { return r.got() == "hello world" })
	r.mu.Lock()
	loops := append([]bool(nil), r.loops...)
	r.mu.Unlock()
	if loops[0] || !loops[len(loops)-1] {
		t.Errorf("readers per Bytes = %v: want the goroutine before the opening, the loop after", loops)
	}
	hangUp(t, &e, c, client, r)
}

// TestServe_LoopFromStart checks that with EventLoop and LoopFromStart a
// loop reads the connection from its first byte, before its handler opens
// it, and Serve returns at once.
func TestServe_LoopFromStart(t *testing.T) {
	var e Engine
	c, client := pair(t, true)
	r := newRecorder()
	r.openAt, r.c = 1<<20, c // never opened
	c.Bind(r)
	e.Serve(c, Policy{EventLoop: true, LoopFromStart: true})
	if !c.Looped() {
		t.Fatal("a connection with LoopFromStart is not on a loop before it opens")
	}
	client.Write([]byte("hi"))
	waitFor(t, "the loop fed the bytes", func() bool { return r.got() == "hi" })
	hangUp(t, &e, c, client, r)
}

// TestAccept_RawOnlyForALoopFromStart checks Accept's decision: a raw
// socket (no net.Conn) only when a loop may read the connection from its
// first byte; a stream otherwise.
func TestAccept_RawOnlyForALoopFromStart(t *testing.T) {
	var e Engine
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := RawAccept(tl)
	defer ln.Close()
	for _, tc := range []struct {
		p   Policy
		raw bool
	}{
		{Policy{}, false},
		{Policy{EventLoop: true}, false},
		{Policy{LoopFromStart: true}, false},
		{Policy{EventLoop: true, LoopFromStart: true}, true},
	} {
		client, err := net.Dial("tcp", tl.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.Accept(ln, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := Raw(c); raw != tc.raw {
			t.Errorf("Accept with %+v: raw %v, want %v", tc.p, raw, tc.raw)
		}
		c.Close()
		client.Close()
	}
}

// TestStart_PrepareOnTheCallerOnlyForALoopFromStart checks Start's
// decision: the connection layer's preparation runs on the accept loop's
// goroutine only when nothing before the opening blocks (a loop then reads
// the connection); otherwise on a goroutine of its own.
func TestStart_PrepareOnTheCallerOnlyForALoopFromStart(t *testing.T) {
	for _, p := range []Policy{{EventLoop: true, LoopFromStart: true}, {EventLoop: true}, {}} {
		var e Engine
		c, client := pair(t, p.LoopFromStart)
		r := newRecorder()
		c.Bind(r)
		returned := make(chan struct{})
		inline := make(chan bool, 1)
		e.Start(c, p, func(c Conn) Conn {
			select {
			case <-returned:
				inline <- false
			case <-time.After(2 * time.Second):
				inline <- true // Start has not returned: this is its goroutine
			}
			return c
		})
		close(returned)
		if got := <-inline; got != p.LoopFromStart {
			t.Errorf("Start with %+v: prepare on the caller's goroutine %v, want %v", p, got, p.LoopFromStart)
		}
		hangUp(t, &e, c, client, r)
	}
}

// TestServe_TLSFreshGoroutineOnceOpened checks that a TLS connection is
// read by a goroutine, never a loop, and that once its handler has opened
// it a fresh goroutine takes over (the caller's, grown by the TLS
// handshake, returns).
func TestServe_TLSFreshGoroutineOnceOpened(t *testing.T) {
	var e Engine
	raw, client := pair(t, false)
	conf := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	tc := tls.Server(raw.NetConn(), conf)
	cc := tls.Client(client, &tls.Config{InsecureSkipVerify: true})
	go cc.Handshake()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c := NewStream(tc)
	r := newRecorder()
	r.openAt, r.c = len("hello"), c
	c.Bind(r)
	served := make(chan struct{})
	go func() { e.Serve(c, Policy{EventLoop: true}); close(served) }()
	cc.Write([]byte("hello"))
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve held the TLS handshake's goroutine after the opening")
	}
	if c.Looped() {
		t.Fatal("a TLS connection is on a loop")
	}
	cc.Write([]byte(" world"))
	waitFor(t, "the fresh goroutine fed the rest", func() bool { return r.got() == "hello world" })
	cc.Close()
	<-r.ended
	c.Close()
}

// selfSigned returns a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestFDConn_IdleSize keeps a raw socket, which every idle EventLoop
// connection holds, within the 64-byte size class (issue 10: idle memory
// no higher than before the transport seam).
func TestFDConn_IdleSize(t *testing.T) {
	if n := unsafe.Sizeof(fdConn{}); n > 64 {
		t.Errorf("fdConn is %d bytes, over the 64-byte size class", n)
	}
}

package wsserver

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsserver/wsserver/internal/wiretest"
)

// Tests of SendFile, SendStream, Interrupt and CloseStreamAfterTransfer.

// tempFile writes n pseudo-random bytes to a temporary file and returns its
// name and content.
func tempFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(data)
	name := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return name, data
}

// readHashed reads one message with gorilla's NextReader and returns its
// type, length and SHA-256, or the error.
type hashed struct {
	typ int
	n   int64
	sum [32]byte
	err error
}

func readHashed(conn *websocket.Conn) hashed {
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	typ, r, err := conn.NextReader()
	if err != nil {
		return hashed{err: err}
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	var out hashed
	out.typ, out.n, out.err = typ, n, err
	copy(out.sum[:], h.Sum(nil))
	return out
}

func TestSendFile_LargeFileContentByHash(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	name, data := tempFile(t, 20<<20)
	got := make(chan hashed, 1)
	go func() { got <- readHashed(conn) }()
	if err := h.s.SendFile(id, name); err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	r := wiretest.Receive(t, got, "the file")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.typ != websocket.BinaryMessage || r.n != int64(len(data)) || r.sum != sha256.Sum256(data) {
		t.Fatalf("client got type %d, %d bytes, sha256 %x; want binary, %d bytes, %x", r.typ, r.n, r.sum, len(data), sha256.Sum256(data))
	}
	// The connection goes on.
	h.s.SendText(id, "after the file")
	if _, p := readMessage(t, conn); string(p) != "after the file" {
		t.Fatalf("client got %q", p)
	}
}

func TestSendFile_FramesOfMaxFrameSize(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.Config("MaxFrameSize=131072") })
	rc, id := h.rawOpen(t, wiretest.Options{})
	name, data := tempFile(t, 300000)
	errc := make(chan error, 1)
	go func() { errc <- h.s.SendFile(id, name) }()
	var got []byte
	for i, want := range []struct {
		op  byte
		fin bool
		n   int
	}{{opBinary, false, 131072}, {opCont, false, 131072}, {opCont, true, 300000 - 2*131072}} {
		f := rc.Frame(t)
		if f.Op != want.op || f.Fin != want.fin || len(f.Payload) != want.n {
			t.Fatalf("frame %d: op %d fin %v %d bytes; want op %d fin %v %d bytes", i, f.Op, f.Fin, len(f.Payload), want.op, want.fin, want.n)
		}
		got = append(got, f.Payload...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the frames do not add up to the file")
	}
	if err := wiretest.Receive(t, errc, "SendFile"); err != nil {
		t.Fatal(err)
	}
}

func TestInterrupt_StopsSendFileConnectionStaysUsable(t *testing.T) {
	h, conn, id := slowHarness(t, nil) // the client reads nothing for now
	name, data := tempFile(t, 8<<20)
	c := h.conn(t, id)
	if err := h.s.Interrupt(id); err != nil {
		t.Fatalf("Interrupt with nothing to interrupt: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- h.s.SendFile(id, name) }()
	wiretest.WaitUntil(t, "SendFile to start", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendState != nil && c.q.streaming && c.q.queued > 0
	})
	select {
	case err := <-errc:
		t.Fatalf("SendFile of 8 MiB to a client that reads nothing returned %v", err)
	default:
	}
	if err := h.s.Interrupt(id); err != nil {
		t.Fatal(err)
	}
	// The client reads again: the message ends early, and SendFile reports
	// the interruption.
	r := readHashed(conn)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.n >= int64(len(data)) {
		t.Fatalf("the interrupted file arrived whole (%d bytes)", r.n)
	}
	err := wiretest.Receive(t, errc, "SendFile to return")
	wantCode(t, "interrupted SendFile", err, ErrInterrupted)
	// Reference: Interrupt stops the file "without disconnecting the client".
	if !c.Connected() {
		t.Fatal("Interrupt closed the connection")
	}
	// The client has read the last byte, but the server may not yet have
	// counted it off the queue; a non-blocking send waits for that.
	wiretest.WaitUntil(t, "the queue to drain", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.q.queued == 0
	})
	if err := h.s.SendText(id, "still here"); err != nil {
		t.Fatal(err)
	}
	if _, p := readMessage(t, conn); string(p) != "still here" {
		t.Fatalf("client got %q", p)
	}
	// And a new SendFile runs to the end.
	small, sdata := tempFile(t, 100000)
	go func() { errc <- h.s.SendFile(id, small) }()
	if r := readHashed(conn); r.err != nil || r.sum != sha256.Sum256(sdata) {
		t.Fatalf("SendFile after Interrupt: %d bytes, %v", r.n, r.err)
	}
	if err := wiretest.Receive(t, errc, "SendFile"); err != nil {
		t.Fatal(err)
	}
}

func TestSendFile_TimeoutPositive_TimesOut10060(t *testing.T) {
	h, _, id := slowHarness(t, nil) // the client never reads
	h.conn(t, id).SetTimeout(1)
	name, _ := tempFile(t, 8<<20)
	errc := make(chan error, 1)
	go func() { errc <- h.s.SendFile(id, name) }()
	select {
	case err := <-errc:
		wantCode(t, "SendFile to a client that reads nothing", err, ErrTimedOut)
	case <-time.After(waitLimit):
		h.conn(t, id).abort()
		<-errc
		t.Fatal("SendFile with Timeout 1 did not time out")
	}
}

// closeRecorder is a stream that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error {
	c.closed.Store(true)
	return nil
}

func TestSendStream_CloseStreamAfterTransfer(t *testing.T) {
	h := newHarness(t, nil)
	conn, id := h.dial(t, "/", nil)
	if v, _ := h.s.Config("CloseStreamAfterTransfer"); v != "True" {
		t.Fatalf("CloseStreamAfterTransfer default = %s, want True", v)
	}
	text := strings.Repeat("streamed text ", 20000)
	r := &closeRecorder{Reader: strings.NewReader(text)}
	if err := h.s.SendStream(id, r, FormatText); err != nil {
		t.Fatal(err)
	}
	if !r.closed.Load() {
		t.Fatal("the stream was not closed with CloseStreamAfterTransfer True")
	}
	if typ, p := readMessage(t, conn); typ != websocket.TextMessage || string(p) != text {
		t.Fatalf("client got type %d, %d bytes", typ, len(p))
	}

	if _, err := h.s.Config("CloseStreamAfterTransfer=False"); err != nil {
		t.Fatal(err)
	}
	r = &closeRecorder{Reader: bytes.NewReader([]byte{1, 2, 3})}
	if err := h.s.SendStream(id, r, FormatBinary); err != nil {
		t.Fatal(err)
	}
	if r.closed.Load() {
		t.Fatal("the stream was closed with CloseStreamAfterTransfer False")
	}
	if typ, p := readMessage(t, conn); typ != websocket.BinaryMessage || !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Fatalf("client got type %d %x", typ, p)
	}

	// An empty stream is an empty message; a control format is refused.
	if err := h.s.SendStream(id, strings.NewReader(""), FormatBinary); err != nil {
		t.Fatal(err)
	}
	if _, p := readMessage(t, conn); len(p) != 0 {
		t.Fatalf("empty stream: client got %d bytes", len(p))
	}
	err := h.s.SendStream(id, strings.NewReader("x"), FormatPing)
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("SendStream as a ping: %v", err)
	}
}

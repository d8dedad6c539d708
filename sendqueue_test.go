package wsserver

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsserver/wsserver/internal/protocol"
	"github.com/wsserver/wsserver/internal/transport"
)

// Issue 10: "a named send queue (enqueue, accounting, backpressure, flush
// policy, a writer-state enum instead of four bools)". One writer at a time
// claims the queue from writerIdle; an Interrupt stops only a blocking send
// that writes the queue itself (writerInline), never a flusher; a writer
// gives the queue back (writerIdle) once it has written it, with every
// queued byte accounted as written, or once interrupted, with the rest
// still queued.
func TestSendQueue_WriterStates_Issue10(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &Connection{srv: New(), id: 1, sock: transport.NewStream(a), acceptData: true, opts: &connOptions{queueLimit: 1 << 20}}

	c.mu.Lock()
	q := c.queueLocked()
	if q.writer != writerIdle || !q.idleLocked() {
		t.Fatalf("a new queue: writer %d, queued %d; want idle and empty", q.writer, q.queued)
	}
	if !q.claimLocked(writerFlushing) {
		t.Fatal("a flusher could not claim an idle queue")
	}
	if q.claimLocked(writerInline) || q.claimLocked(writerFlushing) {
		t.Error("a second writer claimed a queue a flusher writes")
	}
	q.interruptWriterLocked()
	if q.writer != writerFlushing {
		t.Errorf("an Interrupt made a flusher %d; only a blocking send gives up", q.writer)
	}
	q.releaseLocked()
	if !q.claimLocked(writerInline) {
		t.Fatal("a blocking send could not claim an idle queue")
	}
	q.interruptWriterLocked()
	if q.writer != writerInlineInterrupted || !q.interruptRequestedLocked() || !q.inlineLocked() {
		t.Errorf("an Interrupt of a blocking send: writer %d; want writerInlineInterrupted", q.writer)
	}
	q.releaseLocked()
	if q.writer != writerIdle || q.interruptRequestedLocked() {
		t.Errorf("after release: writer %d; want writerIdle, no Interrupt pending", q.writer)
	}
	c.sock.SetWriteDeadline(time.Time{}) // the Interrupt woke the socket's writes

	// A ping and a message go out in one flush, in order.
	q.appendFrameLocked(protocol.OpPing, []byte("p"))
	q.appendMessageLocked(protocol.OpBinary, false, []byte("hello"), 0, true, true)
	want := append(protocol.AppendFrame(nil, true, protocol.OpPing, false, []byte("p")),
		protocol.AppendFrame(nil, true, protocol.OpBinary, false, []byte("hello"))...)
	if q.queued != len(want) || q.enqueued != int64(len(want)) {
		t.Errorf("queued %d, enqueued %d; want %d", q.queued, q.enqueued, len(want))
	}

	// An interrupted blocking send stops before its next write: the rest
	// stays queued for the next writer.
	if !q.claimLocked(writerInline) {
		t.Fatal("a blocking send could not claim the idle queue")
	}
	q.interruptWriterLocked()
	c.mu.Unlock()
	q.flushLoop(time.Second)
	c.mu.Lock()
	if q.writer != writerIdle || q.queued != len(want) || q.written != 0 {
		t.Errorf("after an interrupted blocking send: writer %d, queued %d, written %d; want writerIdle, %d, 0", q.writer, q.queued, q.written, len(want))
	}
	c.sock.SetWriteDeadline(time.Time{})

	if !q.claimLocked(writerFlushing) {
		t.Fatal("a flusher could not claim the idle queue")
	}
	c.mu.Unlock()
	got := make(chan []byte, 1)
	go func() {
		p := make([]byte, len(want))
		b.SetReadDeadline(time.Now().Add(waitLimit))
		n, _ := io.ReadFull(b, p)
		got <- p[:n]
	}()
	q.flushLoop(0)
	if p := <-got; !bytes.Equal(p, want) {
		t.Errorf("the client read % x, want % x", p, want)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !q.idleLocked() || len(q.out) != 0 || q.written != int64(len(want)) {
		t.Errorf("after the flush: writer %d, queued %d, %d bytes buffered, written %d; want idle, 0, 0, %d",
			q.writer, q.queued, len(q.out), q.written, len(want))
	}
}

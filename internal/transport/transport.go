// Package transport moves a WebSocket connection's bytes: it is the seam
// between the connection layer (package wsserver) and the sockets. A
// transport is a byte pump: it reads what a socket has and feeds it to the
// connection's Handler, and it writes what the connection layer gives it.
//
// Two kinds of Conn exist: a stream (a net.Conn: TCP, TLS, a net/http
// hijack), read by a reader goroutine (Engine.Read), and on Linux a raw
// socket (a bare descriptor, no net.Conn), read by an event loop
// (Engine.Serve, epoll). A stream over plain TCP can move to an event loop
// too. An Engine owns the event loops, the table of the connections on
// them and the limit on loops that poll; the package has no globals.
//
// The package imports nothing of wsserver: the connection layer sees only
// Handler, Conn, Engine and Options.
package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Handler consumes one connection's bytes. One reader at a time calls
// Bytes and ReadTarget: the connection's reader goroutine, or the event
// loop serving it. Ended runs once, last, on a goroutine (never on a
// loop), and may block.
type Handler interface {
	// Bytes handles p, read from the socket; p is valid only during the
	// call. An error ends the reading and is passed to Ended, except
	// ErrYield.
	Bytes(p []byte) error
	// ReadTarget returns where the next read goes: a buffer of the
	// handler's (read in place) or nil for the transport's own, and
	// whether a large read is expected (a reader goroutine then reads into
	// a large buffer).
	ReadTarget() (buf []byte, large bool)
	// Ended reports that the reading ended with err: Bytes' error, or the
	// socket's (io.EOF at the end of the stream).
	Ended(err error)
	// Failed reports a socket failure no caller sees: a raw socket that
	// could not get its twin (out of descriptors, say).
	Failed(err error)
}

// ErrYield, returned by Handler.Bytes on a reader goroutine, makes
// Engine.Read return true instead of reading on, so that its caller can
// move the connection (to an event loop, say). On a loop it is no error.
var ErrYield = errors.New("transport: the reader yields the connection")

// ErrNoTryWrite is TryWritev's answer where CanTryWrite is false.
var ErrNoTryWrite = errors.New("transport: the socket cannot be written without blocking")

// Conn is one accepted socket as the connection layer sees it. Reads come
// from one reader at a time (Engine.Read's goroutine, the connection's
// loop, or the connection layer's own ReadChunk while it drains); writes
// from one writer at a time; the rest may be called from any goroutine.
// No method calls back into the Handler, except Failed, so every method
// may be called with the connection layer's locks held.
type Conn interface {
	// Bind names the handler that reads the connection (and hears of its
	// failures). It is called once, before the connection is served.
	Bind(h Handler)

	// ReadChunk waits for data and reads it: into target when not nil,
	// else into a pooled buffer (a large one when large is set) that stays
	// valid until ReleaseChunk.
	ReadChunk(target []byte, large bool) ([]byte, error)
	// ReleaseChunk gives the buffer of the last ReadChunk back.
	ReleaseChunk()

	// CanTryWrite reports whether TryWritev can write without blocking:
	// false for TLS and where there is no raw socket I/O.
	CanTryWrite() bool
	// TryWritev writes vecs with one non-blocking writev(2). A full socket
	// writes fewer bytes (perhaps none) and is no error.
	TryWritev(vecs [][]byte) (int, error)
	// TryWrite is TryWritev of one buffer.
	TryWrite(b []byte) (int, error)
	// Write writes b, waiting for room while the socket is full, until
	// deadline, or when it is zero the socket's write deadline
	// (SetWriteDeadline, SetCloseDeadline, Interrupt).
	Write(b []byte, deadline time.Time) (int, error)
	// WriteTimed writes b for a blocking send: the deadline runs timeout
	// from the last write that moved bytes (progress is called after
	// each); stop is checked before each wait and makes it give up with
	// os.ErrDeadlineExceeded.
	WriteTimed(b []byte, timeout time.Duration, stop func() bool, progress func()) (int, error)
	// SetWriteDeadline bounds the write in progress and the next ones.
	SetWriteDeadline(t time.Time)
	// SetCloseDeadline bounds every write from now on: the connection is
	// closing and must not wait for its client past t.
	SetCloseDeadline(t time.Time)
	// Interrupt wakes a blocked write: it fails with
	// os.ErrDeadlineExceeded, and the caller keeps the rest to write. A TLS
	// connection cannot survive that (SurvivesDeadline), so there it does
	// nothing.
	Interrupt()
	// SurvivesDeadline reports whether a write cut short by a deadline
	// leaves the stream usable: false for TLS, whose record is then broken.
	SurvivesDeadline() bool

	// SetReadDeadline bounds the reads of a reader goroutine.
	SetReadDeadline(t time.Time)
	// CloseReadAfter makes the reader give up waiting for the client after
	// d: a read deadline, or on an event loop a timer that shuts the socket
	// down.
	CloseReadAfter(d time.Duration)
	// SetReading turns reading on or off (AcceptData, a queue over its
	// limit): an event loop stops waiting for the socket, a reader
	// goroutine waits before its next read.
	SetReading(on bool)
	// WaitReading waits, on a reader goroutine, while reading is off.
	WaitReading()
	// Paused reports whether reading is off.
	Paused() bool
	// Looped reports whether an event loop reads the connection: its
	// handler must then never block.
	Looped() bool

	// CloseWrite sends the end of the stream (FIN) and keeps reading.
	CloseWrite()
	// Shutdown makes the reader see the end of the stream; the socket stays
	// valid (its descriptor is not reused) until Close.
	Shutdown()
	// Close closes the socket; only the connection's last owner calls it,
	// after the reading ended.
	Close()
	// Refuse answers a connection turned away before it was served with
	// resp (nil: nothing), best effort, and closes the socket.
	Refuse(resp []byte)

	// RemoteAddr and LocalAddr return the two ends of the connection (an
	// IPv4-mapped address as IPv4; LocalAddr without a zone).
	RemoteAddr() netip.AddrPort
	LocalAddr() netip.Addr
	// SetOptions applies the socket settings of an accepted connection.
	SetOptions(o Options)
	// NetConn returns the socket as a net.Conn (the TLS handshake wraps
	// it); nil when there is none.
	NetConn() net.Conn
	// TLS returns the TLS connection, nil for plaintext: the net.Conn
	// itself, or what its TLSConn method returns.
	TLS() *tls.Conn
	// Detach returns the socket as a net.Conn of its own, which the Conn
	// no longer owns (a connection handed to another server).
	Detach() (net.Conn, error)
	// FD returns the socket's descriptor, -1 when it has none of its own
	// (TLS): for socket options and diagnostics.
	FD() int
}

// Options are the socket settings of an accepted connection.
type Options struct {
	NoDelay           bool
	KeepAliveIdle     time.Duration // 0: the system's default for accepted sockets
	KeepAliveInterval time.Duration
	ReadBuffer        int // 0: the system's
	WriteBuffer       int
}

// Sizes of the read buffers.
const (
	// ReadBufferSize is the size of a reader goroutine's read buffer.
	ReadBufferSize = 16 << 10
	// smallReadSize is the size of the read buffer a quiet TLS connection
	// waits with.
	smallReadSize = 1 << 10
	// largeReadSize is the read size inside a large frame: fewer system
	// calls per megabyte than ReadBufferSize.
	largeReadSize = 256 << 10
)

// Read is the reader goroutine of c: it feeds c's handler what the socket
// has until the reading ends (Ended runs, and Read returns false), or until
// Bytes returns ErrYield (Read returns true and the caller decides who reads
// next). It waits before a read while reading is off.
func Read(c Conn, h Handler) (yielded bool) {
	for {
		c.WaitReading()
		target, large := h.ReadTarget()
		p, err := c.ReadChunk(target, large)
		if len(p) > 0 {
			herr := h.Bytes(p)
			c.ReleaseChunk()
			if herr == ErrYield {
				return true
			}
			if herr != nil {
				h.Ended(herr)
				return false
			}
		} else {
			c.ReleaseChunk()
		}
		if err != nil {
			h.Ended(err)
			return false
		}
	}
}

// Package transport moves a WebSocket connection's bytes: it is the seam
// between the connection layer (package wsserver) and the sockets. A
// transport is a byte pump: it reads what a socket has and feeds it to the
// connection's Handler, and it writes what the connection layer gives it.
//
// Two kinds of Conn exist: a stream (a net.Conn: TCP, TLS, a net/http
// hijack) and, on Linux, a raw socket (a bare descriptor, no net.Conn). Two
// kinds of reader feed a Handler: a reader goroutine per connection, or an
// event loop (epoll, Linux) serving many. An Engine owns the event loops,
// the table of the connections on them and the limit on loops that poll,
// and makes every choice of transport (Engine.Accept, Engine.Start,
// Engine.Serve) from the Policy the connection layer gives it; the package
// has no globals.
//
// The package imports nothing of wsserver: the connection layer sees only
// Handler, Conn, Engine, Policy and Options.
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
	// call. An error ends the reading and is passed to Ended.
	Bytes(p []byte) error
	// Opened reports whether the handler's first stage (the opening
	// handshake) is over and the connection open: from then on Bytes
	// never blocks on an event loop, so Engine.Serve may move the
	// connection to one. The reader asks after each Bytes until it is; a
	// handler whose connection began closing before it opened may never
	// say so, and keeps its reader goroutine.
	Opened() bool
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

// ErrNoTryWrite is TryWritev's answer where CanTryWrite is false.
var ErrNoTryWrite = errors.New("transport: the socket cannot be written without blocking")

// Conn is one accepted socket as the connection layer sees it. Reads come
// from one reader at a time (the connection's reader goroutine or loop,
// or the connection layer's own ReadChunk while it drains); writes
// from one writer at a time; the rest may be called from any goroutine.
// No method calls back into the Handler, except Failed, so every method
// may be called with the connection layer's locks held.
type Conn interface {
	// Bind names the handler that reads the connection (and hears of its
	// failures). It is called before the connection is served.
	Bind(h Handler)
	// state returns the reading state every Conn embeds.
	state() *reading

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

// Policy is what the connection layer allows the transport for one
// connection; the Engine decides within it.
type Policy struct {
	// EventLoop lets an event loop read the connection once its handler
	// has opened it (Handler.Opened), when its socket can be polled: a
	// raw socket or plain TCP, not TLS.
	EventLoop bool
	// LoopFromStart says that nothing before the connection opens blocks
	// either: its admission waits for no handler or name lookup, it has
	// no TLS handshake, and the events of its first stage run inline.
	// With EventLoop, the connection is then accepted as a raw socket and
	// a loop reads it from its first byte.
	LoopFromStart bool
	// Spin is how long a loop polls after serving the connection
	// (EventLoopSpin).
	Spin time.Duration
}

// loopFromStart reports whether p lets a loop read a connection from its
// first byte.
func (p Policy) loopFromStart() bool { return p.EventLoop && p.LoopFromStart }

// Accept accepts the next connection from ln for policy p: a raw socket
// (no net.Conn, no runtime poll descriptor) when p lets an event loop read
// it from the start and ln came from RawAccept, else a stream. It fails
// with net.ErrClosed once ln is closed.
func (e *Engine) Accept(ln net.Listener, p Policy) (Conn, error) {
	return accept(ln, p.loopFromStart())
}

// Start serves a connection Accept returned without holding up the
// caller, an accept loop. prepare is the connection layer's work before
// the reading (admission, a TLS handshake, the handshake stage's setup):
// it returns the Conn to serve, with its handler bound, or nil when it
// turned the connection away. When p lets a loop read the connection from
// the start, prepare cannot block: it runs on the caller's goroutine and a
// loop serves the connection, so a burst of new connections costs no
// goroutine stacks. Otherwise prepare and the reading run on a new
// goroutine (Serve).
func (e *Engine) Start(c Conn, p Policy, prepare func(Conn) Conn) {
	if p.loopFromStart() {
		if c = prepare(c); c != nil {
			e.serve(c, p, false)
		}
		return
	}
	go func() {
		if c = prepare(c); c != nil {
			e.serve(c, p, true)
		}
	}()
}

// Serve reads c, feeding its handler, until the reading ends (Ended). It
// is the one place that decides who reads a connection, from p and what c
// is:
//
//   - An event loop, when p allows one (EventLoop) and c can be polled (a
//     raw socket or plain TCP): from the first byte when nothing before
//     the connection opens blocks (LoopFromStart), else from the moment
//     the handler has opened it (Handler.Opened). A loop serves many
//     connections, and an idle one holds no goroutine and no buffer; its
//     handler must never block, which a first stage that waits for the
//     application would.
//   - Otherwise a reader goroutine: the calling goroutine, which Serve
//     holds until the reading has ended. It waits for data without a
//     buffer on plain TCP; TLS cannot, and holds a (small) one.
//   - After the handler opens a TLS connection, a fresh reader goroutine:
//     the TLS handshake grew the current one's stack (8 KiB or more, kept
//     for the goroutine's life), a fresh one starts small.
//
// Serve returns at once once a loop reads c.
func (e *Engine) Serve(c Conn, p Policy) { e.serve(c, p, true) }

// serve is Serve; own says whether the calling goroutine may read c
// (false: an accept loop, which starts a goroutine instead).
func (e *Engine) serve(c Conn, p Policy, own bool) {
	opened := c.state().h.Opened()
	if p.EventLoop && (opened || p.LoopFromStart) && e.onLoop(c, p.Spin) {
		return
	}
	if !own {
		go e.read(c, p, opened)
		return
	}
	e.read(c, p, opened)
}

// read is the reader goroutine of c: until its handler has opened it
// (when not yet opened), then, where Serve moves it, no further.
func (e *Engine) read(c Conn, p Policy, opened bool) {
	h := c.state().h
	if !opened {
		if !readStream(c, h, true) {
			return // the reading ended
		}
		if p.EventLoop && e.onLoop(c, p.Spin) {
			return
		}
		if c.TLS() != nil {
			go readStream(c, h, false)
			return
		}
	}
	readStream(c, h, false)
}

// readStream feeds h what c has until the reading ends (Ended runs, and
// it returns false) or, with untilOpened, until h has opened the
// connection (it returns true). It waits before a read while reading is
// off.
func readStream(c Conn, h Handler, untilOpened bool) bool {
	for {
		c.WaitReading()
		target, large := h.ReadTarget()
		p, err := c.ReadChunk(target, large)
		if len(p) > 0 {
			herr := h.Bytes(p)
			c.ReleaseChunk()
			if herr != nil {
				h.Ended(herr)
				return false
			}
			if untilOpened && h.Opened() {
				return true
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

// LoopSpin returns how long the loop reading c polls after serving it (0
// when no loop reads it): for tests and diagnostics.
func LoopSpin(c Conn) time.Duration {
	r := c.state()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loop.Load() == 0 {
		return 0
	}
	return time.Duration(r.spin) * time.Microsecond
}

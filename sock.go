package wsserver

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsserver/wsserver/internal/bufpool"
)

// sock is one accepted socket as the connection layer sees it: the one seam
// between a Connection and its transport. Two kinds implement it: a
// streamSock around a net.Conn (TCP, TLS, a net/http hijack), and on Linux
// an fdSock around a bare descriptor that an event loop serves
// (sock_linux.go). Nothing above this interface knows which it has.
//
// Reads come from one reader at a time (the connection's reader goroutine,
// or its event loop through loopFD); writes from one flusher at a time (the
// connection's flushing state says who); the rest may be called from any
// goroutine, and none takes Connection.mu (they may be called under it).
type sock interface {
	// readChunk waits for data and reads it: into target when not nil (the
	// free end of the message buffer), else into a pooled buffer (a large
	// one when large is set) that stays valid until releaseChunk.
	readChunk(target []byte, large bool) ([]byte, error)
	// releaseChunk gives the buffer of the last readChunk back.
	releaseChunk()
	// canTryWrite reports whether tryWritev can write without blocking:
	// false for TLS and where there is no raw socket I/O.
	canTryWrite() bool
	// tryWritev writes vecs with one non-blocking writev(2). A full socket
	// writes fewer bytes (perhaps none) and is no error.
	tryWritev(vecs [][]byte) (int, error)
	// tryWrite is tryWritev of one buffer.
	tryWrite(b []byte) (int, error)
	// write writes b, waiting for room while the socket is full, until
	// deadline, or when it is zero the socket's write deadline
	// (setWriteDeadline, setCloseDeadline).
	write(b []byte, deadline time.Time) (int, error)
	// writeTimed writes b for a blocking send: the deadline runs timeout
	// from the last write that moved bytes (progress is called after each);
	// stop is checked before each wait and makes it give up with
	// os.ErrDeadlineExceeded.
	writeTimed(b []byte, timeout time.Duration, stop func() bool, progress func()) (int, error)
	// setReadDeadline bounds the reads (the handshake, a draining close).
	setReadDeadline(t time.Time)
	// setWriteDeadline bounds the write in progress and the next ones.
	setWriteDeadline(t time.Time)
	// setCloseDeadline bounds every write from now on: the connection is
	// closing and must not wait for its client longer than CloseTimeout.
	setCloseDeadline(t time.Time)
	// interrupt wakes a blocked write (it fails with
	// os.ErrDeadlineExceeded; the caller keeps the rest queued). A TLS
	// connection cannot survive that, so there it does nothing.
	interrupt()
	// survivesDeadline reports whether a write cut short by a deadline
	// leaves the stream usable: false for TLS, whose record is then broken.
	survivesDeadline() bool
	// setReading turns the reading of a reader goroutine on or off: with it
	// off, waitReading waits until it is turned on again (or the socket is
	// shut down). An event loop's reading is the loop's to turn.
	setReading(on bool)
	// waitReading waits while reading is off.
	waitReading()
	// paused reports whether reading is off.
	paused() bool
	// closeWrite sends the end of the stream (FIN) and keeps reading.
	closeWrite()
	// shutdown makes the reader see the end of the stream; the socket stays
	// valid until close.
	shutdown()
	// close closes the socket; only the connection's last owner calls it.
	close()
	// refuse answers a connection admission turned away with resp (nil:
	// nothing) and closes the socket.
	refuse(resp []byte)
	// remoteAddr and localAddr return the two ends of the connection.
	remoteAddr() netip.AddrPort
	localAddr() netip.Addr
	// setOptions applies the socket settings of an accepted connection.
	setOptions(o sockOptions)
	// loopFD returns the descriptor an event loop can wait on, or -1 when
	// the socket cannot be served by one (TLS).
	loopFD() int
	// setOwner names the connection told of failures no caller sees.
	setOwner(o sockOwner)
	// netConn returns the socket as a net.Conn (for the TLS handshake,
	// which wraps it), nil when there is none.
	netConn() net.Conn
	// tlsConn returns the TLS connection, nil for plaintext.
	tlsConn() *tls.Conn
	// detach returns the socket as a net.Conn of its own, which the sock
	// no longer owns (the HTTP hand-off).
	detach() (net.Conn, error)
}

// sockOwner is told of a socket failure no caller would see: a raw socket
// that could not get its twin (out of descriptors, say).
type sockOwner interface {
	sockFailed(err error)
}

// sockOptions are the socket settings of an accepted connection.
type sockOptions struct {
	noDelay           bool
	keepAliveIdle     time.Duration // 0: the system's default for accepted sockets
	keepAliveInterval time.Duration
	readBuffer        int // 0: the system's
	writeBuffer       int
}

// sockOptionsOf returns the socket settings of cfg.
func sockOptionsOf(cfg *settings) sockOptions {
	return sockOptions{
		noDelay:           cfg.tcpNoDelay,
		keepAliveIdle:     time.Duration(cfg.keepAliveTime) * time.Millisecond,
		keepAliveInterval: time.Duration(cfg.keepAliveInterval) * time.Millisecond,
		readBuffer:        cfg.inBufferSize,
		writeBuffer:       cfg.outBufferSize,
	}
}

// errNoTryWrite is tryWritev's answer where canTryWrite is false.
var errNoTryWrite = errors.New("wsserver: the socket cannot be written without blocking")

// readBufferSize is the size of a connection's read buffer.
const readBufferSize = 16 << 10

// smallReadSize is the size of the read buffer a quiet TLS connection waits
// with (see streamSock.readChunk).
const smallReadSize = 1 << 10

// largeReadSize is the read size inside a large frame: fewer system calls
// per megabyte than readBufferSize.
const largeReadSize = 256 << 10

var (
	readBufPool   = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}
	smallReadPool = sync.Pool{New: func() any { b := make([]byte, smallReadSize); return &b }}
)

// streamSock is a socket behind a net.Conn: TCP (read and written with
// read(2) and writev(2) through its syscall.RawConn, where there is raw I/O),
// TLS, or whatever a net/http server hijacked.
type streamSock struct {
	nc     net.Conn
	rc     syscall.RawConn // nil for TLS or without raw I/O
	tc     *tls.Conn       // nc as a TLS connection, nil for plaintext
	loopFd atomic.Int32    // the descriptor an event loop serves (looped), -1 when none

	gateMu sync.Mutex    // guards gate and down
	gate   chan struct{} // while reading is off: closed when it turns on
	down   bool          // shut down: reading is never off again

	// Used by the reader only.
	rbp          *[]byte            // the pooled buffer of the last read, until releaseChunk
	large        []byte             // a large pooled read buffer in use, until releaseChunk
	readFn       func(uintptr) bool // s.readRaw, bound once
	rn           int
	rerr         error
	lastReadFull bool // a blocking read (TLS) filled its buffer: more is likely waiting
}

// newStreamSock returns the sock of nc.
func newStreamSock(nc net.Conn) *streamSock {
	s := &streamSock{nc: nc}
	s.loopFd.Store(-1)
	switch c := nc.(type) {
	case *tls.Conn:
		s.tc = c
	case *handedConn:
		s.tc = c.tc // a connection the HTTP hand-off gave a net/http server
	case *net.TCPConn:
		if rawIO {
			s.rc, _ = c.SyscallConn()
		}
	}
	return s
}

// readChunk reads what the socket has. On a plain TCP socket it waits for
// data without holding a buffer, so an idle connection costs no read buffer.
func (s *streamSock) readChunk(target []byte, large bool) ([]byte, error) {
	if target != nil {
		n, err := s.nc.Read(target)
		return target[:n], err
	}
	if large {
		b := bufpool.Get(largeReadSize)
		b = b[:cap(b)]
		s.large = b
		n, err := s.nc.Read(b)
		return b[:n], err
	}
	if s.rc == nil {
		// TLS (or a net.Conn without a socket): the read waits inside Read,
		// holding its buffer, so after a read that did not fill its buffer
		// (a connection gone quiet, most likely) the next waits with a small one.
		pool := &readBufPool
		if !s.lastReadFull {
			pool = &smallReadPool
		}
		s.rbp = pool.Get().(*[]byte)
		n, err := s.nc.Read(*s.rbp)
		s.lastReadFull = n == len(*s.rbp)
		return (*s.rbp)[:n], err
	}
	if s.readFn == nil {
		s.readFn = s.readRaw
	}
	s.rn, s.rerr = 0, nil
	if err := s.rc.Read(s.readFn); err != nil {
		return nil, err
	}
	if s.rerr != nil {
		return nil, s.rerr
	}
	if s.rn == 0 {
		return nil, io.EOF
	}
	return (*s.rbp)[:s.rn], nil
}

// readRaw is the RawConn read callback: it takes a buffer only once the
// socket is readable.
func (s *streamSock) readRaw(fd uintptr) bool {
	s.rbp = readBufPool.Get().(*[]byte)
	n, err := sysRead(fd, *s.rbp)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		readBufPool.Put(s.rbp)
		s.rbp = nil
		return false
	}
	s.rn, s.rerr = max(n, 0), err
	return true
}

func (s *streamSock) releaseChunk() {
	if s.large != nil {
		bufpool.Put(s.large)
		s.large = nil
	}
	if s.rbp != nil {
		if len(*s.rbp) == smallReadSize {
			smallReadPool.Put(s.rbp)
		} else {
			readBufPool.Put(s.rbp)
		}
		s.rbp = nil
	}
}

func (s *streamSock) canTryWrite() bool { return s.rc != nil }

func (s *streamSock) tryWritev(vecs [][]byte) (int, error) {
	if s.rc == nil {
		return 0, errNoTryWrite
	}
	var n int
	var err error
	s.rc.Write(func(fd uintptr) bool {
		n, err = sysWritev(fd, vecs)
		return true // one attempt, never waiting
	})
	return tryResult("writev", n, err)
}

func (s *streamSock) tryWrite(b []byte) (int, error) {
	if s.rc == nil {
		return 0, errNoTryWrite
	}
	var n int
	var err error
	s.rc.Write(func(fd uintptr) bool {
		n, err = sysWriteFD(int(fd), b)
		return true
	})
	return tryResult("write", n, err)
}

// tryResult turns the result of a non-blocking write (system call op) into
// tryWritev's: a full socket (EAGAIN) or a signal is no error.
func tryResult(op string, n int, err error) (int, error) {
	n = max(n, 0)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		err = nil
	}
	if err != nil {
		return 0, os.NewSyscallError(op, err)
	}
	return n, nil
}

func (s *streamSock) write(b []byte, deadline time.Time) (int, error) {
	if deadline.IsZero() {
		return s.nc.Write(b)
	}
	s.nc.SetWriteDeadline(deadline)
	defer s.nc.SetWriteDeadline(time.Time{})
	return s.nc.Write(b)
}

// writeTimed writes from the last progress on a socket, and in TLS
// records' worth otherwise (a TLS write returns only once its bytes have
// moved, so each return is progress).
func (s *streamSock) writeTimed(b []byte, timeout time.Duration, stop func() bool, progress func()) (int, error) {
	defer s.nc.SetWriteDeadline(time.Time{})
	if s.rc != nil {
		return progressWrite(s.rc, s.nc.SetWriteDeadline, time.Now, b, timeout, stop, progress)
	}
	done := 0
	for done < len(b) {
		end := min(len(b), done+tlsChunk)
		s.nc.SetWriteDeadline(time.Now().Add(timeout))
		if stop() {
			return done, os.ErrDeadlineExceeded
		}
		m, err := s.nc.Write(b[done:end])
		done += m
		if m > 0 {
			progress()
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// tlsChunk is the most a timed TLS write hands to one Write: a TLS record.
const tlsChunk = 16 << 10

func (s *streamSock) setReadDeadline(t time.Time)  { s.nc.SetReadDeadline(t) }
func (s *streamSock) setWriteDeadline(t time.Time) { s.nc.SetWriteDeadline(t) }
func (s *streamSock) setCloseDeadline(t time.Time) { s.nc.SetWriteDeadline(t) }
func (s *streamSock) survivesDeadline() bool       { return s.tc == nil }

func (s *streamSock) interrupt() {
	if s.tc == nil {
		s.nc.SetWriteDeadline(time.Now())
	}
}

func (s *streamSock) setReading(on bool) {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	if on || s.down {
		if s.gate != nil {
			close(s.gate)
			s.gate = nil
		}
	} else if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

func (s *streamSock) waitReading() {
	s.gateMu.Lock()
	ch := s.gate
	s.gateMu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (s *streamSock) paused() bool {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	return s.gate != nil
}

func (s *streamSock) closeWrite() {
	if cw, ok := s.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// shutdown closes the net.Conn, which ends its reader; on an event loop,
// which waits on the descriptor itself, it shuts the socket down instead, so
// that the descriptor cannot be reused under the loop.
func (s *streamSock) shutdown() {
	s.gateMu.Lock()
	s.down = true
	s.gateMu.Unlock()
	s.setReading(true) // a paused reader goes on to see the end
	if s.loopFd.Load() >= 0 {
		s.rc.Control(func(fd uintptr) { sysShutdown(int(fd)) })
		return
	}
	s.nc.Close()
}

func (s *streamSock) close() { s.nc.Close() }

func (s *streamSock) refuse(resp []byte) {
	if resp != nil {
		s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		s.nc.Write(resp)
	}
	s.nc.Close()
}

func (s *streamSock) remoteAddr() netip.AddrPort { return addrPort(s.nc.RemoteAddr()) }

func (s *streamSock) localAddr() netip.Addr { return addrPort(s.nc.LocalAddr()).Addr().WithZone("") }

// addrPort returns a's address and port, an IPv4-mapped IPv6 address as IPv4.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (s *streamSock) setOptions(o sockOptions) {
	tc, ok := s.nc.(*net.TCPConn)
	if !ok {
		return
	}
	tc.SetNoDelay(o.noDelay)
	ka := net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	if o.keepAliveIdle > 0 {
		ka.Idle = o.keepAliveIdle
	}
	if o.keepAliveInterval > 0 {
		ka.Interval = o.keepAliveInterval
	}
	tc.SetKeepAliveConfig(ka)
	if o.readBuffer > 0 {
		tc.SetReadBuffer(o.readBuffer)
	}
	if o.writeBuffer > 0 {
		tc.SetWriteBuffer(o.writeBuffer)
	}
}

func (s *streamSock) loopFD() int {
	if fd := s.loopFd.Load(); fd >= 0 {
		return int(fd)
	}
	fd := -1
	if s.rc == nil || s.rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 || fd > 1<<30 {
		return -1
	}
	return fd
}

// looped records that an event loop serves the socket from now on: shutdown
// then keeps the descriptor open for it.
func (s *streamSock) looped(fd int) { s.loopFd.Store(int32(fd)) }

func (s *streamSock) setOwner(sockOwner) {}

func (s *streamSock) netConn() net.Conn         { return s.nc }
func (s *streamSock) detach() (net.Conn, error) { return s.nc, nil }
func (s *streamSock) tlsConn() *tls.Conn        { return s.tc }

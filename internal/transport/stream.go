package transport

import (
	"crypto/tls"
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

// reading is a socket's reading switch and, while an event loop reads it,
// its registration there: what Conn's SetReading, WaitReading, Paused and
// Looped see, for both kinds of Conn. It is packed (48 bytes), since every
// idle connection holds one: a raw socket is one and little more.
type reading struct {
	mu    sync.Mutex    // guards gate, the flags' changes and the loop's reading switch (epoll_ctl)
	gate  chan struct{} // a reader goroutine's, while reading is off: closed when it turns on
	h     Handler
	flags atomic.Uint32 // flagOff, flagDown; a raw socket's flagClosed, flagFailed

	// Set while an event loop serves the socket (Engine.Serve).
	loop atomic.Int32 // the loop's epoll descriptor + 1; 0 when none
	fd   int32        // the socket's descriptor (a raw socket's from the start)
	spin int32        // microseconds the loop polls after serving it
}

// The flags of a reading.
const (
	flagOff    = 1 << iota // reading is off
	flagDown               // shut down: reading is never off again
	flagClosed             // a raw socket's descriptor was closed
	flagFailed             // making a raw socket's twin failed (reported once)
)

// is reports whether flag f is set.
func (r *reading) is(f uint32) bool { return r.flags.Load()&f != 0 }

// mark sets flag f, or clears it when on is false. mu is held.
func (r *reading) mark(f uint32, on bool) {
	if on {
		r.flags.Or(f)
	} else {
		r.flags.And(^uint32(f))
	}
}

// setReading turns reading on or off; on a loop through epoll_ctl.
func (r *reading) setReading(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.is(flagDown) {
		on = true
	}
	r.mark(flagOff, !on)
	if epfd := r.loop.Load() - 1; epfd >= 0 {
		loopReading(int(epfd), int(r.fd), on)
	}
	if on {
		if r.gate != nil {
			close(r.gate)
			r.gate = nil
		}
	} else if r.gate == nil && r.loop.Load() == 0 {
		r.gate = make(chan struct{}) // a loop needs none: it stops waiting for the socket
	}
}

// shutDown turns reading on for good: the reader goes on to see the end.
func (r *reading) shutDown() {
	r.mu.Lock()
	r.mark(flagDown, true)
	r.mu.Unlock()
	r.setReading(true)
}

func (r *reading) waitReading() {
	r.mu.Lock()
	ch := r.gate
	r.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (r *reading) state() *reading { return r }
func (r *reading) paused() bool    { return r.is(flagOff) }
func (r *reading) looped() bool    { return r.loop.Load() != 0 }

// readBufPool and smallReadPool hold a reader goroutine's read buffers.
var (
	readBufPool   = sync.Pool{New: func() any { b := make([]byte, ReadBufferSize); return &b }}
	smallReadPool = sync.Pool{New: func() any { b := make([]byte, smallReadSize); return &b }}
)

// streamConn is a socket behind a net.Conn: TCP (read and written with
// read(2) and writev(2) through its syscall.RawConn, where there is raw
// I/O), TLS, or whatever a net/http server hijacked.
type streamConn struct {
	nc net.Conn
	rc syscall.RawConn // nil for TLS or without raw I/O
	rw *rawWrite       // TryWrite's, once needed
	reading

	// Used by the reader only.
	rbp          *[]byte            // the pooled buffer of the last read, until ReleaseChunk
	large        []byte             // a large pooled read buffer in use, until ReleaseChunk
	readFn       func(uintptr) bool // s.readRaw, bound once
	rn           int
	rerr         error
	lastReadFull bool // a blocking read (TLS) filled its buffer: more is likely waiting
}

// NewStream returns the Conn of nc.
func NewStream(nc net.Conn) Conn {
	s := &streamConn{nc: nc}
	if tc, ok := nc.(*net.TCPConn); ok && rawIO {
		s.rc, _ = tc.SyscallConn()
	}
	return s
}

func (s *streamConn) Bind(h Handler) { s.h = h }

// ReadChunk reads what the socket has. On a plain TCP socket it waits for
// data without holding a buffer, so an idle connection costs no read buffer.
func (s *streamConn) ReadChunk(target []byte, large bool) ([]byte, error) {
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
func (s *streamConn) readRaw(fd uintptr) bool {
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

func (s *streamConn) ReleaseChunk() {
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

func (s *streamConn) CanTryWrite() bool { return s.rc != nil }

func (s *streamConn) TryWritev(vecs [][]byte) (int, error) {
	if s.rc == nil {
		return 0, ErrNoTryWrite
	}
	w := s.rawWriter()
	w.vecs, w.n, w.err = vecs, 0, nil
	err := s.rc.Write(w.writevFn)
	w.vecs = nil
	if err != nil {
		return 0, err // closed: the callback did not run
	}
	return tryResult("writev", w.n, w.err)
}

func (s *streamConn) TryWrite(b []byte) (int, error) {
	if s.rc == nil {
		return 0, ErrNoTryWrite
	}
	w := s.rawWriter()
	w.b, w.n, w.err = b, 0, nil
	err := s.rc.Write(w.writeFn)
	w.b = nil
	if err != nil {
		return 0, err // closed: the callback did not run
	}
	return tryResult("write", w.n, w.err)
}

// rawWrite is the state of a stream's non-blocking writes: made on the
// first one, with its RawConn callbacks bound once, so that writing
// allocates nothing. One writer at a time uses it.
type rawWrite struct {
	vecs              [][]byte
	b                 []byte
	n                 int
	err               error
	writevFn, writeFn func(uintptr) bool
}

func (s *streamConn) rawWriter() *rawWrite {
	if s.rw == nil {
		w := &rawWrite{}
		w.writevFn, w.writeFn = w.writev, w.write
		s.rw = w
	}
	return s.rw
}

// writev and write are the RawConn callbacks: one attempt, never waiting.
func (w *rawWrite) writev(fd uintptr) bool {
	w.n, w.err = sysWritev(fd, w.vecs)
	return true
}

func (w *rawWrite) write(fd uintptr) bool {
	w.n, w.err = sysWriteFD(int(fd), w.b)
	return true
}

// tryResult turns the result of a non-blocking write (system call op) into
// TryWritev's: a full socket (EAGAIN) or a signal is no error.
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

func (s *streamConn) Write(b []byte, deadline time.Time) (int, error) {
	if deadline.IsZero() {
		return s.nc.Write(b)
	}
	s.nc.SetWriteDeadline(deadline)
	defer s.nc.SetWriteDeadline(time.Time{})
	return s.nc.Write(b)
}

// WriteTimed writes from the last progress on a socket, and in TLS
// records' worth otherwise (a TLS write returns only once its bytes have
// moved, so each return is progress).
func (s *streamConn) WriteTimed(b []byte, timeout time.Duration, stop func() bool, progress func()) (int, error) {
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

func (s *streamConn) SetWriteDeadline(t time.Time) { s.nc.SetWriteDeadline(t) }
func (s *streamConn) SetCloseDeadline(t time.Time) { s.nc.SetWriteDeadline(t) }
func (s *streamConn) SurvivesDeadline() bool       { return s.TLS() == nil }

func (s *streamConn) Interrupt() {
	if s.TLS() == nil {
		s.nc.SetWriteDeadline(time.Now())
	}
}

func (s *streamConn) SetReadDeadline(t time.Time) { s.nc.SetReadDeadline(t) }

func (s *streamConn) CloseReadAfter(d time.Duration) {
	if s.looped() {
		time.AfterFunc(d, s.Shutdown)
		return
	}
	s.nc.SetReadDeadline(time.Now().Add(d))
}

func (s *streamConn) SetReading(on bool) { s.setReading(on) }
func (s *streamConn) WaitReading()       { s.waitReading() }
func (s *streamConn) Paused() bool       { return s.paused() }
func (s *streamConn) Looped() bool       { return s.looped() }

func (s *streamConn) CloseWrite() {
	if cw, ok := s.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// Shutdown closes the net.Conn, which ends its reader; on an event loop,
// which waits on the descriptor itself, it shuts the socket down instead, so
// that the descriptor cannot be reused under the loop.
func (s *streamConn) Shutdown() {
	s.shutDown()
	if s.looped() {
		s.rc.Control(func(fd uintptr) { sysShutdown(int(fd)) })
		return
	}
	s.nc.Close()
}

func (s *streamConn) Close() { s.nc.Close() }

func (s *streamConn) Refuse(resp []byte) {
	if resp != nil {
		s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		s.nc.Write(resp)
	}
	s.nc.Close()
}

func (s *streamConn) RemoteAddr() netip.AddrPort { return addrPort(s.nc.RemoteAddr()) }

func (s *streamConn) LocalAddr() netip.Addr { return addrPort(s.nc.LocalAddr()).Addr().WithZone("") }

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

func (s *streamConn) SetOptions(o Options) {
	tc, ok := s.nc.(*net.TCPConn)
	if !ok {
		return
	}
	tc.SetNoDelay(o.NoDelay)
	ka := net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	if o.KeepAliveIdle > 0 {
		ka.Idle = o.KeepAliveIdle
	}
	if o.KeepAliveInterval > 0 {
		ka.Interval = o.KeepAliveInterval
	}
	tc.SetKeepAliveConfig(ka)
	if o.ReadBuffer > 0 {
		tc.SetReadBuffer(o.ReadBuffer)
	}
	if o.WriteBuffer > 0 {
		tc.SetWriteBuffer(o.WriteBuffer)
	}
}

func (s *streamConn) FD() int {
	fd := -1
	if s.rc == nil || s.rc.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1
	}
	return fd
}

func (s *streamConn) NetConn() net.Conn { return s.nc }

func (s *streamConn) TLS() *tls.Conn {
	switch nc := s.nc.(type) {
	case *tls.Conn:
		return nc
	case interface{ TLSConn() *tls.Conn }:
		return nc.TLSConn()
	}
	return nil
}

func (s *streamConn) Detach() (net.Conn, error) { return s.nc, nil }

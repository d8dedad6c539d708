package transport

import (
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The event loops serve connections from a few epoll loops instead of one
// goroutine each, so an idle connection holds no goroutine and no buffer.
// Handlers then run on a loop's goroutine, shared with the other
// connections of that loop: a handler must not block.

// LoopBufferSize is the size of a loop's read buffer: room for a 64 KiB
// message with its header, and for several smaller ones, in one read.
const LoopBufferSize = 256 << 10

// idleWait is how long a loop waits for events before it checks whether it
// still serves a connection: a loop without any stops (Serve starts one
// again when needed).
const idleWait = time.Second

// Engine runs the event loops of a server: one per CPU, started when the
// first connection comes and stopped when the last leaves, the table of
// the connections on them, and the limit on loops that poll. Its zero value
// is ready to use; it must not be copied after first use.
type Engine struct {
	mu      sync.Mutex // guards pollers and next: the starting and stopping of loops
	pollers []*poller  // one per CPU; nil where a loop is stopped
	next    uint32

	table fdTable

	// Polling loops hold their P: at most half of them (one at least) poll
	// at a time, so that the rest of the program, and the runtime's own
	// network poller, keep Ps to run on.
	spinners atomic.Int32 // loops polling now
}

// poller is one epoll loop.
type poller struct {
	e     *Engine
	epfd  int
	conns atomic.Int32 // the connections it serves
	// Used by the loop only.
	buf  []byte // the read buffer
	spin spinBackoff
}

// The connections on event loops, by socket: a table the loops read without
// a lock, in chunks made as descriptors reach them. A loop serves only the
// connections it holds (a stale event may name a descriptor since reused).
const (
	fdChunkBits = 10
	fdChunkSize = 1 << fdChunkBits
	maxLoopFD   = 1 << 20 // Linux's default limit of open files (nr_open)
)

type fdTable struct {
	chunks [maxLoopFD / fdChunkSize]atomic.Pointer[[fdChunkSize]atomic.Pointer[reading]]
	mu     sync.Mutex // serializes the making of chunks
}

// get returns the connection on socket fd, nil if none.
func (t *fdTable) get(fd int32) *reading {
	if fd < 0 || fd >= maxLoopFD {
		return nil
	}
	chunk := t.chunks[fd>>fdChunkBits].Load()
	if chunk == nil {
		return nil
	}
	return chunk[fd&(fdChunkSize-1)].Load()
}

// set records r as the connection on socket fd.
func (t *fdTable) set(fd int, r *reading) {
	i := fd >> fdChunkBits
	chunk := t.chunks[i].Load()
	if chunk == nil {
		t.mu.Lock()
		if chunk = t.chunks[i].Load(); chunk == nil {
			chunk = new([fdChunkSize]atomic.Pointer[reading])
			t.chunks[i].Store(chunk)
		}
		t.mu.Unlock()
	}
	chunk[fd&(fdChunkSize-1)].Store(r)
}

// clear forgets r as the connection on socket fd.
func (t *fdTable) clear(fd int, r *reading) {
	if chunk := t.chunks[fd>>fdChunkBits].Load(); chunk != nil {
		chunk[fd&(fdChunkSize-1)].CompareAndSwap(r, nil)
	}
}

// pick returns the loop for a new connection, starting it if it is
// stopped, with the connection counted.
func (e *Engine) pick() (*poller, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pollers == nil {
		e.pollers = make([]*poller, runtime.GOMAXPROCS(0))
	}
	i := e.next % uint32(len(e.pollers))
	e.next++
	p := e.pollers[i]
	if p == nil {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, err
		}
		p = &poller{e: e, epfd: epfd, buf: make([]byte, LoopBufferSize)}
		e.pollers[i] = p
		go p.loop()
	}
	p.conns.Add(1)
	return p, nil
}

// stop stops p if it serves no connection, and reports whether it did.
func (e *Engine) stop(p *poller) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.conns.Load() > 0 {
		return false
	}
	for i, q := range e.pollers {
		if q == p {
			e.pollers[i] = nil
		}
	}
	syscall.Close(p.epfd)
	return true
}

// onLoop moves c onto an event loop, which reads it from now on and feeds
// its handler, polling for up to spin after serving it. It reports false
// when it cannot (TLS, no descriptor, epoll failing): Serve then has a
// goroutine read c.
func (e *Engine) onLoop(c Conn, spin time.Duration) bool {
	r := c.state()
	fd := c.FD()
	if fd < 0 || fd >= maxLoopFD {
		return false
	}
	p, err := e.pick()
	if err != nil {
		return false
	}
	r.mu.Lock()
	if r.fd != int32(fd) {
		r.fd = int32(fd) // a stream's; a raw socket's is set, and read unlocked
	}
	r.spin = int32(min(spin/time.Microsecond, math.MaxInt32))
	r.loop.Store(int32(p.epfd) + 1) // from now on Shutdown keeps the descriptor open for the loop
	e.table.set(fd, r)
	events := uint32(syscall.EPOLLIN | syscall.EPOLLRDHUP)
	if r.paused() {
		events = 0
	}
	err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
	r.mu.Unlock()
	if err != nil {
		p.drop(r)
		return false
	}
	return true
}

// drop removes r from the loop. Only the loop's own goroutine or a Serve
// that failed calls it, so the socket is still open.
func (p *poller) drop(r *reading) {
	fd := int(r.fd)
	p.e.table.clear(fd, r)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	r.loop.Store(0)
	p.conns.Add(-1)
}

// loopReading turns the reading of socket fd by the loop of epoll
// descriptor epfd on or off. The socket's reading.mu is held.
func loopReading(epfd, fd int, on bool) {
	events := uint32(0)
	if on {
		events = syscall.EPOLLIN | syscall.EPOLLRDHUP
	}
	syscall.EpollCtl(epfd, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
}

// loop waits for readable sockets and serves them, until it serves none.
func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 128)
	var spin time.Duration // the longest spin of the connections just served
	for {
		n, err := p.wait(events, spin)
		if err != nil {
			return
		}
		if n == 0 && p.e.stop(p) {
			return
		}
		spin = 0
		for i := 0; i < n; i++ {
			if r := p.e.table.get(events[i].Fd); r != nil && r.loop.Load() == int32(p.epfd)+1 {
				p.serve(r)
				spin = max(spin, time.Duration(r.spin)*time.Microsecond)
			}
		}
		// Yield after each batch. A goroutine that never does looks to the
		// runtime's monitor (sysmon) like one running for over 10 ms: it
		// preempts it, takes its P during the system call it is in, and
		// keeps polling every 20 µs, taking the P (and waking a thread)
		// during every long read or write after that.
		runtime.Gosched()
	}
}

// wait fills events with ready sockets, returning how many (0 after
// idleWait without any). After a batch it first polls for up to spin
// without sleeping: a client's next message (or the next piece of a large
// one) often comes within microseconds, and catching it awake spares the
// wake-up, which costs more than the polls on both sides of the
// connection. The loop holds its P (a core) meanwhile.
func (p *poller) wait(events []syscall.EpollEvent, spin time.Duration) (int, error) {
	if spin > 0 && p.spin.start() {
		var n int
		var err error
		if p.e.spinners.Add(1) <= int32(max(1, runtime.GOMAXPROCS(0)/2)) {
			n, err = p.poll(events, spin)
		}
		p.e.spinners.Add(-1)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return epollWait(p.epfd, events, int(idleWait/time.Millisecond))
}

// poll polls for ready sockets for up to spin, letting other goroutines run
// between polls, and records in p.spin whether it found any.
func (p *poller) poll(events []syscall.EpollEvent, spin time.Duration) (int, error) {
	start := time.Now()
	for {
		n, err := epollWait(p.epfd, events, 0)
		if n > 0 || err != nil {
			p.spin.end(true)
			return n, err
		}
		if time.Since(start) >= spin {
			p.spin.end(false)
			return 0, nil
		}
		runtime.Gosched()
	}
}

// epollWait is epoll_wait, retried when a signal interrupts it.
func epollWait(epfd int, events []syscall.EpollEvent, msec int) (int, error) {
	for {
		n, err := syscall.EpollWait(epfd, events, msec)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// spinBackoff makes a loop whose polls keep finding nothing (traffic too
// sparse to catch) poll less: after k misses in a row it skips the next
// 2^k-1 chances to poll, up to 63, and a poll that finds data resets it.
type spinBackoff struct {
	misses uint8 // polls in a row that found nothing
	skip   uint8 // chances to poll left to skip
}

// start reports whether to poll at this chance.
func (b *spinBackoff) start() bool {
	if b.skip > 0 {
		b.skip--
		return false
	}
	return true
}

// end records whether the poll found data.
func (b *spinBackoff) end(found bool) {
	if found {
		b.misses, b.skip = 0, 0
		return
	}
	if b.misses < 6 {
		b.misses++
	}
	b.skip = 1<<b.misses - 1
}

// maxReadsPerEvent bounds the reads one readiness event gets, so that one
// busy connection cannot starve the others of its loop.
const maxReadsPerEvent = 16

// serve reads from a readable socket and hands what came to its handler,
// reading again while reads fill the buffer. When the reading ends the
// connection leaves the loop, and a goroutine runs Ended.
func (p *poller) serve(r *reading) {
	h := r.h
	fd := int(r.fd)
	for i := 0; i < maxReadsPerEvent; i++ {
		buf, _ := h.ReadTarget()
		if buf == nil {
			buf = p.buf
		}
		n, err := syscall.Read(fd, buf)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return
		}
		if n <= 0 {
			if err == nil {
				err = io.EOF
			}
			p.end(r, err)
			return
		}
		if herr := h.Bytes(buf[:n]); herr != nil {
			p.end(r, herr)
			return
		}
		if n < len(buf) || r.paused() {
			return
		}
	}
}

// end takes r off the loop, whose reading of it ended with err, and ends
// it on a goroutine.
func (p *poller) end(r *reading, err error) {
	p.drop(r)
	go r.h.Ended(err)
}

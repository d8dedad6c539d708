package wsserver

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The event loop transport (the EventLoop setting) serves open plaintext
// connections from a few epoll loops instead of one goroutine each, so an
// idle connection holds no goroutine and no buffer. The opening handshake
// is read on the loop too, unless a ConnectionRequest handler, a host-name
// client filter or DispatchQueued needs a goroutine for it; TLS connections
// keep their goroutine.
//
// Handlers then run on a loop's goroutine, shared with the other connections
// of that loop: a handler that blocks (a send with Timeout > 0 to a slow
// client, a Ping waiting for its pong, a long computation) stalls them all.
// Use Timeout 0 and hand long work to a goroutine of your own.

// pollBufferSize is the size of a loop's read buffer: room for a 64 KiB
// message with its header, and for several smaller ones, in one read.
const pollBufferSize = 256 << 10

// poller is one epoll loop.
type poller struct {
	epfd int
	// Used by the loop only.
	buf  []byte // the read buffer
	spin spinBackoff
}

// The connections on event loops, by socket: a table the loops read without
// a lock, in chunks made as descriptors reach them. Descriptors are unique
// in the process, so one table serves every loop; a loop serves only the
// connections it holds (a stale event may name a descriptor since reused).
const (
	fdChunkBits = 10
	fdChunkSize = 1 << fdChunkBits
	maxLoopFD   = 1 << 20 // Linux's default limit of open files (nr_open)
)

var (
	loopConns   [maxLoopFD / fdChunkSize]atomic.Pointer[[fdChunkSize]atomic.Pointer[Connection]]
	loopConnsMu sync.Mutex // serializes the making of chunks
)

// loopConn returns the connection on socket fd, nil if none.
func loopConn(fd int32) *Connection {
	if fd < 0 || fd >= maxLoopFD {
		return nil
	}
	chunk := loopConns[fd>>fdChunkBits].Load()
	if chunk == nil {
		return nil
	}
	return chunk[fd&(fdChunkSize-1)].Load()
}

// setLoopConn records c as the connection on socket fd.
func setLoopConn(c *Connection, fd int) {
	i := fd >> fdChunkBits
	chunk := loopConns[i].Load()
	if chunk == nil {
		loopConnsMu.Lock()
		if chunk = loopConns[i].Load(); chunk == nil {
			chunk = new([fdChunkSize]atomic.Pointer[Connection])
			loopConns[i].Store(chunk)
		}
		loopConnsMu.Unlock()
	}
	chunk[fd&(fdChunkSize-1)].Store(c)
}

// clearLoopConn forgets c as the connection on socket fd.
func clearLoopConn(c *Connection, fd int) {
	if chunk := loopConns[fd>>fdChunkBits].Load(); chunk != nil {
		chunk[fd&(fdChunkSize-1)].CompareAndSwap(c, nil)
	}
}

var (
	pollersOnce sync.Once
	pollers     []*poller
	pollersErr  error
	nextPoller  uint32
	pollersMu   sync.Mutex
)

// startPollers starts one loop per CPU, once per process. The loops live as
// long as the process, idle in epoll_wait when no connection uses them.
func startPollers() error {
	pollersOnce.Do(func() {
		maxSpinners = int32(max(1, runtime.GOMAXPROCS(0)/2))
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
			if err != nil {
				pollersErr = socketError(err, ErrSend)
				return
			}
			p := &poller{epfd: epfd, buf: make([]byte, pollBufferSize)}
			pollers = append(pollers, p)
			go p.loop()
		}
	})
	return pollersErr
}

// handOff moves an open connection onto an event loop. It reports false when
// it cannot, and the caller keeps serving the connection on its goroutine.
func handOff(c *Connection) bool {
	if startPollers() != nil || len(pollers) == 0 {
		return false
	}
	fd := c.sock.loopFD()
	if fd < 0 || fd >= maxLoopFD {
		return false
	}
	pollersMu.Lock()
	p := pollers[nextPoller%uint32(len(pollers))]
	nextPoller++
	pollersMu.Unlock()

	ss, _ := c.sock.(*streamSock)
	if ss != nil {
		ss.looped(fd) // from now on shutdown keeps the descriptor open for the loop
	}
	c.poll.Store(p)
	setLoopConn(c, fd)
	c.mu.Lock()
	events := uint32(syscall.EPOLLIN | syscall.EPOLLRDHUP)
	if !c.acceptData {
		events = 0
	}
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
	c.mu.Unlock()
	if err != nil {
		p.drop(c)
		if ss != nil {
			ss.looped(-1)
		}
		return false
	}
	return true
}

// drop removes c from the loop. Only the loop's own goroutine or a handOff
// that failed calls it, so c's socket is still open.
func (p *poller) drop(c *Connection) {
	fd := c.sock.loopFD()
	clearLoopConn(c, fd)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	c.poll.Store(nil)
}

// setReading turns reading of c on or off (AcceptData). c.mu is held.
func (p *poller) setReading(c *Connection, on bool) {
	events := uint32(0)
	if on {
		events = syscall.EPOLLIN | syscall.EPOLLRDHUP
	}
	fd := c.sock.loopFD()
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
}

// loop waits for readable sockets and serves them.
func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 128)
	var spin time.Duration // the longest EventLoopSpin of the connections just served
	for {
		n, err := p.wait(events, spin)
		if err != nil {
			return
		}
		spin = 0
		for i := 0; i < n; i++ {
			if c := loopConn(events[i].Fd); c != nil && c.poll.Load() == p {
				p.serve(c)
				spin = max(spin, c.opts.spin)
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

// wait fills events with ready sockets, returning how many. After a batch
// it first polls for up to spin without sleeping: a client's next message
// (or the next piece of a large one) often comes within microseconds, and
// catching it awake spares the wake-up, which costs more than the polls on
// both sides of the connection. The loop holds its P (a core) meanwhile.
func (p *poller) wait(events []syscall.EpollEvent, spin time.Duration) (int, error) {
	if spin > 0 && p.spin.start() {
		var n int
		var err error
		if spinners.Add(1) <= maxSpinners {
			n, err = p.poll(events, spin)
		}
		spinners.Add(-1)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return epollWait(p.epfd, events, -1)
}

// Polling loops hold their P: at most half of them (one at least) poll at a
// time, so that the rest of the program, and the runtime's own network
// poller, keep Ps to run on.
var (
	spinners    atomic.Int32 // loops polling now
	maxSpinners int32        // set by startPollers
)

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

// serve reads from a readable socket and hands what came to the
// connection's byte handler, reading again while reads fill the buffer.
// When the reading ends the connection leaves the loop, and a goroutine
// ends it (connHandler.ended).
func (p *poller) serve(c *Connection) {
	h := (*connHandler)(c)
	fd := c.sock.loopFD()
	for i := 0; i < maxReadsPerEvent; i++ {
		buf, _ := h.readTarget()
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
			p.end(c, err)
			return
		}
		if herr := h.bytes(buf[:n]); herr != nil && herr != errOpened {
			p.end(c, herr)
			return
		}
		if n < len(buf) || !c.loopReads() {
			return
		}
	}
}

// end takes c off the loop, whose reading of it ended with err, and ends
// it on a goroutine.
func (p *poller) end(c *Connection, err error) {
	p.drop(c)
	go (*connHandler)(c).ended(err)
}

// flushOnce writes the queue with one non-blocking write, for a loop that
// must not wait on one client; what does not fit goes to a flusher goroutine.
// The caller set c.flushing.
func (c *Connection) flushOnce() {
	c.mu.Lock()
	buf := c.out
	c.mu.Unlock()
	n, err := c.sock.tryWrite(buf)
	c.mu.Lock()
	c.wrote(n)
	if len(c.out) > 0 && err == nil {
		// The socket is full: a goroutine waits for it, the loop goes on.
		c.mu.Unlock()
		go c.flushLoop(0)
		return
	}
	if err != nil {
		c.writeErr = err
		c.flushing = false
		c.notifyLocked()
		c.mu.Unlock()
		c.closeSocket()
		return
	}
	c.mu.Unlock()
	// All written: flushLoop finds the queue empty and does the bookkeeping.
	c.flushLoop(0)
}
